// A raw-frame WebSocket server on 127.0.0.1 for conformance tests and fuzzing: it reads the
// client's upgrade request with Beast's HTTP parser, but after that it writes bytes, not messages,
// so that a test can put anything on the wire, and it reads the client's frames back as they were
// written (masked, with their header bits) to check what the client sent.
#ifndef TETHER_TESTS_CONFORMANCE_RAW_SERVER_HPP
#define TETHER_TESTS_CONFORMANCE_RAW_SERVER_HPP

#include "frames.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::conformance {

using boost::system::error_code;
using clock_type = std::chrono::steady_clock;

/// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 section 4.2.2).
std::string sec_websocket_accept(std::string_view key);

/// One accepted TCP connection whose upgrade request has been read.
class raw_connection {
public:
    explicit raw_connection(boost::beast::tcp_stream stream);

    const std::string& target() const noexcept { return target_; }
    const std::string& key() const noexcept { return key_; }
    /// The request's Sec-WebSocket-Extensions (every such field, joined by ", "); empty when the
    /// client offered none.
    const std::string& extensions() const noexcept { return extensions_; }
    /// True once the client closed its side of the TCP connection (EOF or reset was read).
    bool peer_closed() const noexcept { return peer_closed_; }

    /// Reads the upgrade request (its target and key); false if none came before `deadline`.
    boost::asio::awaitable<bool> async_read_request(clock_type::time_point deadline);
    /// Writes `bytes`; with `chop` > 0, in pieces of `chop` bytes with a millisecond between
    /// them, so that the client sees them in separate TCP segments.
    boost::asio::awaitable<error_code> async_write(std::string_view bytes, std::size_t chop = 0);
    /// The 101 response, with the right Sec-WebSocket-Accept, and `extensions` (an extension
    /// negotiation answer, e.g. "permessage-deflate; server_no_context_takeover") when not empty.
    std::string accept_response(std::string_view extensions = {}) const;
    /// Reads the client's next frame; nothing at EOF, on an error, or when `deadline` passes.
    boost::asio::awaitable<std::optional<client_frame>> async_read_frame(clock_type::time_point deadline);
    /// Ends the server's side: FIN, then reads (keeping frames in `late`) until the client closes
    /// too or `deadline` passes, then closes the socket.
    boost::asio::awaitable<void> async_finish(clock_type::time_point deadline, std::vector<client_frame>& late);
    /// Closes the socket at once.
    void close() noexcept;

private:
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer http_buffer_;
    std::string buffer_;  // bytes read after the upgrade request, not yet taken as frames
    std::string target_;
    std::string key_;
    std::string extensions_;
    bool peer_closed_ = false;
};

/// A listener on 127.0.0.1 (an ephemeral port unless given one).
class raw_server {
public:
    explicit raw_server(boost::asio::any_io_executor ex, std::uint16_t port = 0);

    std::uint16_t port() const noexcept { return port_; }
    /// `ws://127.0.0.1:<port><target>`
    std::string url(std::string_view target) const;

    /// Accepts the next TCP connection and reads its upgrade request; nothing when no client
    /// connected and sent a request before `deadline`.
    boost::asio::awaitable<std::optional<raw_connection>> async_accept(clock_type::time_point deadline);

private:
    boost::asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
};

}  // namespace tether::conformance

#endif
