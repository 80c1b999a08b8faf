// retry_plan, the supervisor's reconnect decisions as a pure state machine: each row is one
// attempt ending, stepped by hand, with the decision and the history the policy saw.
#include "supervisor.hpp"

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <span>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using tether::disconnect;
using tether::failure_class;
using tether::reconnect_history;
using tether::detail::attempt_result;
using tether::detail::clock_type;
using tether::detail::next_step;
using tether::detail::retry_plan;

namespace {

const clock_type::time_point t0 = clock_type::time_point(1000h);

disconnect refused()
{
    return tether::error_disconnect(tether::disconnect_kind::connect, boost::asio::error::connection_refused);
}
disconnect close_with(std::uint16_t code)
{
    return tether::close_frame_disconnect(code, "");
}
disconnect http(unsigned status, std::string_view retry_after = {})
{
    return tether::http_status_disconnect(status, retry_after);
}
disconnect user()
{
    return {.kind = tether::disconnect_kind::user};
}

// One attempt's end, at `ended` after t0; a link that connected did so at `connected`.
struct ending {
    disconnect why;
    milliseconds ended;
    bool connected = false;
    bool healthy = false;
    milliseconds connected_at{0};

    attempt_result result() const
    {
        return {.why = why,
                .connected = connected,
                .healthy = healthy,
                .connected_at = t0 + connected_at,
                .ended_at = t0 + ended};
    }
};

// The decision, as the rows write it.
struct decision {
    bool stop;
    milliseconds delay;
    unsigned attempt;
};

struct row {
    const char* what;
    ending end;
    double random;
    decision expected;
};

// Steps `plan` through `rows` in order, checking each decision, and that next_attempt() agrees.
void step_through(retry_plan& plan, std::span<const row> rows)
{
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            const next_step s = plan.after(r.end.result(), r.random);
            BOOST_TEST(s.stop == r.expected.stop);
            BOOST_TEST(s.delay.count() == r.expected.delay.count());
            BOOST_TEST(s.attempt == r.expected.attempt);
            BOOST_TEST(tether::describe(s.why) == tether::describe(r.end.why));
            if (!s.stop) BOOST_TEST(plan.next_attempt() == s.attempt);
        }
    }
}

constexpr decision stop{true, 0ms, 0};
constexpr decision retry(milliseconds d, unsigned attempt)
{
    return {false, d, attempt};
}

tether::client_config config()
{
    tether::client_config cfg;
    cfg.url = "ws://localhost/";
    return cfg;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retry_plan_decisions)

BOOST_AUTO_TEST_CASE(the_first_attempt_is_one)
{
    const auto cfg = config();
    const retry_plan plan(cfg, t0);
    BOOST_TEST(plan.next_attempt() == 1u);
    BOOST_TEST(plan.history().attempts == 0u);
}

// The seed policy (2 s +-10 %, 5 ordinary retries, 3 for 4001/404 at 2 s x n) through after():
// the jitter comes from the sample passed in, Retry-After is a floor, the classes keep separate
// budgets, and links that connected but never proved healthy count like any failure.
BOOST_AUTO_TEST_CASE(seed_policy_schedule)
{
    const auto cfg = config();
    retry_plan plan(cfg, t0);
    const row rows[] = {
        {"refused, random 0.5: exactly 2 s", {refused(), 1s}, 0.5, retry(2000ms, 2)},
        {"refused, random 0: -10 %", {refused(), 3s}, 0.0, retry(1800ms, 3)},
        {"refused, random 0.75: +5 %", {refused(), 5s}, 0.75, retry(2100ms, 4)},
        {"429 with Retry-After 7 s: longer than the delay", {http(429, "7"), 7s}, 0.5, retry(7000ms, 5)},
        {"4001: its own budget, 2 s x 1", {close_with(4001), 14s}, 0.5, retry(2000ms, 6)},
        {"404: the same budget, 2 s x 2", {http(404), 16s}, 0.5, retry(4000ms, 7)},
        {"connected, not healthy, 1006: the 5th ordinary retry",
         {close_with(1006), 30s, true, false, 20s},
         0.5,
         retry(2000ms, 8)},
        {"refused: the 6th ordinary failure, the budget is spent", {refused(), 32s}, 0.5, stop},
    };
    step_through(plan, rows);
    BOOST_TEST(plan.history().attempts == 8u);
    BOOST_TEST(plan.history().attempts_in(failure_class::transient) == 5u);
    BOOST_TEST(plan.history().attempts_in(failure_class::throttled) == 1u);
    BOOST_TEST(plan.history().attempts_in(failure_class::not_found) == 2u);
}

