#include <tether/client.hpp>

#include "support.hpp"

#include <boost/asio/bind_executor.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <stdexcept>
#include <thread>

using namespace tether::test;
using tether::client;
using tether::error;
using tether::error_code;
using tether::testing::server_connection;
using tether::testing::test_server;
namespace json = boost::json;

namespace {

// A handler that accepts, then closes with `code`.
test_server::handler close_after_accept(std::uint16_t code)
{
    return [code](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        co_await c.async_close(code, "scripted");
    };
}

test_server::handler reject_with(unsigned status, std::vector<tether::header> headers = {})
{
    return
        [status, headers](server_connection& c) -> asio::awaitable<void> { co_await c.async_reject(status, headers); };
}

std::vector<std::chrono::milliseconds> gaps(const std::vector<tether::testing::upgrade_request>& requests)
{
    std::vector<std::chrono::milliseconds> out;
    for (std::size_t i = 1; i < requests.size(); ++i)
        out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(requests[i].received_at -
                                                                            requests[i - 1].received_at));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_io)

BOOST_AUTO_TEST_CASE(invalid_configuration_throws_at_construction)
{
    asio::io_context ioc;
    BOOST_CHECK_THROW(client(ioc.get_executor(), tether::client_config{.url = "http://x"}), std::invalid_argument);
    auto cfg = fast_config("ws://127.0.0.1:1/");
    cfg.send_queue_capacity = 0;
    BOOST_CHECK_THROW(client(ioc.get_executor(), cfg), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(connects_sends_and_receives_with_use_awaitable)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url("/echo")));
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await c.async_connect(use_tuple);
        BOOST_TEST(!ec);
        BOOST_TEST(c.is_connected());
        BOOST_TEST((c.state() == tether::client_state::connected));
        const json::value message{{"type", "user"}, {"n", 1}};
        auto [sent] = co_await c.async_send(message, use_tuple);
        BOOST_TEST(!sent);
        auto [rec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(!rec);
        const json::value expected = json::parse(R"({"type":"user","n":1})");
        BOOST_TEST(v == expected);
        auto [closed] = co_await c.async_close(use_tuple);
        BOOST_TEST(!closed);
        BOOST_TEST((c.state() == tether::client_state::closed));
    });
    BOOST_TEST(server.requests().size() == 1u);
    BOOST_TEST(server.requests()[0].target == "/echo");
    BOOST_TEST(c.stats().messages_sent == 1u);
    BOOST_TEST(c.stats().messages_received == 1u);
}

BOOST_AUTO_TEST_CASE(plain_callbacks_and_use_future_from_another_thread)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url()));
    auto work = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });

    std::promise<error_code> connected;
    c.async_connect([&](error_code ec) { connected.set_value(ec); });
    BOOST_TEST(!connected.get_future().get());

    BOOST_CHECK_NO_THROW(c.async_send(std::string(R"({"type":"ping","n":2})"), asio::use_future).get());
    json::value got = c.async_receive(asio::use_future).get();
    BOOST_TEST(got.at("n") == 2);
    BOOST_CHECK_NO_THROW(c.async_close(asio::use_future).get());
    // After close, operations fail cleanly rather than hang.
    BOOST_CHECK_THROW(c.async_send(std::string("{}"), asio::use_future).get(), boost::system::system_error);

    asio::post(ioc, [&] { server.stop(); });
    work.reset();
    io.join();
}

BOOST_AUTO_TEST_CASE(deferred_operations_compose)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        auto connect = c.async_connect(asio::deferred);  // nothing happens until it is awaited
        co_await pause(5ms);
        BOOST_TEST((c.state() == tether::client_state::idle));
        co_await std::move(connect)(asio::use_awaitable);
        BOOST_TEST(c.is_connected());
        co_await c.async_send(std::string(R"({"type":"d"})"), asio::deferred);
        co_await c.async_receive();  // no token at all: deferred by default
        co_await c.async_close();
    });
    BOOST_TEST(server.messages().size() == 1u);
}

