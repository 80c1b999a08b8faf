// endpoint_gate, the endpoint group's decisions as a pure state machine: each row is one client
// asking or reporting at a given time, with the verdict and the clients it wakes.
#include "endpoint_gate.hpp"

#include <tether/endpoint_group.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using tether::breaker_state;
using tether::endpoint_group_config;
using tether::detail::attempt_outcome;
using tether::detail::endpoint_gate;
using tether::detail::gate_clock;
using tether::detail::gate_ticket;

namespace {

const gate_clock::time_point t0 = gate_clock::time_point(1000h);

enum class op { ask, answered, failed, abandoned, leave };

constexpr int woken_only = -1;  // a verdict that waits for a wake-up, with no time

struct row {
    int at_ms;
    int client;
    op what;
    bool go = false;              // for ask
    int until_ms = woken_only;    // for ask that waits: the time to ask again
    std::vector<int> woken = {};  // clients the step wakes, in any order
    std::optional<breaker_state> breaker = {};
};

void run(const endpoint_group_config& cfg, const std::vector<row>& rows)
{
    cfg.validate();
    endpoint_gate gate(cfg, t0);
    std::map<int, gate_ticket> tickets;
    int n = 0;
    for (const row& r : rows) {
        BOOST_TEST_CONTEXT("row " << n++ << ": client " << r.client << " at " << r.at_ms << " ms")
        {
            gate_ticket& t = tickets[r.client];
            t.id = static_cast<std::uint64_t>(r.client);
            const auto now = t0 + std::chrono::milliseconds(r.at_ms);
            std::vector<std::uint64_t> wake;
            switch (r.what) {
            case op::ask: {
                const auto v = gate.ask(t, now, wake);
                BOOST_TEST(v.go == r.go);
                if (!r.go) {
                    const auto expected = r.until_ms == woken_only ? gate_clock::time_point::max()
                                                                   : t0 + std::chrono::milliseconds(r.until_ms);
                    BOOST_TEST((v.until == expected),
                               "until " << (v.until == gate_clock::time_point::max()
                                                ? -1
                                                : std::chrono::duration_cast<std::chrono::milliseconds>(v.until - t0)
                                                      .count()));
                }
                break;
            }
            case op::answered: gate.finished(t, attempt_outcome::answered, now, wake); break;
            case op::failed: gate.finished(t, attempt_outcome::failed, now, wake); break;
            case op::abandoned: gate.finished(t, attempt_outcome::abandoned, now, wake); break;
            case op::leave: gate.leave(t, now, wake); break;
            }
            std::vector<int> got;
            for (auto id : wake) got.push_back(static_cast<int>(id));
            std::sort(got.begin(), got.end());
            std::vector<int> expected = r.woken;
            std::sort(expected.begin(), expected.end());
            BOOST_TEST(got == expected, boost::test_tools::per_element());
            if (r.breaker) BOOST_TEST((gate.breaker() == *r.breaker));
        }
    }
}

endpoint_group_config fast()
{
    endpoint_group_config c;
    c.attempts_per_second = 1e6;
    c.burst = 1000;
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(endpoint_gate_table)

BOOST_AUTO_TEST_CASE(outcomes_count_what_the_endpoint_said)
{
    using k = tether::disconnect_kind;
    struct case_ {
        bool connected;
        tether::disconnect why;
        attempt_outcome expected;
    };
    const case_ cases[] = {
        {true, {}, attempt_outcome::answered},
        {false, tether::http_status_disconnect(401), attempt_outcome::answered},
        {false, tether::http_status_disconnect(404), attempt_outcome::answered},
        {false, tether::http_status_disconnect(429), attempt_outcome::failed},
        {false, tether::http_status_disconnect(503), attempt_outcome::failed},
        {false, tether::http_status_disconnect(500), attempt_outcome::failed},
        {false, tether::error_disconnect(k::connect, boost::asio::error::connection_refused), attempt_outcome::failed},
        {false, tether::error_disconnect(k::resolve, boost::asio::error::host_not_found), attempt_outcome::failed},
        {false, tether::error_disconnect(k::timeout, tether::error::connect_timeout), attempt_outcome::failed},
        {false, tether::error_disconnect(k::tls, boost::asio::error::connection_reset), attempt_outcome::failed},
        {false, tether::proxy_status_disconnect(502), attempt_outcome::failed},
        {false, {.kind = k::user}, attempt_outcome::abandoned},
        {false, {.kind = k::token, .error = tether::error::token_failed}, attempt_outcome::abandoned},
    };
    for (const auto& c : cases) BOOST_TEST_CONTEXT(tether::describe(c.why))
        {
            BOOST_TEST((tether::detail::outcome_of(c.connected, c.why) == c.expected));
        }
}

BOOST_AUTO_TEST_CASE(the_bucket_lets_a_burst_go_then_spaces_the_rest_at_the_rate)
{
    endpoint_group_config c;
    c.attempts_per_second = 10;
    c.burst = 2;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, true},
               {0, 3, op::ask, false, 100},  // reserved: the bucket's next token
               {0, 4, op::ask, false, 200},
               {50, 3, op::ask, false, 100},  // woken early: the same reservation
               {100, 3, op::ask, true},
               {200, 4, op::ask, true},
               {1000, 1, op::answered},
               {1000, 2, op::answered},
               {1000, 3, op::answered},
               {1000, 4, op::answered},
               {2000, 5, op::ask, true},  // refilled, but never above the burst
               {2000, 6, op::ask, true},
               {2000, 7, op::ask, false, 2100},
           });
}

