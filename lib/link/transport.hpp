// Internal: the byte stream under one link, plain TCP or TLS over TCP, behind one small interface.
// The reader and the writer call it once per batch, so one virtual call and one coroutine frame
// per call cost nothing per message, and neither task is a template.
#ifndef TETHER_LIB_LINK_TRANSPORT_HPP
#define TETHER_LIB_LINK_TRANSPORT_HPP

#include "../internal.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <span>
#include <utility>

namespace tether::detail {

namespace beast = boost::beast;

struct io_result {
    error_code ec;
    std::size_t bytes = 0;
};

class transport {
public:
    virtual ~transport() = default;

    /// Reads some bytes: at once when there are some (no wait, no post), else when they come.
    /// `likely_ready` says whether to try a plain non-blocking read first (more bytes probably
    /// wait) or go straight to the event loop (the socket was just drained).
    virtual asio::awaitable<io_result> read_some(asio::mutable_buffer into, bool likely_ready) = 0;

    /// Writes every byte of `buffers`: at once when the kernel takes them all, else waiting for it.
    virtual asio::awaitable<error_code> write(std::span<const asio::const_buffer> buffers) = 0;

    /// Writes what the kernel takes now, without waiting; how many bytes (0 with would_block, or
    /// on a stream that cannot, like TLS, whose writes go through `write`).
    virtual std::size_t try_write(std::span<const asio::const_buffer> buffers, error_code& ec) = 0;

    /// After the close handshake: says goodbye below WebSocket (TLS close_notify, or a TCP FIN),
    /// under the TCP stream's deadline.
    virtual asio::awaitable<error_code> shutdown() = 0;

    /// The TCP layer: its deadline, close, and reset.
    virtual beast::tcp_stream& tcp() noexcept = 0;

    /// Closes the socket at once; with `reset`, as an RST (SO_LINGER 0), so that no unsent byte
    /// is delivered later: a link given up without a closing handshake is reset, because after a
    /// FIN the kernel would go on sending its unsent tail to the old server connection, possibly
    /// after the next connection has delivered newer messages.
    void close(bool reset) noexcept;
};

/// A plain `ws://` stream.
std::unique_ptr<transport> make_tcp_transport(beast::tcp_stream stream);

/// A `wss://` stream, its TLS handshake done.
std::unique_ptr<transport> make_tls_transport(std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream);

}  // namespace tether::detail

#endif