BOOST_AUTO_TEST_CASE(concurrent_sends_from_many_threads_all_arrive)
{
    // The server runs on its own single-threaded context; the client's context runs on two
    // threads while four more threads send at once. Per-thread order must hold.
    asio::io_context server_ioc;
    test_server server(server_ioc.get_executor());
    asio::io_context client_ioc;
    auto guard = asio::make_work_guard(client_ioc);
    auto cfg = fast_config(server.url());
    cfg.send_queue_capacity = 10000;
    client c(client_ioc.get_executor(), cfg);
    std::vector<std::thread> io;
    for (int i = 0; i < 2; ++i) io.emplace_back([&] { client_ioc.run(); });

    constexpr int senders = 4, per_sender = 250;
    std::atomic<int> ok{0};
    std::thread sending([&] {
        c.async_connect(asio::use_future).get();
        std::vector<std::thread> threads;
        for (int t = 0; t < senders; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < per_sender; ++i)
                    c.async_send(R"({"type":"m","t":)" + std::to_string(t) + R"(,"i":)" + std::to_string(i) + "}",
                                 [&](error_code ec) { ok += !ec; });
            });
        }
        for (auto& th : threads) th.join();
    });
    run(server_ioc, [&]() -> asio::awaitable<void> {
        auto ec = co_await server.async_wait_until(
            [&] { return server.messages().size() == std::size_t(senders * per_sender); });
        BOOST_TEST(!ec);
        auto [closed] = co_await c.async_close(use_tuple);  // completes back on this context
        BOOST_TEST(!closed);
    });
    sending.join();
    guard.reset();
    for (auto& th : io) th.join();

    BOOST_TEST(ok.load() == senders * per_sender);
    std::vector<int> next(senders, 0);
    for (const auto& m : server.messages()) {
        const auto v = json::parse(m);
        const auto t = v.at("t").as_int64();
        BOOST_REQUIRE(v.at("i") == next[t]);
        ++next[t];
    }
}

BOOST_AUTO_TEST_CASE(token_provider_is_called_per_attempt_and_sent_as_bearer)
{
    asio::io_context ioc;
    int connections = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        if (++connections == 1)
            co_await c.async_close(1012, "restart");
        else
            co_await c.async_echo();
    });
    int calls = 0;
    auto cfg = fast_config(server.url());
    cfg.token_provider = [&] { return "token-" + std::to_string(++calls); };
    cfg.headers = {{"X-Extra", "yes"}};
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), cfg, log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        co_await log.wait_until([&] { return log.count("connected") == 2; });
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(calls == 2);
    BOOST_REQUIRE(server.requests().size() == 2u);
    BOOST_TEST(server.requests()[0].header_value("authorization") == "Bearer token-1");
    BOOST_TEST(server.requests()[1].header_value("Authorization") == "Bearer token-2");
    BOOST_TEST(server.requests()[1].header_value("x-extra") == "yes");
}

BOOST_AUTO_TEST_CASE(async_token_provider_and_a_failing_one)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    int calls = 0;
    auto cfg = fast_config(server.url());
    cfg.async_token_provider = [&]() -> asio::awaitable<std::string> {
        if (++calls == 1) throw std::runtime_error("token service unavailable");
        co_return "async-token";
    };
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), cfg, log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await c.async_connect(use_tuple);
        BOOST_TEST(!ec);
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(calls == 2);
    BOOST_REQUIRE(server.requests().size() == 1u);  // the failed attempt never reached the server
    BOOST_TEST(server.requests()[0].header_value("authorization") == "Bearer async-token");
    BOOST_REQUIRE(log.count("reconnecting") == 1u);
    BOOST_TEST((log.all("reconnecting")[0].reason.kind == tether::disconnect_kind::token));
    BOOST_TEST(log.count("error") == 1u);
}