BOOST_AUTO_TEST_CASE(the_cap_queues_clients_first_come_first_served)
{
    auto c = fast();
    c.max_concurrent_attempts = 2;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, true},
               {0, 3, op::ask, false},
               {0, 4, op::ask, false},
               {10, 1, op::answered, false, woken_only, {3}},
               {10, 4, op::ask, false},  // woken by someone else's change: still behind 3
               {10, 3, op::ask, true},
               {20, 2, op::failed, false, woken_only, {4}},
               {20, 4, op::ask, true},
               {30, 5, op::ask, false},
               {40, 3, op::leave, false, woken_only, {5}},  // leaving after admission frees the slot too
               {40, 5, op::ask, true},
           });
}

BOOST_AUTO_TEST_CASE(a_client_that_leaves_the_queue_passes_its_turn_on)
{
    auto c = fast();
    c.max_concurrent_attempts = 1;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, false},
               {0, 3, op::ask, false},
               {10, 2, op::leave},  // first in line, but no slot is free: nobody to wake
               {20, 1, op::answered, false, woken_only, {3}},
               {20, 3, op::ask, true},
           });
}

BOOST_AUTO_TEST_CASE(the_breaker_opens_after_consecutive_failures_and_one_probe_goes_after_the_cooldown)
{
    auto c = fast();
    c.breaker_failures = 2;
    c.breaker_cooldown = 1000ms;
    c.release_window = 0ms;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, true},
               {0, 3, op::ask, true},
               {5, 1, op::failed, false, woken_only, {}, breaker_state::closed},
               {6, 2, op::failed, false, woken_only, {}, breaker_state::open},
               {10, 4, op::ask, false, 1006},  // held for the cooldown
               {10, 5, op::ask, false, 1006},
               {20, 3, op::failed, false, woken_only, {}, breaker_state::open},     // from before the opening
               {1006, 4, op::ask, true, woken_only, {}, breaker_state::half_open},  // the probe
               {1006, 5, op::ask, false},                                           // waits for its result
               {1100, 4, op::failed, false, woken_only, {5}, breaker_state::open},  // still down: cool down again
               {1100, 5, op::ask, false, 2100},
               {2100, 5, op::ask, true, woken_only, {}, breaker_state::half_open},
               {2100, 6, op::ask, false},
               {2200, 5, op::answered, false, woken_only, {6}, breaker_state::closed},
               {2200, 6, op::ask, true},
               {2200, 7, op::ask, true},
           });
}

BOOST_AUTO_TEST_CASE(an_answer_resets_the_count_of_consecutive_failures)
{
    auto c = fast();
    c.breaker_failures = 3;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, true},
               {0, 3, op::ask, true},
               {0, 4, op::ask, true},
               {0, 5, op::ask, true},
               {1, 1, op::failed},
               {2, 2, op::failed},
               {3, 3, op::answered},
               {4, 4, op::failed},
               {5, 5, op::failed, false, woken_only, {}, breaker_state::closed},
               {6, 6, op::ask, true},
           });
}

