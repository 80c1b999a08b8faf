// Shared pieces of the I/O tests: an event log of client callbacks that a test can wait on, and
// a runner that drives one test coroutine on a single-threaded io_context with a hard deadline.
#ifndef TETHER_TESTS_IO_SUPPORT_HPP
#define TETHER_TESTS_IO_SUPPORT_HPP

#include <tether/client.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tether::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// One callback the client made.
struct event {
    std::string what;  ///< "connected", "reconnecting", "close", "error", "message"
    clock_type::time_point at;
    unsigned attempt = 0;
    std::chrono::milliseconds delay{0};
    disconnect reason;
    std::string text;            ///< the message, or the error's description
    bool held_by_group = false;  ///< "reconnecting": the endpoint group's wait
};

/// Records every callback of a client, in order, and lets a test wait for a condition on them.
class event_log {
public:
    explicit event_log(asio::any_io_executor ex) : signal_(ex) {}

    client_callbacks callbacks(bool with_on_message = false)
    {
        client_callbacks cb;
        if (with_on_message)
            cb.on_message = [this](const boost::json::value& v) {
                add({"message", {}, 0, {}, {}, boost::json::serialize(v)});
            };
        cb.on_connected = [this](unsigned attempt) { add({"connected", {}, attempt, {}, {}, {}}); };
        cb.on_reconnecting = [this](const reconnect_event& e) {
            add({"reconnecting", {}, e.attempt, e.delay, e.reason, describe(e.reason), e.held_by_group});
        };
        cb.on_close = [this](const disconnect& d) { add({"close", {}, 0, {}, d, describe(d)}); };
        cb.on_error = [this](error_code, const std::string& what) { add({"error", {}, 0, {}, {}, what}); };
        return cb;
    }

    std::vector<event> all(const std::string& what) const
    {
        std::vector<event> out;
        for (const auto& e : events_)
            if (e.what == what) out.push_back(e);
        return out;
    }
    std::size_t count(const std::string& what) const { return all(what).size(); }
    std::size_t size() const { return events_.size(); }
    const std::vector<event>& events() const { return events_; }

    /// Completes once `pred()` holds (re-checked after every event); fails the test after `limit`.
    asio::awaitable<bool> wait_until(std::function<bool()> pred, std::chrono::milliseconds limit = 10s)
    {
        const auto deadline = clock_type::now() + limit;
        while (!pred()) {
            if (clock_type::now() >= deadline) {
                BOOST_ERROR("timed out waiting for client events");
                co_return false;
            }
            signal_.expires_at(deadline);
            co_await signal_.async_wait(use_tuple);
        }
        co_return true;
    }

private:
    void add(event e)
    {
        e.at = clock_type::now();
        events_.push_back(std::move(e));
        signal_.cancel();
    }

    std::vector<event> events_;
    asio::steady_timer signal_;
};

/// Runs `body` on `ioc` until it finishes; fails if it throws or takes longer than `limit`.
inline void run(asio::io_context& ioc, std::function<asio::awaitable<void>()> body, std::chrono::seconds limit = 30s)
{
    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        ioc.stop();
    });
    ioc.run_for(limit);
    BOOST_REQUIRE_MESSAGE(done, "the test did not finish within its time limit");
    if (failure) std::rethrow_exception(failure);
}

/// Waits `d` without blocking the io_context: only for checking that something does NOT happen.
inline asio::awaitable<void> pause(std::chrono::milliseconds d)
{
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(use_tuple);
}

/// Waits until `pred` holds, checking every millisecond; false after `limit`. For conditions no
/// client event announces (a group's state, a counter).
inline asio::awaitable<bool> eventually(std::function<bool()> pred, std::chrono::milliseconds limit = 10s)
{
    const auto deadline = clock_type::now() + limit;
    while (!pred()) {
        if (clock_type::now() >= deadline) co_return false;
        co_await pause(1ms);
    }
    co_return true;
}

/// A scripted server, and a client against it whose callbacks go to `log`: the common shape of
/// the tests that run a client until its policy stops.
struct scenario {
    asio::io_context ioc;
    testing::test_server server;
    event_log log{ioc.get_executor()};
    std::optional<client> c;

    explicit scenario(testing::test_server::handler h) : server(ioc.get_executor(), std::move(h)) {}
    scenario(testing::test_server::handler h, testing::server_options options)
        : server(ioc.get_executor(), std::move(h), std::move(options))
    {
    }

    /// Runs a client made from `cfg` until `async_run` completes, and returns its result.
    error_code run_until_finished(client_config cfg)
    {
        c.emplace(ioc.get_executor(), std::move(cfg), log.callbacks());
        error_code result;
        run(ioc, [&]() -> asio::awaitable<void> {
            auto [ec] = co_await c->async_run(use_tuple);
            result = ec;
        });
        return result;
    }
};

#ifdef TETHER_TEST_PKI
/// A file of the test PKI made at build time by tests/tls/make-certs.sh ("ca.pem", "server.key"...).
inline std::string pki(const std::string& file)
{
    return std::string(TETHER_TEST_PKI) + "/" + file;
}
#endif

/// A configuration for tests: fast intervals, a seed policy with a small delay.
inline client_config fast_config(std::string url, std::chrono::milliseconds delay = 10ms)
{
    client_config cfg;
    cfg.url = std::move(url);
    cfg.connect_timeout = 2s;
    cfg.handshake_timeout = 2s;
    cfg.ping_interval = 0ms;
    cfg.close_timeout = 2s;
    cfg.manual_reconnect_delay = 10ms;
    cfg.policy = seed_policy{.delay = delay, .jitter = 0};  // exact delays: tests check them
    return cfg;
}

}  // namespace tether::test

#endif