// A provider that never answers holds up neither connect_timeout nor async_close, whether it
// honours cancellation (it is cancelled) or not (the client stops waiting, asks it to stop, and
// leaves it to end on its own). Nothing reaches the server.
BOOST_AUTO_TEST_CASE(a_hanging_async_token_provider_is_bounded_and_closable)
{
    struct row {
        const char* name;
        std::function<asio::awaitable<std::string>()> provider;
    };
    const row rows[] = {
        {"honours cancellation",
         []() -> asio::awaitable<std::string> {
             asio::steady_timer forever(co_await asio::this_coro::executor, 1h);
             co_await forever.async_wait(use_tuple);
             co_return "never";
         }},
        {"ignores cancellation",
         []() -> asio::awaitable<std::string> {
             asio::steady_timer stubborn(co_await asio::this_coro::executor, 3s);
             // No cancellation slot: nothing the client does ends this wait.
             co_await stubborn.async_wait(asio::bind_cancellation_slot(asio::cancellation_slot(), use_tuple));
             co_return "late";
         }},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.name)
        {
            asio::io_context ioc;
            test_server server(ioc.get_executor());
            auto cfg = fast_config(server.url());
            cfg.connect_timeout = 50ms;
            cfg.policy = tether::never_policy{};
            cfg.async_token_provider = r.provider;
            event_log log(ioc.get_executor());
            client timed(ioc.get_executor(), cfg, log.callbacks());
            cfg.connect_timeout = 10s;
            client closed(ioc.get_executor(), cfg);
            run(ioc, [&]() -> asio::awaitable<void> {
                // Bounded by connect_timeout: the attempt fails with a token error, the policy stops.
                auto start = clock_type::now();
                auto [ec] = co_await timed.async_run(use_tuple);
                BOOST_TEST((ec == error::token_failed));
                BOOST_TEST((clock_type::now() - start < 1s));
                BOOST_TEST(log.count("error") == 1u);

                // Closed while waiting for the token: prompt.
                closed.async_run([](error_code) {});
                co_await pause(20ms);
                BOOST_TEST((closed.state() == tether::client_state::connecting));
                start = clock_type::now();
                co_await closed.async_close(use_tuple);
                BOOST_TEST((clock_type::now() - start < 1s));
            });
            BOOST_TEST(server.requests().empty());
        }
    }
}

// A token source that caches: the first token is stale and refused with 401; asked again with
// the reason "refused" it fetches a fresh one, which the server accepts. After a restart (1012)
// it is asked with "reconnect" and reuses the cached token.
BOOST_AUTO_TEST_CASE(a_refused_token_is_refreshed_once_and_the_cached_one_reused_after_a_drop)
{
    asio::io_context ioc;
    int accepted = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        if (c.request().header_value("Authorization") != "Bearer fresh") {
            co_await c.async_reject(401);
            co_return;
        }
        co_await c.async_accept();
        if (++accepted == 1) {
            co_await c.async_close(1012, "restart");
            co_return;
        }
        co_await c.async_echo();
    });
    std::vector<std::string> asked;
    std::string cached = "stale";
    auto cfg = fast_config(server.url());
    cfg.policy = tether::seed_policy{.delay = 10ms, .jitter = 0, .retry_refused_token = true};
    cfg.token_source = [&](tether::token_request r) -> asio::awaitable<tether::token_answer> {
        asked.push_back(std::string(tether::to_string(r.reason)) + " " + std::to_string(r.attempt));
        if (r.reason == tether::token_reason::refused) {
            cached = "fresh";
            co_return tether::token_answer{.token = cached, .fresh = true};
        }
        co_return tether::token_answer{.token = cached, .fresh = false};
    };
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), cfg, log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([](error_code) {});
        co_await log.wait_until([&] { return log.count("connected") == 2; });
        co_await c.async_close(use_tuple);
    });
    // The link the 1012 ended carried nothing: not healthy, so the count goes on.
    const std::vector<std::string> expected = {"first_connect 1", "refused 2", "reconnect 3"};
    BOOST_TEST(asked == expected, boost::test_tools::per_element());
    BOOST_TEST(server.requests().size() == 3u);
    const auto h = c.history();
    BOOST_REQUIRE_EQUAL(h.size(), 3u);
    BOOST_TEST(h[0].why.http_status == 401u);
    BOOST_REQUIRE(h[0].delay.has_value());
    BOOST_TEST(h[0].delay->count() == 0);  // at once: nothing is overloaded
}

