// The baseline: a raw Beast client written the way Beast's coroutine examples are, one
// websocket::stream<tcp_stream>, one co_await per message read or written, error codes by as_tuple,
// on a single-threaded io_context. It does the same JSON work per message as tether does.
#include "bench.hpp"
#include "frames.hpp"
#include "runner.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>

#include <deque>

namespace bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ws_stream = websocket::stream<beast::tcp_stream>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Resolve, TCP connect and upgrade, as tether does; the error, or empty.
asio::awaitable<std::string> open(ws_stream& ws, const case_params& p, const std::string& target)
{
    tcp::resolver resolver(co_await asio::this_coro::executor);
    const std::string port = std::to_string(p.gen->port);
    auto [rec, endpoints] = co_await resolver.async_resolve("127.0.0.1", port, use_tuple);
    if (rec) co_return "resolve: " + rec.message();
    auto [cec, ep] = co_await beast::get_lowest_layer(ws).async_connect(endpoints, use_tuple);
    if (cec) co_return "connect: " + cec.message();
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true), ignored);
    auto [hec] = co_await ws.async_handshake("127.0.0.1:" + port, target, use_tuple);
    if (hec) co_return "handshake: " + hec.message();
    co_return std::string();
}

std::string_view text_of(const beast::flat_buffer& b)
{
    const auto d = b.cdata();
    return {static_cast<const char*>(d.data()), d.size()};
}

// Runs one coroutine case on its own io_context, bounded in time; on a strand if asked, as a
// client that may be used from several threads must be (tether runs on one).
result run_case(double limit_seconds, const std::function<asio::awaitable<void>(result&)>& body, bool on_strand = false)
{
    asio::io_context ioc(1);
    result r;
    bool finished = false;
    const asio::any_io_executor ex = on_strand ? asio::any_io_executor(asio::make_strand(ioc)) : ioc.get_executor();
    asio::co_spawn(ex, body(r), [&](std::exception_ptr e) {
        finished = true;
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            r.error = x.what();
        }
    });
    if (!run_until(
            ioc, [&] { return finished; }, std::chrono::milliseconds(static_cast<long>(limit_seconds * 1000))))
        r.error = "timed out";
    return r;
}

double limit_for(const case_params& p)
{
    return p.seconds + 30;
}

}  // namespace

result beast_receive(const case_params& p, bool on_strand)
{
    return run_case(
        limit_for(p),
        [&](result& r) -> asio::awaitable<void> {
            ws_stream ws(co_await asio::this_coro::executor);
            const std::string failed = co_await open(ws, p, "/recv?size=" + std::to_string(p.size));
            if (!failed.empty()) {
                r.error = failed;
                co_return;
            }
            beast::flat_buffer buffer;
            boost::json::parser parser;
            window w{.seconds = p.seconds};
            std::uint64_t malformed = 0;
            for (;;) {
                auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
                if (ec) {
                    r.error = "read: " + ec.message();
                    co_return;
                }
                if (!parse_message(parser, text_of(buffer))) ++malformed;
                buffer.consume(n);
                if (w.count()) break;
            }
            r.messages = w.messages;
            r.seconds = w.elapsed;
            r.cpu_seconds = w.cpu_seconds;
            if (malformed) r.error = std::to_string(malformed) + " messages failed the JSON check";
            co_await ws.async_close(websocket::close_code::normal, use_tuple);
        },
        on_strand);
}

result beast_receive_binary(const case_params& p)
{
    return run_case(limit_for(p), [&](result& r) -> asio::awaitable<void> {
        ws_stream ws(co_await asio::this_coro::executor);
        const std::string failed = co_await open(ws, p, "/recv?kind=binary&size=" + std::to_string(p.size));
        if (!failed.empty()) {
            r.error = failed;
            co_return;
        }
        beast::flat_buffer buffer;
        window w{.seconds = p.seconds};
        binary_check check{.size = p.size};
        for (;;) {
            auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
            if (ec) {
                r.error = "read: " + ec.message();
                co_return;
            }
            check.touch(ws.got_binary(), buffer.cdata().data(), n);
            buffer.consume(n);
            if (w.count()) break;
        }
        r.messages = w.messages;
        r.seconds = w.elapsed;
        r.cpu_seconds = w.cpu_seconds;
        r.error = check.error();
        co_await ws.async_close(websocket::close_code::normal, use_tuple);
    });
}

