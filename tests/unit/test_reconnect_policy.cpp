#include <tether/reconnect_policy.hpp>

#include "supervisor_fsm.hpp"

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using tether::disconnect;
using tether::reconnect_history;

namespace {

disconnect close_with(std::uint16_t code)
{
    return tether::close_frame_disconnect(code, "");
}
disconnect http(unsigned status, std::string_view retry_after = {})
{
    return tether::http_status_disconnect(status, retry_after);
}
disconnect refused()
{
    return tether::error_disconnect(tether::disconnect_kind::connect, boost::asio::error::connection_refused);
}

// Feeds `failures` to `policy` in order through the supervisor's own bookkeeping (`retry_plan`,
// no healthy link in between), and returns each decision.
template <class Policy>
std::vector<tether::reconnect_decision> run(const Policy& policy, const std::vector<disconnect>& failures,
                                            double random = 0.5)
{
    const auto t0 = tether::detail::clock_type::time_point(1000h);
    tether::client_config cfg;
    cfg.policy = policy;
    tether::detail::retry_plan plan(cfg, t0);
    std::vector<tether::reconnect_decision> out;
    for (const auto& d : failures) {
        const auto step = plan.after({.why = d, .ended_at = t0}, random);
        out.push_back(step.stop ? tether::reconnect_decision{} : tether::reconnect_decision{step.delay});
    }
    return out;
}

using decisions = std::vector<tether::reconnect_decision>;

}  // namespace

BOOST_AUTO_TEST_SUITE(seed)

