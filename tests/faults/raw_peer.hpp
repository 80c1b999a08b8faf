// A WebSocket server for the raw-frame rows of the failure matrix: Beast completes the upgrade,
// then the test writes hand-crafted bytes and reads the client's frames itself.
#ifndef TETHER_TESTS_FAULTS_RAW_PEER_HPP
#define TETHER_TESTS_FAULTS_RAW_PEER_HPP

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace tether::test {

namespace raw {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

/// One frame as the client sent it (unmasked).
struct client_frame {
    unsigned opcode = 0;
    bool fin = false;
    std::string payload;
};

/// A server frame header for a payload of `size` bytes; `first` is FIN/RSV/opcode.
inline std::string header(std::uint8_t first, std::uint64_t size, bool masked = false)
{
    std::string h(1, static_cast<char>(first));
    const std::uint8_t mask_bit = masked ? 0x80 : 0;
    if (size < 126) {
        h += static_cast<char>(mask_bit | size);
    } else if (size <= 0xffff) {
        h += static_cast<char>(mask_bit | 126);
        h += static_cast<char>(size >> 8);
        h += static_cast<char>(size & 0xff);
    } else {
        h += static_cast<char>(mask_bit | 127);
        for (int i = 7; i >= 0; --i) h += static_cast<char>((size >> (8 * i)) & 0xff);
    }
    return h;
}

/// A whole unmasked server frame.
inline std::string frame(std::uint8_t first, const std::string& payload)
{
    return header(first, payload.size()) + payload;
}

/// An upgraded connection, now raw bytes.
class connection {
public:
    explicit connection(tcp::socket s) : stream_(std::move(s)) {}

    beast::tcp_stream& stream() noexcept { return stream_; }

    asio::awaitable<boost::system::error_code> async_write(std::string bytes)
    {
        stream_.expires_after(std::chrono::seconds(10));
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes), nothrow);
        (void)n;
        co_return ec;
    }

    /// The next frame from the client, or nothing on EOF, error or after 10 s.
    asio::awaitable<std::optional<client_frame>> async_read_frame()
    {
        std::array<std::uint8_t, 2> head{};
        // (Results go through locals: g++ 12 miscompiles co_await inside a condition.)
        const bool got_head = co_await read_exact(head.data(), 2);
        if (!got_head) co_return std::nullopt;
        client_frame f;
        f.fin = head[0] & 0x80;
        f.opcode = head[0] & 0x0f;
        std::uint64_t size = head[1] & 0x7f;
        if (size >= 126) {
            std::array<std::uint8_t, 8> ext{};
            const std::size_t n = size == 126 ? 2 : 8;
            const bool got_ext = co_await read_exact(ext.data(), n);
            if (!got_ext) co_return std::nullopt;
            size = 0;
            for (std::size_t i = 0; i < n; ++i) size = (size << 8) | ext[i];
        }
        std::array<std::uint8_t, 4> mask{};
        if (head[1] & 0x80) {
            const bool got_mask = co_await read_exact(mask.data(), 4);
            if (!got_mask) co_return std::nullopt;
        }
        if (size > (1u << 24)) co_return std::nullopt;  // not expected from the client
        f.payload.resize(size);
        if (size > 0) {
            const bool got_payload = co_await read_exact(f.payload.data(), size);
            if (!got_payload) co_return std::nullopt;
        }
        for (std::size_t i = 0; i < size; ++i) f.payload[i] = static_cast<char>(f.payload[i] ^ mask[i % 4]);
        co_return f;
    }

    /// Reads frames until the client's close frame; its code (1005 when it carries none), or
    /// nothing if the connection ended first.
    asio::awaitable<std::optional<std::uint16_t>> async_read_close_code()
    {
        for (;;) {
            auto f = co_await async_read_frame();
            if (!f) co_return std::nullopt;
            if (f->opcode != 0x8) continue;
            if (f->payload.size() < 2) co_return std::uint16_t(1005);
            co_return static_cast<std::uint16_t>((std::uint8_t(f->payload[0]) << 8) | std::uint8_t(f->payload[1]));
        }
    }

private:
    template <class T>
    asio::awaitable<bool> read_exact(T* data, std::size_t n)
    {
        stream_.expires_after(std::chrono::seconds(10));
        auto [ec, got] = co_await asio::async_read(stream_, asio::buffer(data, n), nothrow);
        co_return !ec && got == n;
    }

    beast::tcp_stream stream_;
};

/// Listens on 127.0.0.1:0; upgrades every connection with Beast, then hands the first one to
/// `script` and holds later ones open (reading and discarding, answering a close frame) until they end.
class server {
public:
    using script = std::function<asio::awaitable<void>(connection&)>;

    server(asio::any_io_executor ex, script s) : state_(std::make_shared<state>(ex, std::move(s)))
    {
        const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), 0);
        state_->acceptor.open(ep.protocol());
        state_->acceptor.bind(ep);
        state_->acceptor.listen();
        asio::co_spawn(ex, accept_loop(state_), asio::detached);
    }
    ~server()
    {
        boost::system::error_code ignored;
        state_->acceptor.close(ignored);
    }

    std::uint16_t port() const { return state_->acceptor.local_endpoint().port(); }
    std::string url() const { return "ws://127.0.0.1:" + std::to_string(port()) + "/"; }
    int accepted() const { return state_->accepted; }

private:
    struct state {
        state(asio::any_io_executor ex, script s) : acceptor(ex), run(std::move(s)) {}
        tcp::acceptor acceptor;
        script run;
        int accepted = 0;
    };

    static asio::awaitable<void> accept_loop(std::shared_ptr<state> st)
    {
        for (;;) {
            auto [ec, socket] = co_await st->acceptor.async_accept(nothrow);
            if (ec) co_return;
            const int index = st->accepted++;
            asio::co_spawn(st->acceptor.get_executor(), serve(st, std::move(socket), index), asio::detached);
        }
    }

    static asio::awaitable<void> serve(std::shared_ptr<state> st, tcp::socket socket, int index)
    {
        beast::websocket::stream<tcp::socket> ws(std::move(socket));
        auto [ec] = co_await ws.async_accept(nothrow);
        if (ec) co_return;
        connection c(std::move(ws.next_layer()));
        if (index == 0) {
            co_await st->run(c);
            co_return;
        }
        for (;;) {
            auto f = co_await c.async_read_frame();
            if (!f) co_return;
            if (f->opcode == 0x8) {  // answer a close frame, so that the client's close is prompt
                co_await c.async_write(frame(0x88, f->payload.substr(0, 2)));
                co_return;
            }
        }
    }

    std::shared_ptr<state> state_;
};

}  // namespace raw

}  // namespace tether::test

#endif
