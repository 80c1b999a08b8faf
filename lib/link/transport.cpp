#include "transport.hpp"

#include <boost/asio/write.hpp>

#include <vector>

namespace tether::detail {
namespace {

using tcp = asio::ip::tcp;

// Plain TCP. Reads and writes are tried at once, non-blocking: a batch that the kernel can take
// or give right away costs one system call and no trip through the event loop.
class tcp_transport final : public transport {
public:
    explicit tcp_transport(beast::tcp_stream stream) : stream_(std::move(stream))
    {
        error_code ignored;  // a socket that failed meanwhile fails its first read instead
        stream_.socket().non_blocking(true, ignored);
    }

    asio::awaitable<io_result> read_some(asio::mutable_buffer into, bool likely_ready) override
    {
        if (likely_ready) {
            error_code ec;
            const std::size_t n = stream_.socket().read_some(into, ec);
            if (ec != asio::error::would_block) co_return io_result{ec, n};
        }
        auto [aec, an] = co_await stream_.async_read_some(into, use_tuple);
        co_return io_result{aec, an};
    }

    asio::awaitable<error_code> write(std::span<const asio::const_buffer> buffers) override
    {
        // Usually the kernel takes the whole batch at once: one sendmsg (a gather write).
        error_code ec;
        std::size_t n = stream_.socket().write_some(buffers, ec);
        if (ec && ec != asio::error::would_block) co_return ec;
        if (n == asio::buffer_size(buffers)) co_return error_code{};
        // Else the rest, as the kernel makes room.
        std::vector<asio::const_buffer> rest;
        for (const auto& b : buffers) {
            if (n >= b.size()) {
                n -= b.size();
                continue;
            }
            rest.push_back(b + n);
            n = 0;
        }
        auto [wec, written] = co_await asio::async_write(stream_, rest, use_tuple);
        co_return wec;
    }

    std::size_t try_write(std::span<const asio::const_buffer> buffers, error_code& ec) override
    {
        const std::size_t n = stream_.socket().write_some(buffers, ec);
        if (ec == asio::error::would_block) ec = {};
        return n;
    }

    // A FIN, then what the server still sends, discarded, until it closes too (RFC 6455 7.1.1: the
    // server closes the TCP connection first); the stream's deadline bounds the wait.
    asio::awaitable<error_code> shutdown() override
    {
        error_code ec;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (ec) co_return ec;
        char discard[512];
        for (;;) {
            auto [rec, n] = co_await stream_.async_read_some(asio::buffer(discard), use_tuple);
            if (rec == asio::error::eof) co_return error_code{};
            if (rec) co_return rec;
        }
    }

    beast::tcp_stream& tcp() noexcept override { return stream_; }

private:
    beast::tcp_stream stream_;
};

// TLS over TCP. Beast's ssl_stream flattens a gather write into one buffer, so that a batch of
// frames becomes a few large TLS records rather than one record per frame.
class tls_transport final : public transport {
public:
    explicit tls_transport(std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream) : stream_(std::move(stream)) {}

    asio::awaitable<io_result> read_some(asio::mutable_buffer into, bool) override
    {
        auto [ec, n] = co_await stream_->async_read_some(into, use_tuple);
        co_return io_result{ec, n};
    }

    asio::awaitable<error_code> write(std::span<const asio::const_buffer> buffers) override
    {
        auto [ec, n] = co_await asio::async_write(*stream_, buffers, use_tuple);
        co_return ec;
    }

    std::size_t try_write(std::span<const asio::const_buffer>, error_code& ec) override
    {
        ec = {};
        return 0;
    }

    asio::awaitable<error_code> shutdown() override
    {
        auto [ec] = co_await stream_->async_shutdown(use_tuple);
        co_return ec;
    }

    beast::tcp_stream& tcp() noexcept override { return stream_->next_layer(); }

private:
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
};

}  // namespace

void transport::close(bool reset) noexcept
{
    error_code ignored;  // a socket that is not open has nothing to reset or close
    if (reset) tcp().socket().set_option(asio::socket_base::linger(true, 0), ignored);
    tcp().socket().close(ignored);
}

std::unique_ptr<transport> make_tcp_transport(beast::tcp_stream stream)
{
    return std::make_unique<tcp_transport>(std::move(stream));
}

std::unique_ptr<transport> make_tls_transport(std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream)
{
    return std::make_unique<tls_transport>(std::move(stream));
}

}  // namespace tether::detail