// The spread is +-jitter around each delay, from the supervisor's random sample; 0.5 is exact.
BOOST_AUTO_TEST_CASE(jitter_spreads_every_delay_and_keeps_retry_after_a_floor)
{
    const tether::seed_policy p;  // 2 s, +-10 %
    struct row {
        double random;
        disconnect why;
        milliseconds expected;
    };
    const row rows[] = {
        {0.0, refused(), 1800ms},        {0.5, refused(), 2000ms},        {1.0, refused(), 2200ms},
        {0.0, close_with(4001), 1800ms}, {1.0, close_with(4001), 2200ms}, {0.0, http(503, "5"), 5000ms},
        {1.0, http(429, "1"), 2200ms},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(tether::describe(r.why) << ", random " << r.random)
        {
            BOOST_TEST((run(p, {r.why}, r.random) == decisions{r.expected}));
        }
    }
    const tether::seed_policy exact{.jitter = 0};
    BOOST_TEST((run(exact, {refused()}, 0.0) == decisions{2000ms}));
    BOOST_CHECK_THROW(tether::reconnect_policy(tether::seed_policy{.jitter = 1.0}), std::invalid_argument);
    BOOST_CHECK_THROW(tether::reconnect_policy(tether::seed_policy{.jitter = -0.1}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(permanent_failures_stop_at_once)
{
    const tether::seed_policy p;
    for (const auto& d : {close_with(4003), http(401), http(403)}) {
        BOOST_TEST_CONTEXT(tether::describe(d))
        {
            BOOST_TEST((run(p, {d}) == decisions{std::nullopt}));
        }
    }
}

// With retry_refused_token: a refused token (401, 4003) gets one retry at once, a second refusal
// stops; 403 and the other permanent failures stay permanent.
BOOST_AUTO_TEST_CASE(a_refused_token_gets_one_retry_at_once_when_asked_for)
{
    struct row {
        std::vector<disconnect> failures;
        decisions seed, exponential;
    };
    const auto verify = tether::tls_verify_disconnect(10);  // an expired certificate
    const row rows[] = {
        {{http(401)}, {0ms}, {0ms}},
        {{close_with(4003)}, {0ms}, {0ms}},
        {{http(401), http(401)}, {0ms, std::nullopt}, {0ms, std::nullopt}},
        {{close_with(4003), http(401)}, {0ms, std::nullopt}, {0ms, std::nullopt}},
        {{refused(), http(401), http(401)}, {2000ms, 0ms, std::nullopt}, {1000ms, 0ms, std::nullopt}},
        {{http(403)}, {std::nullopt}, {std::nullopt}},
        {{verify}, {std::nullopt}, {std::nullopt}},
        {{verify, http(401)}, {std::nullopt, std::nullopt}, {std::nullopt, std::nullopt}},  // one permanent already
    };
    const tether::seed_policy seed{.jitter = 0, .retry_refused_token = true};
    const tether::exponential_policy exponential{.jitter = 0, .retry_refused_token = true};
    for (const auto& r : rows) {
        std::string name;
        for (const auto& d : r.failures) name += tether::describe(d) + "; ";
        BOOST_TEST_CONTEXT(name)
        {
            BOOST_TEST((run(seed, r.failures) == r.seed));
            BOOST_TEST((run(exponential, r.failures) == r.exponential));
        }
    }
    // Off by default: the original's 4003 and 401 are permanent.
    BOOST_TEST((run(tether::seed_policy{}, {http(401)}) == decisions{std::nullopt}));
    BOOST_TEST((run(tether::exponential_policy{}, {close_with(4003)}) == decisions{std::nullopt}));
}

BOOST_AUTO_TEST_CASE(session_not_found_gets_three_retries_two_seconds_times_n)
{
    const tether::seed_policy p;
    const decisions expected{2000ms, 4000ms, 6000ms, std::nullopt};
    BOOST_TEST((run(p, {close_with(4001), close_with(4001), close_with(4001), close_with(4001)}) == expected));
    BOOST_TEST((run(p, {http(404), http(404), http(404), http(404)}) == expected));
    BOOST_TEST((run(p, {close_with(4001), http(404), close_with(4001), http(404)}) == expected));
}

BOOST_AUTO_TEST_CASE(ordinary_failures_get_five_retries_two_seconds_apart)
{
    const tether::seed_policy p;
    const decisions expected{2000ms, 2000ms, 2000ms, 2000ms, 2000ms, std::nullopt};
    BOOST_TEST((run(p, std::vector<disconnect>(6, refused())) == expected));
    BOOST_TEST((run(p, std::vector<disconnect>(6, close_with(1006))) == expected));
    BOOST_TEST((run(p, {close_with(1011), refused(), http(500), close_with(1001), refused(), refused()}) == expected));
}

BOOST_AUTO_TEST_CASE(budgets_are_separate_per_class)
{
    const tether::seed_policy p;
    // Three 4001s do not eat into the ordinary budget, and ordinary failures not into the 4001 one.
    const auto got = run(p, {close_with(4001), refused(), close_with(4001), refused(), close_with(4001)});
    BOOST_TEST((got == decisions{2000ms, 2000ms, 4000ms, 2000ms, 6000ms}));
}

BOOST_AUTO_TEST_CASE(configured_numbers_are_used)
{
    const tether::seed_policy p{.delay = 20ms, .max_retries = 2, .not_found_retries = 1};
    BOOST_TEST((run(p, {refused(), refused(), refused()}) == decisions{20ms, 20ms, std::nullopt}));
    BOOST_TEST((run(p, {close_with(4001), close_with(4001)}) == decisions{20ms, std::nullopt}));
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured_when_longer)
{
    const tether::seed_policy p;
    BOOST_TEST((run(p, {http(429, "7")}) == decisions{7000ms}));
    BOOST_TEST((run(p, {http(503, "1")}) == decisions{2000ms}));
    BOOST_TEST((run(p, {http(503)}) == decisions{2000ms}));
}

BOOST_AUTO_TEST_CASE(user_disconnects_never_retry)
{
    const disconnect user{.kind = tether::disconnect_kind::user};
    BOOST_TEST((run(tether::seed_policy{}, {user}) == decisions{std::nullopt}));
    BOOST_TEST((run(tether::exponential_policy{}, {user}) == decisions{std::nullopt}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exponential)

BOOST_AUTO_TEST_CASE(grpc_schedule_without_jitter_spread)
{
    // random = 0.5 puts the jitter factor at exactly 1.
    const tether::exponential_policy p;
    const auto got = run(p, std::vector<disconnect>(5, refused()), 0.5);
    BOOST_TEST((got == decisions{1000ms, 1600ms, 2560ms, 4096ms, 6554ms}));
}

BOOST_AUTO_TEST_CASE(jitter_spans_plus_minus_twenty_percent)
{
    const tether::exponential_policy p;
    BOOST_TEST((run(p, {refused()}, 0.0) == decisions{800ms}));
    BOOST_TEST((run(p, {refused()}, 0.999999) == decisions{1200ms}));
}

BOOST_AUTO_TEST_CASE(cap_applies_before_jitter)
{
    const tether::exponential_policy p{.max_delay = 3000ms};
    const auto got = run(p, std::vector<disconnect>(6, refused()), 0.5);
    BOOST_TEST((got.back() == tether::reconnect_decision{3000ms}));
    BOOST_TEST((run(p, std::vector<disconnect>(10, refused()), 0.0).back() == tether::reconnect_decision{2400ms}));
}

BOOST_AUTO_TEST_CASE(permanent_failures_stop)
{
    const tether::exponential_policy p;
    BOOST_TEST((run(p, {close_with(4003)}) == decisions{std::nullopt}));
    BOOST_TEST((run(p, {http(401)}) == decisions{std::nullopt}));
}

BOOST_AUTO_TEST_CASE(max_retries_and_max_elapsed)
{
    const tether::exponential_policy retries{.max_retries = 2};
    BOOST_TEST((run(retries, {refused(), refused(), refused()}) == decisions{1000ms, 1600ms, std::nullopt}));

    const tether::exponential_policy elapsed{.max_elapsed = 10s};
    reconnect_history h{.attempts = 1, .by_class = {1}, .since_healthy = 8500ms};
    BOOST_TEST((elapsed(refused(), h) == tether::reconnect_decision{1000ms}));
    h.since_healthy = 9500ms;
    BOOST_TEST((elapsed(refused(), h) == tether::reconnect_decision{}));
}

BOOST_AUTO_TEST_CASE(retry_after_on_429_and_503)
{
    const tether::exponential_policy p;
    BOOST_TEST((run(p, {http(429, "30")}) == decisions{30000ms}));
    BOOST_TEST((run(p, {http(503, "0")}) == decisions{1000ms}));
    BOOST_TEST((run(p, {http(500, "30")}) == decisions{1000ms}));  // only throttling statuses
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(erased)

BOOST_AUTO_TEST_CASE(never_and_user_callables)
{
    const tether::reconnect_policy never = tether::never_policy{};
    BOOST_TEST(!never(refused(), reconnect_history{.attempts = 1}));

    const tether::reconnect_policy custom = [](const disconnect& d, const reconnect_history& h) {
        return d.close_code == 1012 ? tether::reconnect_decision{milliseconds(100 * h.attempts)} : std::nullopt;
    };
    BOOST_TEST((custom(close_with(1012), reconnect_history{.attempts = 3}) == tether::reconnect_decision{300ms}));
    BOOST_TEST(!custom(close_with(1000), reconnect_history{.attempts = 1}));
}

BOOST_AUTO_TEST_CASE(invalid_presets_throw_naming_the_field)
{
    auto message_of = [](auto make) -> std::string {
        try {
            make();
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "";
    };
    using P = tether::reconnect_policy;
    BOOST_TEST(message_of([] { P p = tether::seed_policy{.delay = 0ms}; }).starts_with("policy.delay"));
    BOOST_TEST(message_of([] { P p = tether::exponential_policy{.initial = -1ms}; }).starts_with("policy.initial"));
    BOOST_TEST(
        message_of([] { P p = tether::exponential_policy{.multiplier = 0.5}; }).starts_with("policy.multiplier"));
    BOOST_TEST(message_of([] { P p = tether::exponential_policy{.jitter = 1.0}; }).starts_with("policy.jitter"));
    BOOST_TEST(message_of([] { P p = tether::exponential_policy{.max_delay = 10ms}; }).starts_with("policy.max_delay"));
}

BOOST_AUTO_TEST_SUITE_END()