BOOST_AUTO_TEST_CASE(the_waiting_clients_are_released_spread_over_the_window)
{
    auto c = fast();
    c.breaker_failures = 1;
    c.breaker_cooldown = 100ms;
    c.release_window = 1000ms;
    run(c, {
               {0, 1, op::ask, true},
               {1, 1, op::failed, false, woken_only, {}, breaker_state::open},
               {2, 2, op::ask, false, 101},
               {2, 3, op::ask, false, 101},
               {2, 4, op::ask, false, 101},
               {2, 5, op::ask, false, 101},
               {101, 2, op::ask, true, woken_only, {}, breaker_state::half_open},
               {101, 3, op::ask, false},
               {101, 4, op::ask, false},
               {101, 5, op::ask, false},
               {102, 6, op::ask, false},
               {200, 2, op::answered, false, woken_only, {3, 4, 5, 6}, breaker_state::closed},
               {200, 4, op::ask, true},  // places in the order they ask: 0, 250, 500, 750 ms
               {200, 3, op::ask, false, 450},
               {200, 6, op::ask, false, 700},
               {201, 5, op::ask, false, 950},
               {450, 3, op::ask, true},
               {460, 7, op::ask, true},  // a newcomer was never held: not in the spread
           });
}

BOOST_AUTO_TEST_CASE(an_opening_voids_the_reservations_made_before_it)
{
    endpoint_group_config c;
    c.attempts_per_second = 10;
    c.burst = 1;
    c.breaker_failures = 1;
    c.breaker_cooldown = 1000ms;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, false, 100},  // reserved
               {50, 1, op::failed, false, woken_only, {}, breaker_state::open},
               {100, 2, op::ask, false, 1050},  // its reservation is void: it waits for the breaker
           });
}

BOOST_AUTO_TEST_CASE(an_abandoned_probe_lets_the_next_client_probe_at_once)
{
    auto c = fast();
    c.breaker_failures = 1;
    c.breaker_cooldown = 100ms;
    run(c, {
               {0, 1, op::ask, true},
               {1, 1, op::failed, false, woken_only, {}, breaker_state::open},
               {5, 2, op::ask, false, 101},
               {101, 3, op::ask, true, woken_only, {}, breaker_state::half_open},
               {101, 2, op::ask, false},
               {150, 3, op::leave, false, woken_only, {2}, breaker_state::open},  // closed by its application
               {150, 2, op::ask, true, woken_only, {}, breaker_state::half_open},
           });
}

BOOST_AUTO_TEST_CASE(an_attempt_from_before_the_opening_that_reaches_the_server_closes_the_breaker)
{
    auto c = fast();
    c.breaker_failures = 1;
    c.breaker_cooldown = 10s;
    c.release_window = 0ms;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, true},
               {1, 1, op::failed, false, woken_only, {}, breaker_state::open},
               {2, 3, op::ask, false, 10001},
               {3, 2, op::answered, false, woken_only, {3}, breaker_state::closed},
               {3, 3, op::ask, true},
           });
}

BOOST_AUTO_TEST_CASE(a_client_in_line_for_a_slot_waits_for_the_breaker_like_the_others)
{
    auto c = fast();
    c.max_concurrent_attempts = 1;
    c.breaker_failures = 1;
    c.breaker_cooldown = 100ms;
    run(c, {
               {0, 1, op::ask, true},
               {0, 2, op::ask, false},
               {1, 1, op::failed, false, woken_only, {2}, breaker_state::open},
               {1, 2, op::ask, false, 101},  // leaves the queue for the breaker's wait
               {101, 2, op::ask, true, woken_only, {}, breaker_state::half_open},
           });
}

BOOST_AUTO_TEST_CASE(invalid_configurations_are_refused_naming_the_field)
{
    auto refused = [](auto change, const char* field) {
        endpoint_group_config c;
        change(c);
        try {
            c.validate();
            BOOST_ERROR("accepted an invalid " << field);
        } catch (const std::invalid_argument& e) {
            BOOST_TEST(std::string(e.what()).starts_with(field), e.what());
        }
    };
    refused([](auto& c) { c.attempts_per_second = 0; }, "attempts_per_second");
    refused([](auto& c) { c.attempts_per_second = -1; }, "attempts_per_second");
    refused([](auto& c) { c.attempts_per_second = std::numeric_limits<double>::quiet_NaN(); }, "attempts_per_second");
    refused([](auto& c) { c.burst = 0; }, "burst");
    refused([](auto& c) { c.breaker_cooldown = 0ms; }, "breaker_cooldown");
    refused([](auto& c) { c.release_window = -1ms; }, "release_window");
    BOOST_CHECK_NO_THROW(tether::endpoint_group(endpoint_group_config{}));
}

BOOST_AUTO_TEST_SUITE_END()
