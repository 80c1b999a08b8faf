// Clients sharing an endpoint group against a real server on loopback: the server's view of the
// rate, the breaker holding attempts back and releasing them, and close while held.
#include "support.hpp"

#include <tether/endpoint_group.hpp>

#include <algorithm>
#include <memory>

using tether::client;
using tether::client_config;
using tether::endpoint_group;
using tether::endpoint_group_config;
using tether::testing::server_connection;
using tether::testing::test_server;
using namespace tether::test;

namespace {

// The group's one endpoint; empty before any client asked.
tether::endpoint_status now_of(const endpoint_group& g)
{
    const auto all = g.status();
    return all.empty() ? tether::endpoint_status{} : all.front();
}

tether::endpoint_status status_of(const endpoint_group& g)
{
    const auto all = g.status();
    BOOST_REQUIRE_EQUAL(all.size(), 1u);
    return all.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(endpoint_group_io)

BOOST_AUTO_TEST_CASE(clients_of_a_group_reach_the_server_no_faster_than_its_rate)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    auto group = std::make_shared<endpoint_group>(endpoint_group_config{.attempts_per_second = 20, .burst = 1});
    constexpr int n = 6;
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < n; ++i) {
        auto cfg = fast_config(server.url());
        cfg.group = group;
        clients.push_back(std::make_unique<client>(ioc.get_executor(), cfg));
    }
    run(ioc, [&]() -> asio::awaitable<void> {
        for (auto& c : clients) c->async_connect([](tether::error_code ec) { BOOST_TEST(!ec); });
        const bool all = co_await eventually([&] { return server.requests().size() == n; });
        BOOST_TEST(all);
        for (auto& c : clients) co_await c->async_close(use_tuple);
    });
    // One token at once, then one per 50 ms: the last attempt starts 5 x 50 ms after the first.
    // The server stamps a request when it has read it, and on a loaded machine the first may be
    // read late: one interval of slack (without the group, all six arrive within milliseconds).
    const auto& r = server.requests();
    BOOST_REQUIRE_EQUAL(r.size(), std::size_t(n));
    const auto span = r.back().received_at - r.front().received_at;
    BOOST_TEST(span >= 200ms, std::chrono::duration_cast<std::chrono::milliseconds>(span).count() << " ms");
    const auto s = status_of(*group);
    BOOST_TEST(s.endpoint == "ws://127.0.0.1:" + std::to_string(server.port()));
    BOOST_TEST(s.admitted == std::uint64_t(n));
    BOOST_TEST(s.in_flight == 0u);
    BOOST_TEST(s.waiting == 0u);
}

BOOST_AUTO_TEST_CASE(the_breaker_holds_the_group_back_while_the_server_fails_and_a_probe_releases_it)
{
    asio::io_context ioc;
    bool failing = true;
    int rejected = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        if (failing) {
            ++rejected;
            co_await c.async_reject(503);
            co_return;
        }
        co_await c.async_accept();
        co_await c.async_echo();
    });
    constexpr unsigned breaker_failures = 3;
    auto group = std::make_shared<endpoint_group>(endpoint_group_config{.attempts_per_second = 1000,
                                                                        .burst = 100,
                                                                        .breaker_failures = breaker_failures,
                                                                        .breaker_cooldown = 100ms,
                                                                        .release_window = 50ms});
    constexpr int n = 4;
    std::vector<std::unique_ptr<client>> clients;
    event_log log(ioc.get_executor());
    for (int i = 0; i < n; ++i) {
        auto cfg = fast_config(server.url(), 5ms);
        // Retry for ever, every 5 ms.
        cfg.policy = tether::exponential_policy{.initial = 5ms, .multiplier = 1, .jitter = 0, .max_delay = 5ms};
        cfg.group = group;
        clients.push_back(std::make_unique<client>(ioc.get_executor(), cfg, log.callbacks()));
    }
    std::uint64_t probes_while_down = 0;
    run(ioc, [&]() -> asio::awaitable<void> {
        for (auto& c : clients) c->async_run([](tether::error_code) {});
        // Down for three cool-downs: without the group, 4 clients retrying every 5 ms would
        // make about 240 attempts.
        co_await eventually([&] { return now_of(*group).probes >= 3; });
        probes_while_down = now_of(*group).probes;
        failing = false;
        co_await log.wait_until([&] { return log.count("connected") == n; });
        for (auto& c : clients) co_await c->async_close(use_tuple);
    });
    const auto s = status_of(*group);
    BOOST_TEST((s.breaker == tether::breaker_state::closed));
    BOOST_TEST(s.breaker_openings == 1u);
    // The failures that opened the breaker, those of the other clients' attempts already under
    // way then, and after that the probes only, one per cool-down.
    BOOST_TEST(rejected <= int(breaker_failures + (n - 1) + probes_while_down),
               rejected << " rejected, " << probes_while_down << " probes");
    BOOST_TEST(s.probes >= probes_while_down);
    BOOST_TEST(s.probes <= probes_while_down + 1);
    const auto held = std::count_if(log.events().begin(), log.events().end(),
                                    [](const event& e) { return e.what == "reconnecting" && e.held_by_group; });
    BOOST_TEST(held >= n - 1, held << " waits reported");
}

BOOST_AUTO_TEST_CASE(close_while_held_by_the_group_is_prompt)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    auto group = std::make_shared<endpoint_group>(endpoint_group_config{.attempts_per_second = 0.5, .burst = 1});
    auto cfg = fast_config(server.url());
    cfg.group = group;
    client first(ioc.get_executor(), cfg), held(ioc.get_executor(), cfg);
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await first.async_connect(use_tuple);
        BOOST_TEST(!ec);
        bool run_done = false;
        held.async_run([&](tether::error_code) { run_done = true; });
        BOOST_TEST(co_await eventually([&] { return now_of(*group).waiting == 1; }));  // its token comes in 2 s
        const auto asked = clock_type::now();
        co_await held.async_close(use_tuple);
        const auto took = clock_type::now() - asked;
        BOOST_TEST(took < 500ms, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
        BOOST_TEST(co_await eventually([&] { return run_done; }));
        BOOST_TEST((held.state() == tether::client_state::closed));
        co_await first.async_close(use_tuple);
    });
    BOOST_TEST(server.requests().size() == 1u);  // the held client never reached the server
    const auto s = status_of(*group);
    BOOST_TEST(s.waiting == 0u);
    BOOST_TEST(s.in_flight == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
