// The client's hindsight against a real server: the connection records of `history()` and the
// counters of `stats()` (bytes, round-trip times, uptime).
#include "support.hpp"

#include <boost/json/value.hpp>

#include <algorithm>

using tether::client;
using tether::error_code;
using tether::testing::server_connection;
using tether::testing::test_server;
using namespace tether::test;

BOOST_AUTO_TEST_SUITE(history)

BOOST_AUTO_TEST_CASE(each_connection_is_recorded_with_its_traffic_its_round_trips_and_the_policy_s_choice)
{
    asio::io_context ioc;
    int connections = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        if (++connections > 1) co_return co_await c.async_echo();
        // The first link echoes three messages (answering pings as it reads), then ends with 4001.
        for (int i = 0; i < 3; ++i) {
            auto m = co_await c.async_receive();
            if (!m) co_return;
            co_await c.async_send(*m);
        }
        co_await c.async_close(4001, "compacting");
    });
    auto cfg = fast_config(server.url());
    cfg.ping_interval = 5ms;
    cfg.pong_timeout = 2s;
    event_log log(ioc.get_executor());
    std::vector<tether::client_event> events;
    auto callbacks = log.callbacks();
    callbacks.on_event = [&](const tether::client_event& e) { events.push_back(e); };
    client c(ioc.get_executor(), cfg, callbacks);
    const auto before = std::chrono::system_clock::now();
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([](error_code) {});
        co_await log.wait_until([&] { return log.count("connected") == 1; });
        BOOST_TEST(co_await eventually([&] { return c.stats().rtt_smoothed > 0us; }));  // a pong came back
        for (int i = 0; i < 3; ++i) {
            const boost::json::value m{{"type", "m"}, {"i", i}};
            co_await c.async_send(m, use_tuple);
            auto [ec, v] = co_await c.async_receive(use_tuple);
            BOOST_TEST(!ec);
        }
        const auto live = c.stats();
        BOOST_TEST(live.uptime > 0ms);
        BOOST_TEST(live.bytes_sent > 0u);
        BOOST_TEST(live.bytes_received > 0u);
        co_await log.wait_until([&] { return log.count("connected") == 2; });
        co_await c.async_close(use_tuple);
    });
    const auto after = std::chrono::system_clock::now();

    const auto h = c.history();
    BOOST_REQUIRE_EQUAL(h.size(), 2u);
    const auto& first = h[0];
    BOOST_TEST(first.attempt == 1u);
    BOOST_TEST((before <= first.started && first.started <= first.connected && first.connected <= first.ended));
    BOOST_TEST(first.why.close_code == 4001);
    BOOST_TEST(first.why.reason == "compacting");
    BOOST_TEST(first.healthy);
    BOOST_REQUIRE(first.delay.has_value());
    BOOST_TEST(first.delay->count() == 10);  // the seed policy: 4001 waits delay x 1
    BOOST_TEST(first.messages_sent == 3u);
    BOOST_TEST(first.messages_received == 3u);
    // Three messages of 15 bytes each way, framed (and masked going out), pings and pongs besides.
    BOOST_TEST(first.bytes_sent >= 3u * (15 + 6));
    BOOST_TEST(first.bytes_received >= 3u * (15 + 2) + 4);
    BOOST_TEST(first.rtt.samples >= 1u);
    BOOST_TEST((first.rtt.min <= first.rtt.avg));
    BOOST_TEST(first.rtt.last > 0us);

    const auto& second = h[1];
    BOOST_TEST(second.attempt == 2u);  // the first retry, counted afresh after a healthy link
    BOOST_TEST((first.ended <= second.started && second.connected <= second.ended && second.ended <= after));
    BOOST_TEST(!second.delay.has_value());  // the application closed: nothing came next
    BOOST_TEST(second.messages_sent == 0u);

    // The same story as structured events, pongs aside.
    std::vector<std::string> story;
    for (const auto& e : events) {
        if (e.kind == tether::event_kind::pong) {
            BOOST_TEST(e.rtt > 0us);
            continue;
        }
        std::string line(tether::to_string(e.kind));
        if (e.kind == tether::event_kind::state) line += " " + std::string(tether::to_string(e.state));
        if (e.kind == tether::event_kind::attempt || e.kind == tether::event_kind::connected)
            line += " " + std::to_string(e.attempt);
        if (e.kind == tether::event_kind::disconnected) line += " " + tether::describe(e.reason);
        if (e.kind == tether::event_kind::decision)
            line += std::string(e.retry ? " retry " : " stop ") + std::to_string(e.delay.count()) + " ms, attempt " +
                    std::to_string(e.attempt);
        story.push_back(line);
        BOOST_TEST((e.at >= before && e.at <= after));
    }
    const std::vector<std::string> expected = {
        "state connecting",
        "attempt 1",
        "state connected",
        "connected 1",
        "disconnected " + tether::describe(first.why),
        "decision retry 10 ms, attempt 2",
        "state reconnecting",
        "state connecting",
        "attempt 2",
        "state connected",
        "connected 2",
        "state closing",  // async_close; then the link ends and the client with it
        "disconnected " + tether::describe(second.why),
        "state closed"};
    BOOST_TEST(story == expected, boost::test_tools::per_element());

    const auto s = c.stats();
    BOOST_TEST(s.uptime.count() == 0);  // none is up
    BOOST_TEST(s.bytes_sent >= first.bytes_sent + second.bytes_sent);
    BOOST_TEST(s.bytes_received >= first.bytes_received + second.bytes_received);
    BOOST_TEST(s.rtt_smoothed > 0us);
}

