// The throughput and latency cases through tether's public API, as an application uses it: the
// `on_message` callback, `async_receive` and `async_receive_some`; for binary frames
// `on_raw_message` and `async_receive_raw`; pipelined sends or one `co_await` per send. Coroutines
// use the default completion token (errors as exceptions), as an application's do.
#include "bench.hpp"
#include "runner.hpp"

#include <tether/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace bench {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

tether::client_config config_for(const case_params& p, const std::string& target)
{
    tether::client_config cfg;
    cfg.url = p.gen->url(target);
    cfg.policy = tether::never_policy{};  // a case ends with its connection
    return cfg;
}

milliseconds limit_for(const case_params& p)
{
    return milliseconds(static_cast<long>((p.seconds + 30) * 1000));
}

// Runs the case until the client has finished, then makes sure it has: a client that did not
// finish in time is closed (and destroyed) while the io_context still runs.
void run_client(asio::io_context& ioc, std::unique_ptr<tether::client>& c, bool& finished, result& r,
                milliseconds limit)
{
    c->async_run([&](tether::error_code ec) {
        finished = true;
        if (ec && r.error.empty()) r.error = "the client ended: " + ec.message();
    });
    if (!run_until(
            ioc, [&] { return finished; }, limit)) {
        if (r.error.empty()) r.error = "timed out";
        c->async_close([](tether::error_code) {});
        run_until(
            ioc, [&] { return finished; }, milliseconds(3000));
    }
    c.reset();
    run_for(ioc, milliseconds(0));
}

void take(result& r, const window& w)
{
    r.messages = w.messages;
    r.seconds = w.elapsed;
    r.cpu_seconds = w.cpu_seconds;
}

// A receive case as an application writes it: a coroutine that takes messages with
// `receive(client, window)` until the window closes, errors as exceptions, then closes the client.
template <class Receive>
result receive_awaiting(const case_params& p, const std::string& target, Receive receive)
{
    asio::io_context ioc(1);
    result r;
    bool finished = false;
    window w{.seconds = p.seconds};
    auto c = std::make_unique<tether::client>(ioc.get_executor(), config_for(p, target));
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            try {
                co_await receive(*c, w);
            } catch (const boost::system::system_error& e) {
                if (r.error.empty()) r.error = std::string("receive: ") + e.what();
                co_return;
            }
            c->async_close([](tether::error_code) {});
        },
        asio::detached);
    run_client(ioc, c, finished, r, limit_for(p));
    take(r, w);
    return r;
}

}  // namespace

result tether_receive_callback(const case_params& p)
{
    asio::io_context ioc(1);
    result r;
    bool finished = false;
    window w{.seconds = p.seconds};
    std::unique_ptr<tether::client> c;
    tether::client_callbacks cb;
    cb.on_message = [&](const boost::json::value&) {
        if (w.count()) c->async_close([](tether::error_code) {});
    };
    c = std::make_unique<tether::client>(ioc.get_executor(), config_for(p, "/recv?size=" + std::to_string(p.size)),
                                         std::move(cb));
    run_client(ioc, c, finished, r, limit_for(p));
    take(r, w);
    if (!w.done && r.error.empty()) r.error = "the window never closed";
    return r;
}

result tether_receive_await(const case_params& p)
{
    return receive_awaiting(p, "/recv?size=" + std::to_string(p.size),
                            [](tether::client& c, window& w) -> asio::awaitable<void> {
                                for (;;) {
                                    const boost::json::value message = co_await c.async_receive();
                                    if (w.count()) break;
                                }
                            });
}

result tether_receive_some(const case_params& p)
{
    // The batch form: every buffered message, up to 64, per co_await; each one counts.
    return receive_awaiting(p, "/recv?size=" + std::to_string(p.size),
                            [](tether::client& c, window& w) -> asio::awaitable<void> {
                                for (;;) {
                                    const std::vector<boost::json::value> batch = co_await c.async_receive_some(64);
                                    for (const boost::json::value& message : batch) {
                                        (void)message;
                                        if (w.count()) co_return;
                                    }
                                }
                            });
}

