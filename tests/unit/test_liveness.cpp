// The heartbeat's judgements: TCP's round-trip estimates (RFC 6298) from ping-to-pong samples,
// the pong deadline they suggest, and whether the machine slept between two ticks.
#include "link/liveness.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
using tether::detail::rtt_estimator;
using us = std::chrono::microseconds;

BOOST_AUTO_TEST_SUITE(rtt)

BOOST_AUTO_TEST_CASE(estimates_follow_rfc_6298)
{
    struct row {
        us sample, srtt, rttvar;
    };
    // First: srtt = R, rttvar = R/2. Then rttvar = 3/4 rttvar + 1/4 |srtt - R|, srtt = 7/8 srtt + 1/8 R.
    const row rows[] = {
        {us(8000), us(8000), us(4000)}, {us(8000), us(8000), us(3000)}, {us(16000), us(9000), us(4250)},
        {us(1000), us(8000), us(5187)}, {us(-5), us(7000), us(5890)},  // a clock step backwards counts as zero
    };
    rtt_estimator e;
    for (const auto& r : rows) {
        e.add(r.sample);
        BOOST_TEST(e.smoothed().count() == r.srtt.count());
        BOOST_TEST(e.variation().count() == r.rttvar.count());
    }
    const auto s = e.summary();
    BOOST_TEST(s.samples == 5u);
    BOOST_TEST(s.min.count() == 0);
    BOOST_TEST(s.last.count() == 0);
    BOOST_TEST(s.avg.count() == (8000 + 8000 + 16000 + 1000 + 0) / 5);
}

BOOST_AUTO_TEST_CASE(the_pong_deadline_is_two_rtos_within_floor_and_cap)
{
    rtt_estimator e;
    BOOST_TEST(e.pong_deadline(us(50000), us(10000000)).count() == 10000000);  // no sample yet: the cap
    BOOST_TEST(e.summary().samples == 0u);
    BOOST_TEST(e.summary().avg.count() == 0);
    e.add(us(1000));  // srtt 1 ms, rttvar 0.5 ms: an RTO of 3 ms
    BOOST_TEST(e.rto().count() == 3000);
    BOOST_TEST(e.pong_deadline(us(50000), us(10000000)).count() == 50000);  // the floor
    BOOST_TEST(e.pong_deadline(us(1000), us(10000000)).count() == 6000);
    BOOST_TEST(e.pong_deadline(us(1000), us(4000)).count() == 4000);  // the cap
    BOOST_TEST(e.pong_deadline(us(5000), us(4000)).count() == 4000);  // a floor above the cap: the cap
    e.add(us(100000));                                                // a slow one: srtt 13.375 ms, rttvar 25.125 ms
    BOOST_TEST(e.pong_deadline(us(1000), us(10000000)).count() == 2 * (13375 + 4 * 25125));
}

BOOST_AUTO_TEST_CASE(the_heartbeat_s_deadline_follows_the_settings)
{
    using tether::detail::liveness_settings;
    using tether::detail::pong_deadline;
    rtt_estimator measured;
    measured.add(us(2000));  // srtt 2 ms, rttvar 1 ms: an RTO of 6 ms, a deadline of 12
    const rtt_estimator none;
    struct row {
        liveness_settings s;
        const rtt_estimator* rtt;
        bool after_suspend;
        us expected;
    };
    const row rows[] = {
        {{.pong_timeout = 10s}, &measured, false, us(10000000)},  // no floor: always pong_timeout
        {{.pong_timeout = 10s, .pong_timeout_floor = 1ms}, &measured, false, us(12000)},
        {{.pong_timeout = 10s, .pong_timeout_floor = 50ms}, &measured, false, us(50000)},
        {{.pong_timeout = 10s, .pong_timeout_floor = 1ms}, &none, false, us(10000000)},  // no sample yet
        {{.pong_timeout = 4ms, .pong_timeout_floor = 1ms}, &measured, false, us(4000)},
        {{.pong_timeout = 10s, .suspend_pong_timeout = 2s}, &measured, true, us(2000000)},
        {{.pong_timeout = 1s, .suspend_pong_timeout = 2s}, &measured, true, us(1000000)},
        {{.pong_timeout = 10s, .pong_timeout_floor = 1ms, .suspend_pong_timeout = 2s}, &measured, true, us(12000)},
    };
    for (const auto& r : rows) BOOST_TEST(pong_deadline(r.s, *r.rtt, r.after_suspend).count() == r.expected.count());
}

BOOST_AUTO_TEST_CASE(a_suspend_is_the_boot_clock_outrunning_the_monotonic_one)
{
    using std::chrono::nanoseconds;
    using tether::detail::clock_reading;
    using tether::detail::slept_between;
    const clock_reading t0{nanoseconds(100s), nanoseconds(50s)};
    struct row {
        std::chrono::seconds boot_moved, monotonic_moved;
        bool slept;
    };
    const row rows[] = {
        {30s, 30s, false},   // an ordinary interval
        {34s, 30s, false},   // 4 s unaccounted for: not enough
        {35s, 30s, true},    // 5 s: slept
        {3600s, 30s, true},  // a night
        {30s, 40s, false},   // the monotonic clock ahead (another clock source): no suspend
    };
    for (const auto& r : rows) {
        const clock_reading now{t0.boot + r.boot_moved, t0.monotonic + r.monotonic_moved};
        BOOST_TEST(slept_between(t0, now) == r.slept);
    }
}

BOOST_AUTO_TEST_SUITE_END()