// A source with nothing fresher than the refused token: the retry ends before it reaches the
// server, and the client stops as unauthorized.
BOOST_AUTO_TEST_CASE(a_refused_token_without_a_fresh_one_stops_without_another_request)
{
    scenario sc([](server_connection& c) -> asio::awaitable<void> { co_await c.async_reject(401); });
    auto cfg = fast_config(sc.server.url());
    cfg.policy = tether::seed_policy{.delay = 10ms, .jitter = 0, .retry_refused_token = true};
    std::vector<tether::token_reason> asked;
    cfg.token_source = [&](tether::token_request r) -> asio::awaitable<tether::token_answer> {
        asked.push_back(r.reason);
        co_return tether::token_answer{.token = "the-only-one", .fresh = false};
    };
    const error_code ec = sc.run_until_finished(cfg);
    BOOST_TEST((ec == error::unauthorized));
    BOOST_TEST(asked.size() == 2u);
    BOOST_TEST(sc.server.requests().size() == 1u);
    const auto closes = sc.log.all("close");
    BOOST_REQUIRE_EQUAL(closes.size(), 1u);
    BOOST_TEST(closes[0].reason.http_status == 401u);
    BOOST_TEST(closes[0].reason.reason.find("no fresh token") != std::string::npos, closes[0].reason.reason);
}

BOOST_AUTO_TEST_CASE(close_4003_stops_without_retry)
{
    scenario s(close_after_accept(4003));
    const auto ec = s.run_until_finished(fast_config(s.server.url()));
    BOOST_TEST((ec == error::unauthorized));
    BOOST_TEST((ec == tether::condition::permanent));
    BOOST_TEST(s.server.requests().size() == 1u);
    BOOST_TEST(s.log.count("reconnecting") == 0u);
    BOOST_REQUIRE(s.log.count("close") == 1u);
    BOOST_TEST(s.log.all("close")[0].reason.close_code == 4003);
    BOOST_TEST((s.c->state() == tether::client_state::closed));
}

BOOST_AUTO_TEST_CASE(http_401_and_403_stop_without_retry)
{
    for (unsigned status : {401u, 403u}) {
        BOOST_TEST_CONTEXT("HTTP " << status)
        {
            asio::io_context ioc;
            test_server server(ioc.get_executor(), reject_with(status));
            event_log log(ioc.get_executor());
            client c(ioc.get_executor(), fast_config(server.url()), log.callbacks());
            run(ioc, [&]() -> asio::awaitable<void> {
                auto [ec] = co_await c.async_connect(use_tuple);  // the first connect reports the final error
                BOOST_TEST((ec == error::unauthorized));
            });
            BOOST_TEST(server.requests().size() == 1u);
            BOOST_TEST(log.count("reconnecting") == 0u);
            BOOST_REQUIRE(log.count("close") == 1u);
            BOOST_TEST(log.all("close")[0].reason.http_status == status);
        }
    }
}

BOOST_AUTO_TEST_CASE(close_4001_is_retried_three_times_on_the_two_times_n_schedule)
{
    scenario s(close_after_accept(4001));
    const auto base = 50ms;
    BOOST_TEST((s.run_until_finished(fast_config(s.server.url(), base)) == error::session_not_found));
    const auto retries = s.log.all("reconnecting");
    BOOST_REQUIRE(retries.size() == 3u);
    for (unsigned n = 1; n <= 3; ++n) {
        BOOST_TEST(retries[n - 1].attempt == n + 1);
        BOOST_TEST(retries[n - 1].delay.count() == (base * n).count());
        BOOST_TEST(retries[n - 1].reason.close_code == 4001);
    }
    // The server saw 1 + 3 attempts, each at least the policy's delay after the previous one,
    // and the waits grew: the third (3 x base) is longer than the first (1 x base).
    const auto g = gaps(s.server.requests());
    BOOST_REQUIRE(g.size() == 3u);
    for (unsigned n = 1; n <= 3; ++n) BOOST_TEST(g[n - 1].count() >= (base * n).count());
    BOOST_TEST((g[2] > g[0]));
    BOOST_TEST(s.log.count("close") == 1u);
}

BOOST_AUTO_TEST_CASE(http_404_counts_as_session_not_found)
{
    scenario s(reject_with(404));
    BOOST_TEST((s.run_until_finished(fast_config(s.server.url(), 5ms)) == error::session_not_found));
    BOOST_TEST(s.server.requests().size() == 4u);
}

BOOST_AUTO_TEST_CASE(ordinary_failures_get_five_retries_the_first_connect_included)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), reject_with(500));
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url(), 5ms), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await c.async_connect(use_tuple);
        BOOST_TEST((ec == error::upgrade_rejected));
    });
    BOOST_TEST(server.requests().size() == 6u);
    BOOST_TEST(log.count("reconnecting") == 5u);
    BOOST_TEST(log.count("connected") == 0u);
}