namespace {

result send_case(const case_params& p, bool on_strand, bool binary)
{
    return run_case(
        limit_for(p),
        [&](result& r) -> asio::awaitable<void> {
            ws_stream ws(co_await asio::this_coro::executor);
            const std::string failed = co_await open(ws, p, "/sink");
            if (!failed.empty()) {
                r.error = failed;
                co_return;
            }
            const auto messages = binary ? binary_messages(p.size) : session_messages(p.size);
            ws.binary(binary);
            const auto t0 = clock_type::now();
            const double cpu0 = thread_cpu_seconds();
            std::uint64_t sent = 0;
            for (;;) {
                std::string m = messages[sent % messages.size()];  // a fresh string, as an application's is
                auto [ec, n] = co_await ws.async_write(asio::buffer(m), use_tuple);
                if (ec) {
                    r.error = "write: " + ec.message();
                    co_return;
                }
                ++sent;
                if ((sent & 15) == 0 && seconds_between(t0, clock_type::now()) >= p.seconds) break;
            }
            ws.text(true);  // the end marker is a short text frame
            auto [mec, mn] = co_await ws.async_write(asio::buffer(sink_marker), use_tuple);
            beast::flat_buffer buffer;
            auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
            if (mec || ec) {
                r.error = "the sink's answer: " + (mec ? mec : ec).message();
                co_return;
            }
            r.seconds = seconds_between(t0, clock_type::now());
            r.cpu_seconds = thread_cpu_seconds() - cpu0;
            r.messages = boost::json::parse(text_of(buffer)).at("count").to_number<std::uint64_t>();
            if (r.messages != sent)
                r.error = "the sink counted " + std::to_string(r.messages) + " of " + std::to_string(sent);
            co_await ws.async_close(websocket::close_code::normal, use_tuple);
        },
        on_strand);
}

}  // namespace

result beast_send(const case_params& p, bool on_strand)
{
    return send_case(p, on_strand, false);
}

result beast_send_binary(const case_params& p)
{
    return send_case(p, false, true);
}

result beast_echo(const case_params& p)
{
    return run_case(limit_for(p), [&](result& r) -> asio::awaitable<void> {
        ws_stream ws(co_await asio::this_coro::executor);
        const std::string failed = co_await open(ws, p, "/echo");
        if (!failed.empty()) {
            r.error = failed;
            co_return;
        }
        const std::string message = session_messages(p.size)[1];
        const std::size_t warmup = std::min<std::size_t>(500, p.samples / 10);
        const std::size_t total = p.samples + warmup;
        std::deque<clock_type::time_point> sent_at;
        beast::flat_buffer buffer;
        boost::json::parser parser;
        ws.text(true);
        std::size_t issued = 0, received = 0;
        clock_type::time_point t0;
        double cpu0 = 0;
        auto send_one = [&]() -> asio::awaitable<boost::system::error_code> {
            std::string m = message;
            sent_at.push_back(clock_type::now());
            ++issued;
            auto [ec, n] = co_await ws.async_write(asio::buffer(m), use_tuple);
            co_return ec;
        };
        for (unsigned i = 0; i < p.in_flight; ++i) {
            const auto ec = co_await send_one();
            if (ec) {
                r.error = "write: " + ec.message();
                co_return;
            }
        }
        r.latencies_us.reserve(p.samples);
        while (received < total) {
            auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
            if (ec) {
                r.error = "read: " + ec.message();
                co_return;
            }
            const auto now = clock_type::now();
            if (!parse_message(parser, text_of(buffer))) r.error = "an echo failed the JSON check";
            buffer.consume(n);
            const auto rtt = now - sent_at.front();
            sent_at.pop_front();
            if (++received == warmup) {
                t0 = now;
                cpu0 = thread_cpu_seconds();
            } else if (received > warmup) {
                r.latencies_us.push_back(std::chrono::duration<double, std::micro>(rtt).count());
            }
            if (issued < total) {
                const auto wec = co_await send_one();
                if (wec) {
                    r.error = "write: " + wec.message();
                    co_return;
                }
            }
        }
        r.messages = received - warmup;
        r.seconds = seconds_between(t0, clock_type::now());
        r.cpu_seconds = thread_cpu_seconds() - cpu0;
        co_await ws.async_close(websocket::close_code::normal, use_tuple);
    });
}