result tether_receive_raw_callback(const case_params& p)
{
    asio::io_context ioc(1);
    result r;
    bool finished = false;
    window w{.seconds = p.seconds};
    binary_check check{.size = p.size};
    std::unique_ptr<tether::client> c;
    tether::client_callbacks cb;
    cb.on_raw_message = [&](const tether::message_view& m) {
        check.touch(m.kind == tether::message_kind::binary, m.payload.data(), m.payload.size());
        if (w.count()) c->async_close([](tether::error_code) {});
    };
    c = std::make_unique<tether::client>(
        ioc.get_executor(), config_for(p, "/recv?kind=binary&size=" + std::to_string(p.size)), std::move(cb));
    run_client(ioc, c, finished, r, limit_for(p));
    take(r, w);
    if (r.error.empty()) r.error = check.error();
    if (!w.done && r.error.empty()) r.error = "the window never closed";
    return r;
}

result tether_receive_raw_await(const case_params& p)
{
    binary_check check{.size = p.size};
    result r = receive_awaiting(p, "/recv?kind=binary&size=" + std::to_string(p.size),
                                [&check](tether::client& c, window& w) -> asio::awaitable<void> {
                                    for (;;) {
                                        const tether::message m = co_await c.async_receive_raw();
                                        check.touch(m.kind == tether::message_kind::binary, m.payload.data(),
                                                    m.payload.size());
                                        if (w.count()) break;
                                    }
                                });
    if (r.error.empty()) r.error = check.error();
    return r;
}

namespace {

// The payloads of a send case: session JSON sent as text, or binary payloads.
std::vector<std::string> payloads_for(const case_params& p, tether::message_kind kind)
{
    return kind == tether::message_kind::binary ? binary_messages(p.size) : session_messages(p.size);
}

// `acked`: acknowledged sends (resume_config::sends, completion on write) against a sink that
// acknowledges every 64 messages: what keeping each message until its acknowledgement costs.
result send_pipelined(const case_params& p, tether::message_kind kind, bool acked = false)
{
    // Sends waiting in the client's queue (capacity 1024): up to 128, and at most 4 MiB of them, as
    // an application bounds the memory it has in flight.
    const unsigned in_flight = static_cast<unsigned>(std::clamp<std::size_t>((4 << 20) / p.size, 2, 128));
    asio::io_context ioc(1);
    result r;
    bool finished = false;
    const auto messages = payloads_for(p, kind);
    std::unique_ptr<tether::client> c;
    clock_type::time_point t0;
    double cpu0 = 0;
    std::uint64_t issued = 0, completed = 0;
    bool stopping = false;

    tether::client_callbacks cb;
    cb.on_message = [&](const boost::json::value& v) {  // the sink's count, after the marker
        r.seconds = seconds_between(t0, clock_type::now());
        r.cpu_seconds = thread_cpu_seconds() - cpu0;
        r.messages = v.at("count").to_number<std::uint64_t>();
        if (r.messages != issued)
            r.error = "the sink counted " + std::to_string(r.messages) + " of " + std::to_string(issued);
        c->async_close([](tether::error_code) {});
    };
    auto cfg = config_for(p, acked ? "/sink?ack=64" : "/sink");
    cfg.resume.sends.enabled = acked;
    c = std::make_unique<tether::client>(ioc.get_executor(), std::move(cfg), std::move(cb));

    std::function<void()> issue = [&] {
        // A fresh payload, as an application's is; text goes as async_send(std::string) does.
        tether::message m{kind, messages[issued++ % messages.size()]};
        c->async_send(std::move(m), [&](tether::error_code ec) {
            if (ec) {
                if (r.error.empty()) r.error = "send: " + ec.message();
                return;
            }
            ++completed;
            if (stopping) return;
            if ((completed & 15) == 0 && seconds_between(t0, clock_type::now()) >= p.seconds) {
                stopping = true;
                c->async_send(sink_marker, [](tether::error_code) {});  // queued after every message
                return;
            }
            issue();
        });
    };
    c->async_connect([&](tether::error_code ec) {
        if (ec) return;
        t0 = clock_type::now();
        cpu0 = thread_cpu_seconds();
        for (unsigned i = 0; i < in_flight; ++i) issue();
    });
    run_client(ioc, c, finished, r, limit_for(p));
    return r;
}

result send_await(const case_params& p, tether::message_kind kind)
{
    asio::io_context ioc(1);
    result r;
    bool finished = false;
    const auto messages = payloads_for(p, kind);
    auto c = std::make_unique<tether::client>(ioc.get_executor(), config_for(p, "/sink"));
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            // As an application writes it: `co_await c.async_send(...)` with the default token,
            // errors as exceptions.
            try {
                co_await c->async_connect();
                const auto t0 = clock_type::now();
                const double cpu0 = thread_cpu_seconds();
                std::uint64_t sent = 0;
                for (;;) {
                    tether::message m{kind, messages[sent % messages.size()]};
                    co_await c->async_send(std::move(m));
                    ++sent;
                    if ((sent & 15) == 0 && seconds_between(t0, clock_type::now()) >= p.seconds) break;
                }
                co_await c->async_send(std::string(sink_marker));
                const boost::json::value v = co_await c->async_receive();  // the sink's count
                r.seconds = seconds_between(t0, clock_type::now());
                r.cpu_seconds = thread_cpu_seconds() - cpu0;
                r.messages = v.at("count").to_number<std::uint64_t>();
                if (r.messages != sent)
                    r.error = "the sink counted " + std::to_string(r.messages) + " of " + std::to_string(sent);
            } catch (const boost::system::system_error& e) {
                if (r.error.empty()) r.error = std::string("send: ") + e.what();
            }
            c->async_close([](tether::error_code) {});
        },
        asio::detached);
    run_client(ioc, c, finished, r, limit_for(p));
    return r;
}

}  // namespace