BOOST_AUTO_TEST_CASE(connection_refused_is_retried_then_reported)
{
    asio::io_context ioc;
    std::uint16_t port = 0;
    {
        test_server probe(ioc.get_executor());
        port = probe.port();
    }  // nothing listens there any more
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config("ws://127.0.0.1:" + std::to_string(port) + "/", 5ms), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await c.async_run(use_tuple);
        BOOST_TEST((ec == asio::error::connection_refused));
        BOOST_TEST((ec == tether::condition::transient));
    });
    BOOST_TEST(log.count("reconnecting") == 5u);
    BOOST_TEST((log.all("close")[0].reason.kind == tether::disconnect_kind::connect));
}

BOOST_AUTO_TEST_CASE(budget_is_not_reset_by_a_connection_that_merely_opened)
{
    // The original reset its counter on every open, so a server that accepts and drops at once
    // made it reconnect forever. Here opening alone proves nothing: the budget runs out.
    scenario s(close_after_accept(1011));
    BOOST_TEST((s.run_until_finished(fast_config(s.server.url(), 5ms)) == error::closed_by_peer));
    BOOST_TEST(s.server.requests().size() == 6u);
    BOOST_TEST(s.log.count("connected") == 6u);
    const auto connected = s.log.all("connected");
    for (unsigned i = 0; i < connected.size(); ++i) BOOST_TEST(connected[i].attempt == i + 1);
}

BOOST_AUTO_TEST_CASE(budget_resets_after_a_healthy_link)
{
    // Eight connections in a row deliver a message and then drop: each proved healthy, so the
    // five-retry budget never runs out and the client is still connected afterwards.
    asio::io_context ioc;
    int connections = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        if (++connections <= 8) {
            co_await c.async_send(R"({"type":"assistant","n":)" + std::to_string(connections) + "}");
            co_await c.async_close(1011, "crash");
        } else {
            co_await c.async_echo();
        }
    });
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url(), 5ms), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        co_await log.wait_until([&] { return log.count("connected") == 9; });
        BOOST_TEST(c.is_connected());
        for (int n = 1; n <= 8; ++n) {
            auto [ec, v] = co_await c.async_receive(use_tuple);
            BOOST_TEST(!ec);
            BOOST_TEST(v.at("n") == n);
        }
        co_await c.async_close(use_tuple);
    });
    for (const auto& e : log.all("reconnecting")) BOOST_TEST(e.attempt == 2u);  // always the first retry
    BOOST_TEST(log.count("close") == 0u);
}

BOOST_AUTO_TEST_CASE(dead_link_is_detected_within_ping_interval_plus_pong_timeout)
{
    asio::io_context ioc;
    int connections = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        if (++connections == 1)
            co_await c.async_stay_silent(10s);  // half-open: pings unanswered
        else
            co_await c.async_echo();
    });
    auto cfg = fast_config(server.url());
    cfg.ping_interval = 50ms;
    cfg.pong_timeout = 50ms;
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), cfg, log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        co_await log.wait_until([&] { return log.count("connected") == 2; });
        co_await c.async_close(use_tuple);
    });
    const auto retry = log.all("reconnecting");
    BOOST_REQUIRE(retry.size() == 1u);
    BOOST_TEST((retry[0].reason.kind == tether::disconnect_kind::heartbeat_timeout));
    BOOST_TEST((retry[0].reason.error == error::heartbeat_timeout));
    const auto detected = retry[0].at - log.all("connected")[0].at;
    BOOST_TEST((detected >= cfg.ping_interval + cfg.pong_timeout));
    BOOST_TEST((detected < 2s));  // generous: ~100 ms expected, bounded well below any default
    BOOST_TEST(c.stats().heartbeat_timeouts == 1u);
}

BOOST_AUTO_TEST_CASE(a_responsive_server_keeps_the_link_up_across_many_pings)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    auto cfg = fast_config(server.url());
    cfg.ping_interval = 10ms;
    cfg.pong_timeout = 200ms;
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), cfg, log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        co_await pause(300ms);  // some 25 pings, each answered by Beast's automatic pong
        BOOST_TEST(c.is_connected());
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(log.count("reconnecting") == 0u);
    BOOST_TEST(c.stats().connections == 1u);
}

