#include "raw_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/read.hpp>

#include <openssl/evp.h>

#include <algorithm>

namespace tether::conformance {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// GCC 12 miscompiles `co_await` inside an `if` or `while` condition: results go to locals first.

std::string sec_websocket_accept(std::string_view key)
{
    const std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
    unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

raw_connection::raw_connection(beast::tcp_stream stream) : stream_(std::move(stream))
{
    error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
}

asio::awaitable<bool> raw_connection::async_read_request(clock_type::time_point deadline)
{
    http::request_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    stream_.expires_at(deadline);
    auto [ec, n] = co_await http::async_read(stream_, http_buffer_, parser, use_tuple);
    stream_.expires_never();
    if (ec) co_return false;
    const auto& req = parser.get();
    target_ = std::string(req.target());
    key_ = std::string(req[http::field::sec_websocket_key]);
    for (auto [it, end] = req.equal_range(http::field::sec_websocket_extensions); it != end; ++it) {
        if (!extensions_.empty()) extensions_ += ", ";
        extensions_.append(it->value().data(), it->value().size());
    }
    const auto rest = http_buffer_.cdata();
    buffer_.assign(static_cast<const char*>(rest.data()), rest.size());
    http_buffer_.consume(http_buffer_.size());
    co_return true;
}

std::string raw_connection::accept_response(std::string_view extensions) const
{
    std::string res = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: " +
                      sec_websocket_accept(key_) + "\r\n";
    if (!extensions.empty()) res.append("Sec-WebSocket-Extensions: ").append(extensions).append("\r\n");
    return res + "\r\n";
}

asio::awaitable<error_code> raw_connection::async_write(std::string_view bytes, std::size_t chop)
{
    if (chop == 0 || bytes.size() <= chop) {
        auto [ec, n] = co_await asio::async_write(stream_.socket(), asio::buffer(bytes), use_tuple);
        co_return ec;
    }
    asio::steady_timer gap(co_await asio::this_coro::executor);
    for (std::size_t at = 0; at < bytes.size(); at += chop) {
        if (at > 0) {  // a pause, not a synchronisation: it keeps the pieces in separate segments
            gap.expires_after(std::chrono::milliseconds(1));
            co_await gap.async_wait(use_tuple);
        }
        auto [ec, n] = co_await asio::async_write(stream_.socket(), asio::buffer(bytes.substr(at, chop)), use_tuple);
        if (ec) co_return ec;
    }
    co_return error_code{};
}

asio::awaitable<std::optional<client_frame>> raw_connection::async_read_frame(clock_type::time_point deadline)
{
    for (;;) {
        bool too_big = false;
        auto frame = take_frame(buffer_, too_big);
        if (frame || too_big) co_return frame;
        if (peer_closed_) co_return std::nullopt;
        char chunk[16 * 1024];
        stream_.expires_at(deadline);
        auto [ec, n] = co_await stream_.async_read_some(asio::buffer(chunk), use_tuple);
        stream_.expires_never();
        buffer_.append(chunk, n);
        if (ec == beast::error::timeout) co_return std::nullopt;
        if (ec) peer_closed_ = true;  // EOF or reset: what was read before still counts
    }
}

asio::awaitable<void> raw_connection::async_finish(clock_type::time_point deadline, std::vector<client_frame>& late)
{
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    while (!peer_closed_) {
        auto frame = co_await async_read_frame(deadline);
        if (!frame) break;
        late.push_back(std::move(*frame));
    }
    close();
}

void raw_connection::close() noexcept
{
    error_code ignored;
    stream_.socket().close(ignored);
}

raw_server::raw_server(asio::any_io_executor ex, std::uint16_t port)
    : acceptor_(ex, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port)),
      port_(acceptor_.local_endpoint().port())
{
}

std::string raw_server::url(std::string_view target) const
{
    return "ws://127.0.0.1:" + std::to_string(port_) + std::string(target);
}

asio::awaitable<std::optional<raw_connection>> raw_server::async_accept(clock_type::time_point deadline)
{
    asio::steady_timer timer(acceptor_.get_executor(), deadline);
    namespace ex = asio::experimental;
    auto [order, accept_ec, socket, timer_ec] =
        co_await ex::make_parallel_group(acceptor_.async_accept(asio::deferred), timer.async_wait(asio::deferred))
            .async_wait(ex::wait_for_one(), asio::use_awaitable);
    if (order[0] != 0 || accept_ec) co_return std::nullopt;
    raw_connection conn(beast::tcp_stream(std::move(socket)));
    const bool ok = co_await conn.async_read_request(deadline);
    if (!ok) co_return std::nullopt;
    co_return conn;
}

}  // namespace tether::conformance