result beast_connect(const case_params& p)
{
    return run_case(limit_for(p), [&](result& r) -> asio::awaitable<void> {
        for (unsigned i = 0; i < p.repeats; ++i) {
            ws_stream ws(co_await asio::this_coro::executor);
            const auto t0 = clock_type::now();
            const std::string failed = co_await open(ws, p, "/idle");
            if (!failed.empty()) {
                r.error = failed;
                co_return;
            }
            r.latencies_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
            co_await ws.async_close(websocket::close_code::normal, use_tuple);
        }
        r.messages = p.repeats;
    });
}

result frames_receive(const case_params& p)
{
    // Not a product: a ceiling. The upgrade by hand, then large reads and every complete frame in
    // them parsed in a loop, with no asynchronous operation per message. Text frames only (the
    // generator never fragments); the JSON parser validates UTF-8 as Beast does.
    return run_case(limit_for(p), [&](result& r) -> asio::awaitable<void> {
        tcp::socket sock(co_await asio::this_coro::executor);
        const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), p.gen->port);
        auto [cec] = co_await sock.async_connect(ep, use_tuple);
        if (cec) {
            r.error = "connect: " + cec.message();
            co_return;
        }
        const std::string request = "GET /recv?size=" + std::to_string(p.size) +
                                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(request), use_tuple);
        std::string head;
        auto [hec, hn] = co_await asio::async_read_until(sock, asio::dynamic_buffer(head), "\r\n\r\n", use_tuple);
        if (wec || hec || !head.starts_with("HTTP/1.1 101")) {
            r.error = "upgrade failed";
            co_return;
        }
        std::vector<unsigned char> buf(std::max<std::size_t>(256 * 1024, 2 * (p.size + 16)));
        std::size_t begin = 0, end = head.size() - hn;
        std::memcpy(buf.data(), head.data() + hn, end);
        boost::json::parser parser;
        window w{.seconds = p.seconds};
        std::uint64_t malformed = 0;
        frame f;
        while (!w.done) {
            if (begin == end) begin = end = 0;
            if (buf.size() - end < 64 * 1024 || buf.size() - end < p.size + 16) {
                std::memmove(buf.data(), buf.data() + begin, end - begin);
                end -= begin;
                begin = 0;
            }
            auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf.data() + end, buf.size() - end), use_tuple);
            if (ec) {
                r.error = "read: " + ec.message();
                co_return;
            }
            end += n;
            for (;;) {
                const std::size_t used = parse_frame(buf.data() + begin, end - begin, f);
                if (used == 0) break;
                begin += used;
                if (f.opcode != 0x1) continue;
                if (!parse_message(parser, {reinterpret_cast<const char*>(f.payload), f.length})) ++malformed;
                if (w.count()) break;
            }
        }
        r.messages = w.messages;
        r.seconds = w.elapsed;
        r.cpu_seconds = w.cpu_seconds;
        if (malformed) r.error = std::to_string(malformed) + " messages failed the JSON check";
        // A client's close frame (masked, code 1000), then the socket goes.
        const unsigned char close_frame[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
        co_await asio::async_write(sock, asio::buffer(close_frame), use_tuple);
        boost::system::error_code ignored;
        sock.close(ignored);
    });
}

}  // namespace bench