// A handler the client keeps holds work on its own executor, as Asio's operations do: a second
// io_context that has nothing else to do than a receive's callback does not return from run()
// until the message has come and the callback has run.
BOOST_AUTO_TEST_CASE(a_waiting_handler_keeps_its_executor_s_io_context_running)
{
    asio::io_context client_ioc, handler_ioc;
    test_server server(client_ioc.get_executor());
    client c(client_ioc.get_executor(), fast_config(server.url("/echo")));
    auto work = asio::make_work_guard(client_ioc);
    std::thread client_thread([&] { client_ioc.run(); });
    BOOST_REQUIRE_NO_THROW(c.async_connect(asio::use_future).get());

    std::atomic<bool> received{false}, sent{false};
    c.async_receive(asio::bind_executor(handler_ioc, [&](error_code ec, json::value) { received = !ec; }));
    c.async_send(std::string(R"({"type":"late"})"),
                 asio::bind_executor(handler_ioc, [&](error_code ec) { sent = !ec; }));
    handler_ioc.run();  // returns once both handlers have run, not before
    BOOST_TEST(received.load());
    BOOST_TEST(sent.load());

    BOOST_CHECK_NO_THROW(c.async_close(asio::use_future).get());
    asio::post(client_ioc, [&] { server.stop(); });
    work.reset();
    client_thread.join();
}

BOOST_AUTO_TEST_CASE(sends_queued_while_disconnected_go_out_in_order_after_reconnect)
{
    asio::io_context ioc;
    int connections = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        if (++connections == 1)
            c.drop();
        else
            co_await c.async_echo();
    });
    event_log log(ioc.get_executor());
    auto cb = log.callbacks();
    std::vector<error_code> results;
    std::unique_ptr<client> c;
    cb.on_reconnecting = [&, inner = cb.on_reconnecting](const tether::reconnect_event& e) {
        inner(e);
        for (int i = 0; i < 5; ++i)  // sent while the link is down
            c->async_send(R"({"type":"user","seq":)" + std::to_string(i) + "}",
                          [&](error_code ec) { results.push_back(ec); });
    };
    c = std::make_unique<client>(ioc.get_executor(), fast_config(server.url(), 50ms), cb);
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c->async_connect(use_tuple);
        co_await server.async_wait_until([&] { return server.messages().size() == 5; });
        co_await c->async_close(use_tuple);
    });
    BOOST_TEST(log.count("reconnecting") == 1u);
    BOOST_REQUIRE(server.messages().size() == 5u);
    for (int i = 0; i < 5; ++i) BOOST_TEST(json::parse(server.messages()[i]).at("seq") == i);
    BOOST_TEST(results.size() == 5u);
    for (auto ec : results) BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(a_full_send_queue_fails_the_send_and_close_fails_the_rest)
{
    asio::io_context ioc;
    auto cfg = fast_config("ws://127.0.0.1:1/");
    cfg.send_queue_capacity = 2;
    client c(ioc.get_executor(), cfg);
    std::vector<error_code> results;
    for (int i = 0; i < 3; ++i) c.async_send(std::string("{}"), [&](error_code ec) { results.push_back(ec); });
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await pause(1ms);
        BOOST_REQUIRE(results.size() == 1u);
        BOOST_TEST((results[0] == error::send_queue_full));
        co_await c.async_close(use_tuple);
        co_await pause(1ms);
    });
    BOOST_REQUIRE(results.size() == 3u);
    BOOST_TEST((results[1] == error::client_closed));
    BOOST_TEST((results[2] == error::client_closed));
}

BOOST_AUTO_TEST_CASE(close_while_connecting_is_prompt_and_silent)
{
    asio::io_context ioc;
    // The server reads the upgrade request and never answers it.
    test_server server(ioc.get_executor(),
                       [](server_connection& c) -> asio::awaitable<void> { co_await c.async_stay_silent(10s); });
    auto cfg = fast_config(server.url());
    cfg.handshake_timeout = 10s;
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), cfg, log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([&](error_code ec) { BOOST_TEST(!ec); });
        co_await server.async_wait_until([&] { return server.requests().size() == 1; });
        BOOST_TEST((c.state() == tether::client_state::connecting));
        const auto start = clock_type::now();
        co_await c.async_close(use_tuple);
        BOOST_TEST((clock_type::now() - start < 1s));
        const auto seen = log.size();
        co_await pause(50ms);
        BOOST_TEST(log.size() == seen);
    });
    BOOST_TEST(log.size() == 0u);
}