BOOST_AUTO_TEST_CASE(not_found_budget)
{
    const auto cfg = config();
    retry_plan plan(cfg, t0);
    const row rows[] = {
        {"4001: 2 s", {close_with(4001), 1s}, 0.5, retry(2000ms, 2)},
        {"4001: 4 s", {close_with(4001), 3s}, 0.5, retry(4000ms, 3)},
        {"404: 6 s", {http(404), 7s}, 0.5, retry(6000ms, 4)},
        {"4001: the 4th, stop", {close_with(4001), 13s}, 0.5, stop},
    };
    step_through(plan, rows);
}

// Budgets reset only after a link proved healthy; then the attempt count starts again (the
// reconnect after a healthy link is attempt 2: its own failure is attempt 1).
BOOST_AUTO_TEST_CASE(a_healthy_link_resets_the_budget)
{
    const auto cfg = config();
    retry_plan plan(cfg, t0);
    const row rows[] = {
        {"refused 1", {refused(), 1s}, 0.5, retry(2000ms, 2)},
        {"refused 2", {refused(), 3s}, 0.5, retry(2000ms, 3)},
        {"refused 3", {refused(), 5s}, 0.5, retry(2000ms, 4)},
        {"refused 4", {refused(), 7s}, 0.5, retry(2000ms, 5)},
        {"refused 5", {refused(), 9s}, 0.5, retry(2000ms, 6)},
        {"a healthy link, dropped: the count restarts",
         {close_with(1006), 100s, true, true, 11s},
         0.5,
         retry(2000ms, 2)},
        {"refused 1 again", {refused(), 102s}, 0.5, retry(2000ms, 3)},
        {"refused 2 again", {refused(), 104s}, 0.5, retry(2000ms, 4)},
        {"refused 3 again", {refused(), 106s}, 0.5, retry(2000ms, 5)},
        {"refused 4 again: the 5th failure since the healthy link", {refused(), 108s}, 0.5, retry(2000ms, 6)},
        {"refused 5 again: the 6th, stop", {refused(), 110s}, 0.5, stop},
    };
    step_through(plan, rows);
}

// A server that accepts the upgrade and drops at once never resets the budget.
BOOST_AUTO_TEST_CASE(connected_but_never_healthy_does_not_reset)
{
    const auto cfg = config();
    retry_plan plan(cfg, t0);
    std::vector<row> rows;
    for (unsigned i = 1; i <= 5; ++i)
        rows.push_back({"accepted and dropped",
                        {close_with(1006), milliseconds(i * 1000), true, false},
                        0.5,
                        retry(2000ms, i + 1)});
    rows.push_back({"the 6th: stop", {close_with(1006), 6s, true, false}, 0.5, stop});
    step_through(plan, rows);
}

// Permanent failures and the application's own end stop at once, healthy link or not, whatever
// the policy would say.
BOOST_AUTO_TEST_CASE(permanent_and_user_endings_stop)
{
    struct stop_row {
        const char* what;
        ending end;
    };
    const stop_row rows[] = {
        {"4003", {close_with(4003), 1s}},  {"HTTP 401", {http(401), 1s}},
        {"HTTP 403", {http(403), 1s}},     {"4003 on a healthy link", {close_with(4003), 1s, true, true}},
        {"the application", {user(), 1s}}, {"the application, on a healthy link", {user(), 1s, true, true}},
    };
    auto cfg = config();
    cfg.policy = [](const disconnect&, const reconnect_history&) { return tether::reconnect_decision{1ms}; };
    auto seed_cfg = config();
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            retry_plan seed(seed_cfg, t0);
            const next_step s = seed.after(r.end.result(), 0.5);
            BOOST_TEST(s.stop);
            BOOST_TEST(s.attempt == 0u);
            BOOST_TEST((s.why.kind == r.end.why.kind));
        }
    }
    // A policy that always retries is not asked about the application's own end.
    retry_plan always(cfg, t0);
    BOOST_TEST(!always.after(ending{close_with(4003), 1s}.result(), 0.5).stop);  // asked: retries
    BOOST_TEST(always.after(ending{user(), 2s}.result(), 0.5).stop);             // not asked
}

