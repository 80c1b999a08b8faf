// supervisor_fsm, the supervisor's decisions without sockets or clocks: each row is one event,
// at a time, with the action it produces, and the history record each connection leaves.
#include "supervisor_fsm.hpp"

#include <tether/endpoint_group.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using tether::client_config;
using tether::disconnect;
using tether::detail::clock_type;
using tether::detail::supervisor_action;
using tether::detail::supervisor_event;
using tether::detail::supervisor_fsm;

namespace {

const clock_type::time_point t0 = clock_type::time_point(1000h);
const std::chrono::system_clock::time_point wall0 = std::chrono::system_clock::time_point(1000h);

using ev = supervisor_event::kind;

disconnect refused()
{
    return tether::error_disconnect(tether::disconnect_kind::connect, boost::asio::error::connection_refused);
}

// One event at `ms` after t0.
struct row {
    int ms;
    ev what;
    std::string expected;  // the action, as `show` prints it
    disconnect why = {};
    bool healthy = false;
};

// "connect 1", "wait 2000 ms for 2, told", "finish: close 4003 (unauthorized), decided", ...
std::string show(const supervisor_action& a)
{
    using k = supervisor_action::kind;
    switch (a.what) {
    case k::none: return "none";
    case k::wait_for_group: return "wait_for_group " + std::to_string(a.attempt);
    case k::connect: return "connect " + std::to_string(a.attempt);
    case k::run_link:
        return std::string("run_link") + (a.close_at_once ? ", close at once" : "") +
               (a.stop_at_once ? ", stop at once" : "");
    case k::wait:
        return "wait " + std::to_string(a.delay.count()) + " ms" +
               (a.report ? " for " + std::to_string(a.attempt) + ", told" : "");
    case k::stop_step: return "stop_step";
    case k::close_link: return "close_link";
    case k::finish: return "finish: " + tether::describe(*a.why) + (a.decided_to_stop ? ", decided" : "");
    }
    return "?";
}

// Feeds `rows` in order; checks each action; returns the records, in order.
std::vector<tether::connection_record> run(const client_config& cfg, const std::vector<row>& rows)
{
    supervisor_fsm fsm(cfg, t0);
    std::vector<tether::connection_record> records;
    int n = 0;
    for (const row& r : rows) {
        BOOST_TEST_CONTEXT("row " << n++ << " at " << r.ms << " ms")
        {
            supervisor_event e;
            e.what = r.what;
            e.now = t0 + std::chrono::milliseconds(r.ms);
            e.wall = wall0 + std::chrono::milliseconds(r.ms);
            e.why = r.why;
            e.healthy = r.healthy;
            e.random = 0.5;
            BOOST_TEST(show(fsm.on(e)) == r.expected);
            if (auto record = fsm.take_record()) records.push_back(*record);
        }
    }
    return records;
}

client_config config()
{
    client_config cfg;
    cfg.url = "ws://127.0.0.1:1/";
    cfg.policy = tether::seed_policy{.delay = 2000ms, .max_retries = 2, .jitter = 0};
    cfg.manual_reconnect_delay = 500ms;
    return cfg;
}

std::chrono::milliseconds at(std::chrono::system_clock::time_point t)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - wall0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(supervisor_fsm_table)

BOOST_AUTO_TEST_CASE(retries_per_the_policy_and_records_each_attempt)
{
    const auto records =
        run(config(), {
                          {0, ev::start, "connect 1"},
                          {10, ev::connect_failed, "wait 2000 ms for 2, told", refused()},
                          {2010, ev::wait_over, "connect 2"},
                          {2020, ev::connect_failed, "wait 2000 ms for 3, told", refused()},
                          {4020, ev::wait_over, "connect 3"},
                          {4030, ev::connect_failed, "finish: " + tether::describe(refused()) + ", decided", refused()},
                          {4040, ev::wait_over, "none"},  // finished: nothing more
                      });
    BOOST_REQUIRE_EQUAL(records.size(), 3u);
    BOOST_TEST(records[0].attempt == 1u);
    BOOST_TEST(at(records[0].started).count() == 0);
    BOOST_TEST(at(records[0].ended).count() == 10);
    BOOST_TEST((records[0].connected == std::chrono::system_clock::time_point{}));
    BOOST_TEST(records[0].delay.value().count() == 2000);
    BOOST_TEST(records[2].attempt == 3u);
    BOOST_TEST(!records[2].delay.has_value());  // the policy gave up
}

BOOST_AUTO_TEST_CASE(a_healthy_link_resets_the_budget)
{
    const auto close_1011 = tether::close_frame_disconnect(1011, "");
    const auto records = run(
        config(), {
                      {0, ev::start, "connect 1"},
                      {5, ev::connect_failed, "wait 2000 ms for 2, told", refused()},
                      {2005, ev::wait_over, "connect 2"},
                      {2010, ev::connected, "run_link"},
                      {9000, ev::link_ended, "wait 2000 ms for 2, told", close_1011, true},
                      {11000, ev::wait_over, "connect 2"},
                      {11010, ev::connected, "run_link"},
                      // Not healthy: the budget goes on (2 retries: then stop).
                      {11020, ev::link_ended, "wait 2000 ms for 3, told", close_1011, false},
                      {13020, ev::wait_over, "connect 3"},
                      {13030, ev::connect_failed, "finish: " + tether::describe(refused()) + ", decided", refused()},
                  });
    BOOST_REQUIRE_EQUAL(records.size(), 4u);
    BOOST_TEST(records[1].healthy);
    BOOST_TEST(at(records[1].connected).count() == 2010);
    BOOST_TEST(records[1].why.close_code == 1011);
}

BOOST_AUTO_TEST_CASE(close_during_the_backoff_finishes_at_once_and_leaves_no_record)
{
    const auto records =
        run(config(), {
                          {0, ev::start, "connect 1"},
                          {5, ev::connect_failed, "wait 2000 ms for 2, told", refused()},
                          {100, ev::close, "stop_step"},  // the wait is cut short
                          {101, ev::wait_over, "finish: " + tether::describe(tether::detail::user_disconnect())},
                          {102, ev::close, "none"},
                      });
    BOOST_TEST(records.size() == 1u);  // the attempt; the wait is none
}

BOOST_AUTO_TEST_CASE(reconnect_during_the_backoff_resets_the_budget_and_waits_the_manual_delay)
{
    run(config(), {
                      {0, ev::start, "connect 1"},
                      {5, ev::connect_failed, "wait 2000 ms for 2, told", refused()},
                      {6, ev::wait_over, "connect 2"},
                      {7, ev::connect_failed, "wait 2000 ms for 3, told", refused()},
                      {100, ev::reconnect, "stop_step"},
                      {101, ev::wait_over, "wait 500 ms"},  // not told: the application asked
                      {601, ev::wait_over, "connect 1"},    // budgets reset
                      {602, ev::connect_failed, "wait 2000 ms for 2, told", refused()},
                  });
}

BOOST_AUTO_TEST_CASE(close_and_reconnect_while_connecting_and_while_running)
{
    const auto user = tether::describe(tether::detail::user_disconnect());
    // Close while connecting: the step stops, and its end finishes the client.
    auto records = run(config(), {
                                     {0, ev::start, "connect 1"},
                                     {5, ev::close, "stop_step"},
                                     {6, ev::connect_failed, "finish: " + user, tether::detail::user_disconnect()},
                                 });
    BOOST_REQUIRE_EQUAL(records.size(), 1u);
    BOOST_TEST(!records[0].delay.has_value());
    // Close while running: the link closes politely; its end finishes the client.
    run(config(), {
                      {0, ev::start, "connect 1"},
                      {5, ev::connected, "run_link"},
                      {50, ev::close, "close_link"},
                      {51, ev::reconnect, "none"},  // closing: ignored
                      {60, ev::link_ended, "finish: " + user, tether::close_frame_disconnect(1000, "")},
                  });
    // Close, then the upgrade succeeds anyway: the link runs to be closed at once.
    run(config(), {
                      {0, ev::start, "connect 1"},
                      {5, ev::close, "stop_step"},
                      {6, ev::connected, "run_link, close at once"},
                      {7, ev::link_ended, "finish: " + user, tether::close_frame_disconnect(1000, "")},
                  });
    // Reconnect while running: the link is stopped; the manual delay follows, budgets reset.
    run(config(), {
                      {0, ev::start, "connect 1"},
                      {5, ev::connected, "run_link"},
                      {50, ev::reconnect, "stop_step"},
                      {51, ev::link_ended, "wait 500 ms for 1, told", tether::detail::user_disconnect()},
                      {551, ev::wait_over, "connect 1"},
                  });
    // Reconnect while connecting, then connected: the link runs to be stopped at once.
    run(config(), {
                      {0, ev::start, "connect 1"},
                      {5, ev::reconnect, "stop_step"},
                      {6, ev::connected, "run_link, stop at once"},
                  });
    // Close before the start: the end at once.
    run(config(), {
                      {0, ev::close, "finish: " + user},
                      {1, ev::start, "none"},
                  });
}

BOOST_AUTO_TEST_CASE(with_a_group_each_attempt_waits_for_the_gate_first)
{
    auto cfg = config();
    cfg.group = std::make_shared<tether::endpoint_group>();
    const auto user = tether::describe(tether::detail::user_disconnect());
    const auto records = run(cfg, {
                                      {0, ev::start, "wait_for_group 1"},
                                      {300, ev::group_passed, "connect 1"},
                                      {310, ev::connect_failed, "wait 2000 ms for 2, told", refused()},
                                      {2310, ev::wait_over, "wait_for_group 2"},
                                      {2400, ev::close, "stop_step"},  // closed while held by the group
                                      {2401, ev::connect_failed, "finish: " + user, tether::detail::user_disconnect()},
                                  });
    BOOST_REQUIRE_EQUAL(records.size(), 2u);
    BOOST_TEST(at(records[0].started).count() == 0);  // the group's wait counts in the attempt
    BOOST_TEST(at(records[0].ended).count() == 310);
    BOOST_TEST(records[1].attempt == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