BOOST_AUTO_TEST_CASE(close_during_backoff_is_prompt_and_silent)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), close_after_accept(1011));
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url(), 10s), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([&](error_code ec) { BOOST_TEST(!ec); });
        co_await log.wait_until([&] { return log.count("reconnecting") == 1; });
        BOOST_TEST((c.state() == tether::client_state::reconnecting));
        const auto start = clock_type::now();
        co_await c.async_close(use_tuple);
        BOOST_TEST((clock_type::now() - start < 1s));
        const auto seen = log.size();
        co_await pause(50ms);
        BOOST_TEST(log.size() == seen);
    });
    BOOST_TEST(server.requests().size() == 1u);
}

BOOST_AUTO_TEST_CASE(close_while_connected_flushes_then_closes_politely)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url()), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        std::vector<error_code> results;
        for (int i = 0; i < 3; ++i)
            c.async_send(R"({"type":"user","seq":)" + std::to_string(i) + "}",
                         [&](error_code ec) { results.push_back(ec); });
        const auto start = clock_type::now();
        auto [ec] = co_await c.async_close(use_tuple);
        BOOST_TEST(!ec);
        BOOST_TEST((clock_type::now() - start < 1s));
        co_await server.async_wait_until([&] { return server.live_connections() == 0; });
        BOOST_TEST(server.messages().size() == 3u);  // flushed before the close frame
        co_await pause(1ms);
        BOOST_TEST(results.size() == 3u);
        for (auto e : results) BOOST_TEST(!e);
        const auto seen = log.size();
        server.stop();
        co_await pause(50ms);
        BOOST_TEST(log.size() == seen);
    });
    BOOST_TEST(log.count("close") == 0u);  // closing is the application's doing, not an event
}

BOOST_AUTO_TEST_CASE(destroying_a_running_client_completes_its_operations)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    auto c = std::make_unique<client>(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c->async_connect(use_tuple);
        error_code receive_result;
        bool received = false;
        c->async_receive([&](error_code ec, json::value) { received = true, receive_result = ec; });
        c.reset();
        co_await server.async_wait_until([&] { return server.live_connections() == 0; });
        co_await pause(1ms);
        BOOST_TEST(received);
        BOOST_TEST((receive_result == error::client_closed));
    });
}

BOOST_AUTO_TEST_CASE(a_throwing_callback_surfaces_and_the_client_still_finishes)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    tether::client_callbacks cb;
    cb.on_connected = [](unsigned) { throw std::runtime_error("application bug"); };
    client c(ioc.get_executor(), fast_config(server.url()), cb);
    bool run_done = false;
    error_code run_result;
    c.async_run([&](error_code ec) { run_done = true, run_result = ec; });
    BOOST_CHECK_THROW(ioc.run_for(10s), std::runtime_error);  // surfaces from run()
    ioc.restart();
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await pause(1ms);
        BOOST_TEST(run_done);  // the waiter was completed, not left hanging
        BOOST_TEST(bool(run_result));
        BOOST_TEST((c.state() == tether::client_state::closed));
        auto [ec] = co_await c.async_close(use_tuple);  // and close still completes
        BOOST_TEST(!ec);
    });
}

BOOST_AUTO_TEST_CASE(reconnect_drops_the_link_and_connects_afresh)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url()), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        c.reconnect();
        co_await log.wait_until([&] { return log.count("connected") == 2; });
        // The old connection ended before the new one started.
        co_await server.async_wait_until([&] { return server.live_connections() == 1; });
        auto [ec] = co_await c.async_send(std::string(R"({"type":"after"})"), use_tuple);
        BOOST_TEST(!ec);
        auto [rec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(v.at("type") == "after");
        co_await c.async_close(use_tuple);
    });
    const auto retry = log.all("reconnecting");
    BOOST_REQUIRE(retry.size() == 1u);
    BOOST_TEST(retry[0].delay.count() == 10);  // manual_reconnect_delay
    BOOST_TEST((retry[0].reason.kind == tether::disconnect_kind::user));
    BOOST_TEST(log.all("connected")[1].attempt == 1u);  // budgets reset
}