// What the policy sees, row by row: the counts (this failure included), the time since the last
// healthy link (or the start), the uptime of a link that connected, and the random sample.
BOOST_AUTO_TEST_CASE(history_given_to_the_policy)
{
    std::vector<reconnect_history> seen;
    auto cfg = config();
    cfg.policy = [&seen](const disconnect&, const reconnect_history& h) {
        seen.push_back(h);
        return tether::reconnect_decision{100ms};
    };
    struct history_row {
        const char* what;
        ending end;
        double random;
        unsigned attempts;
        unsigned transient, not_found, throttled;
        milliseconds since_healthy;
        milliseconds uptime;
    };
    const history_row rows[] = {
        {"refused at 2 s", {refused(), 2s}, 0.25, 1, 1, 0, 0, 2s, 0ms},
        {"404 at 5 s", {http(404), 5s}, 0.5, 2, 1, 1, 0, 5s, 0ms},
        {"503 at 6 s", {http(503), 6s}, 0.0, 3, 1, 1, 1, 6s, 0ms},
        {"connected 7-9.5 s, not healthy",
         {close_with(1011), 9500ms, true, false, 7s},
         0.9,
         4,
         2,
         1,
         1,
         9500ms,
         2500ms},
        {"healthy 10-60 s: counts reset, since_healthy 0",
         {close_with(1001), 60s, true, true, 10s},
         0.1,
         1,
         1,
         0,
         0,
         0ms,
         50s},
        {"refused at 61 s: since the healthy link's end", {refused(), 61s}, 0.3, 2, 2, 0, 0, 1s, 0ms},
    };
    retry_plan plan(cfg, t0);
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            const std::size_t before = seen.size();
            const next_step s = plan.after(r.end.result(), r.random);
            BOOST_TEST(!s.stop);
            BOOST_TEST(s.delay.count() == 100);
            BOOST_TEST(s.attempt == r.attempts + 1);
            BOOST_REQUIRE(seen.size() == before + 1);
            const reconnect_history& h = seen.back();
            BOOST_TEST(h.attempts == r.attempts);
            BOOST_TEST(h.attempts_in(failure_class::transient) == r.transient);
            BOOST_TEST(h.attempts_in(failure_class::not_found) == r.not_found);
            BOOST_TEST(h.attempts_in(failure_class::throttled) == r.throttled);
            BOOST_TEST(h.attempts_in(failure_class::permanent) == 0u);
            BOOST_TEST(h.since_healthy.count() == r.since_healthy.count());
            BOOST_TEST(h.uptime.count() == r.uptime.count());
            BOOST_TEST(h.random == r.random);
            BOOST_TEST(plan.history().attempts == h.attempts);
        }
    }
}

// reconnect(): the budgets reset, the wait is manual_reconnect_delay, the next attempt is the
// first; time since healthy counts from the request.
BOOST_AUTO_TEST_CASE(after_reconnect_request)
{
    for (milliseconds delay : {500ms, 0ms, 3000ms}) {
        BOOST_TEST_CONTEXT("manual_reconnect_delay " << delay.count() << " ms")
        {
            std::vector<reconnect_history> seen;
            auto cfg = config();
            cfg.manual_reconnect_delay = delay;
            cfg.policy = [&seen](const disconnect& why, const reconnect_history& h) {
                seen.push_back(h);
                return tether::seed_policy{}(why, h);
            };
            retry_plan plan(cfg, t0);
            for (int i = 1; i <= 4; ++i) plan.after(ending{refused(), i * 1s}.result(), 0.5);
            BOOST_TEST(plan.next_attempt() == 5u);

            const next_step s = plan.after_reconnect_request(t0 + 10s);
            BOOST_TEST(!s.stop);
            BOOST_TEST(s.delay.count() == delay.count());
            BOOST_TEST(s.attempt == 1u);
            BOOST_TEST((s.why.kind == tether::disconnect_kind::user));
            BOOST_TEST(plan.next_attempt() == 1u);
            BOOST_TEST(plan.history().attempts == 0u);

            // The whole budget again: five retries before the policy stops.
            for (int i = 1; i <= 5; ++i) {
                const next_step r = plan.after(ending{refused(), 10s + i * 1s}.result(), 0.5);
                BOOST_TEST(!r.stop);
                BOOST_TEST(r.attempt == unsigned(i) + 1);
            }
            BOOST_TEST(seen.back().since_healthy.count() == 5000);  // 15 s, from the request at 10 s
            BOOST_TEST(plan.after(ending{refused(), 16s}.result(), 0.5).stop);
        }
    }
}

BOOST_AUTO_TEST_CASE(the_token_source_is_told_why_a_token_is_wanted)
{
    using tether::token_reason;
    using tether::detail::token_reason_for;
    struct row {
        std::optional<disconnect> previous;
        token_reason expected;
    };
    const row rows[] = {
        {std::nullopt, token_reason::first_connect}, {refused(), token_reason::reconnect},
        {close_with(1006), token_reason::reconnect}, {close_with(4001), token_reason::reconnect},
        {http(503), token_reason::reconnect},        {user(), token_reason::reconnect},  // reconnect() asked for
        {http(401), token_reason::refused},          {close_with(4003), token_reason::refused},
        {http(403), token_reason::reconnect},  // forbidden whatever the token
    };
    for (const auto& r : rows) {
        const auto got = token_reason_for(r.previous ? &*r.previous : nullptr);
        BOOST_TEST(tether::to_string(got) == tether::to_string(r.expected));
    }
}

BOOST_AUTO_TEST_SUITE_END()