BOOST_AUTO_TEST_CASE(a_dead_link_is_reported_as_a_heartbeat_verdict)
{
    scenario sc([](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        co_await c.async_stay_silent(10s);  // reads nothing, so answers no ping
    });
    auto cfg = fast_config(sc.server.url());
    cfg.ping_interval = 10ms;
    cfg.pong_timeout = 20ms;
    cfg.policy = tether::never_policy{};
    std::vector<tether::client_event> events;
    sc.c.emplace(sc.ioc.get_executor(), cfg, [&] {
        auto cb = sc.log.callbacks();
        cb.on_event = [&](const tether::client_event& e) { events.push_back(e); };
        return cb;
    }());
    run(sc.ioc, [&]() -> asio::awaitable<void> { co_await sc.c->async_run(use_tuple); });
    std::vector<std::string_view> kinds;
    for (const auto& e : events)
        if (e.kind != tether::event_kind::state) kinds.push_back(tether::to_string(e.kind));
    using k = tether::event_kind;
    const std::vector<std::string_view> expected = {"attempt", "connected", "heartbeat_timeout", "disconnected",
                                                    "decision"};
    BOOST_TEST(kinds == expected, boost::test_tools::per_element());
    auto timeout = std::find_if(events.begin(), events.end(), [](auto& e) { return e.kind == k::heartbeat_timeout; });
    BOOST_REQUIRE(timeout != events.end());
    BOOST_TEST(timeout->delay.count() == 20);
    auto decision = std::find_if(events.begin(), events.end(), [](auto& e) { return e.kind == k::decision; });
    BOOST_REQUIRE(decision != events.end());
    BOOST_TEST(!decision->retry);  // never_policy
    BOOST_TEST((decision->reason.kind == tether::disconnect_kind::heartbeat_timeout));
    BOOST_TEST((events.back().kind == k::state && events.back().state == tether::client_state::closed));
}

BOOST_AUTO_TEST_CASE(failed_attempts_are_recorded_and_only_the_last_n_are_kept)
{
    scenario sc([](server_connection& c) -> asio::awaitable<void> { co_await c.async_reject(503); });
    auto cfg = fast_config(sc.server.url());  // 5 retries: 6 attempts
    cfg.history_size = 2;
    sc.run_until_finished(cfg);
    const auto h = sc.c->history();
    BOOST_REQUIRE_EQUAL(h.size(), 2u);
    BOOST_TEST(h[0].attempt == 5u);
    BOOST_TEST(h[1].attempt == 6u);
    for (const auto& r : h) {
        BOOST_TEST(r.why.http_status == 503u);
        BOOST_TEST((r.connected == std::chrono::system_clock::time_point{}));
        BOOST_TEST(r.bytes_received == 0u);
        BOOST_TEST(r.rtt.samples == 0u);
    }
    BOOST_REQUIRE(h[0].delay.has_value());
    BOOST_TEST(h[0].delay->count() == 10);
    BOOST_TEST(!h[1].delay.has_value());  // the policy gave up
}

BOOST_AUTO_TEST_CASE(a_history_of_size_zero_keeps_nothing)
{
    scenario sc([](server_connection& c) -> asio::awaitable<void> { co_await c.async_reject(503); });
    auto cfg = fast_config(sc.server.url());
    cfg.history_size = 0;
    sc.run_until_finished(cfg);
    BOOST_TEST(sc.c->history().empty());
}

BOOST_AUTO_TEST_SUITE_END()