BOOST_AUTO_TEST_CASE(malformed_and_untyped_messages_are_counted_and_skipped)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        co_await c.async_send("not json {");
        co_await c.async_send("[1,2,3]");
        co_await c.async_send(R"({"type":7})");
        co_await c.async_send(R"({"type":"assistant","ok":true})");
        co_await c.async_echo();
    });
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url()), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        auto [ec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(!ec);
        BOOST_TEST(v.at("type") == "assistant");
        BOOST_TEST(c.is_connected());
        co_await c.async_close(use_tuple);
    });
    const auto s = c.stats();
    BOOST_TEST(s.messages_malformed == 1u);
    BOOST_TEST(s.messages_ignored == 2u);
    BOOST_TEST(s.messages_received == 1u);
    BOOST_TEST(s.connections == 1u);
    BOOST_REQUIRE(log.count("error") == 1u);
    BOOST_TEST(log.all("error")[0].text.starts_with("malformed JSON"));
}

BOOST_AUTO_TEST_CASE(on_message_callback_receives_in_order)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        for (int i = 0; i < 20; ++i) co_await c.async_send(R"({"type":"m","i":)" + std::to_string(i) + "}");
        co_await c.async_echo();
    });
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url()), log.callbacks(true));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        co_await log.wait_until([&] { return log.count("message") == 20; });
        auto [ec, v] = co_await c.async_receive(use_tuple);  // callbacks take the messages
        BOOST_TEST((ec == asio::error::operation_not_supported));
        co_await c.async_close(use_tuple);
    });
    const auto messages = log.all("message");
    for (int i = 0; i < 20; ++i) BOOST_TEST(json::parse(messages[i].text).at("i") == i);
}

BOOST_AUTO_TEST_CASE(a_slow_consumer_pauses_reading_and_loses_nothing)
{
    asio::io_context ioc;
    const int total = 200;
    bool all_sent = false;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        for (int i = 0; i < total; ++i) co_await c.async_send(R"({"type":"m","i":)" + std::to_string(i) + "}");
        all_sent = true;
        co_await c.async_echo();
    });
    auto cfg = fast_config(server.url());
    cfg.receive_buffer_capacity = 4;
    cfg.ping_interval = 20ms;  // a paused reader must not be mistaken for a dead link
    cfg.pong_timeout = 20ms;
    client c(ioc.get_executor(), cfg);
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        while (!all_sent) co_await pause(5ms);
        co_await pause(100ms);  // ample time for the reader, were it not paused, to take everything
        BOOST_TEST(c.stats().messages_received == 0u);  // none taken yet
        BOOST_TEST(c.stats().inbox_depth == 4u);        // the capacity, exactly: reading paused there
        BOOST_TEST(c.is_connected());
        for (int i = 0; i < total; ++i) {
            auto [ec, v] = co_await c.async_receive(use_tuple);
            BOOST_REQUIRE(!ec);
            BOOST_REQUIRE(v.at("i") == i);
        }
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(c.stats().connections == 1u);
}

BOOST_AUTO_TEST_CASE(async_receive_is_cancellable)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        asio::cancellation_signal signal;
        error_code result;
        bool done = false;
        c.async_receive(
            asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, json::value) { done = true, result = ec; }));
        co_await pause(5ms);
        BOOST_TEST(!done);
        signal.emit(asio::cancellation_type::terminal);
        co_await pause(5ms);
        BOOST_TEST(done);
        BOOST_TEST((result == asio::error::operation_aborted));
        // The next message still arrives.
        co_await c.async_send(std::string(R"({"type":"x"})"), use_tuple);
        auto [ec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(!ec);
        co_await c.async_close(use_tuple);
    });
}

BOOST_AUTO_TEST_CASE(server_restart_is_survived)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    event_log log(ioc.get_executor());
    client c(ioc.get_executor(), fast_config(server.url(), 20ms), log.callbacks());
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        server.stop();  // the server goes away: connections dropped, nothing listening
        co_await log.wait_until([&] { return log.count("reconnecting") >= 2; });
        server.start();  // and comes back on the same port
        co_await log.wait_until([&] { return log.count("connected") == 2; });
        auto [ec] = co_await c.async_send(std::string(R"({"type":"back"})"), use_tuple);
        BOOST_TEST(!ec);
        auto [rec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(v.at("type") == "back");
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(log.count("close") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