result tether_send_pipelined(const case_params& p)
{
    return send_pipelined(p, tether::message_kind::text);
}

result tether_send_acked_pipelined(const case_params& p)
{
    return send_pipelined(p, tether::message_kind::text, true);
}

result tether_send_await(const case_params& p)
{
    return send_await(p, tether::message_kind::text);
}

result tether_send_binary_pipelined(const case_params& p)
{
    return send_pipelined(p, tether::message_kind::binary);
}

result tether_send_binary_await(const case_params& p)
{
    return send_await(p, tether::message_kind::binary);
}

result tether_echo(const case_params& p)
{
    asio::io_context ioc(1);
    result r;
    bool finished = false;
    const std::string message = session_messages(p.size)[1];
    const std::size_t warmup = std::min<std::size_t>(500, p.samples / 10);
    const std::size_t total = p.samples + warmup;
    std::deque<clock_type::time_point> sent_at;
    std::size_t issued = 0, received = 0;
    clock_type::time_point t0;
    double cpu0 = 0;
    std::unique_ptr<tether::client> c;

    auto send_one = [&] {
        sent_at.push_back(clock_type::now());
        ++issued;
        c->async_send(std::string(message), [&](tether::error_code ec) {
            if (ec && r.error.empty()) r.error = "send: " + ec.message();
        });
    };
    tether::client_callbacks cb;
    cb.on_message = [&](const boost::json::value&) {
        const auto now = clock_type::now();
        const auto rtt = now - sent_at.front();
        sent_at.pop_front();
        if (++received == warmup) {
            t0 = now;
            cpu0 = thread_cpu_seconds();
        } else if (received > warmup) {
            r.latencies_us.push_back(std::chrono::duration<double, std::micro>(rtt).count());
        }
        if (received == total) {
            r.messages = received - warmup;
            r.seconds = seconds_between(t0, clock_type::now());
            r.cpu_seconds = thread_cpu_seconds() - cpu0;
            c->async_close([](tether::error_code) {});
        } else if (issued < total) {
            send_one();
        }
    };
    c = std::make_unique<tether::client>(ioc.get_executor(), config_for(p, "/echo"), std::move(cb));
    c->async_connect([&](tether::error_code ec) {
        if (ec) return;
        for (unsigned i = 0; i < p.in_flight; ++i) send_one();
    });
    r.latencies_us.reserve(p.samples);
    run_client(ioc, c, finished, r, limit_for(p));
    return r;
}

}  // namespace bench
