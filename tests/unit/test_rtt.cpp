// rtt_estimator: TCP's estimates (RFC 6298) from ping-to-pong samples, and the pong deadline.
#include "link/rtt.hpp"

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
        {us(8000), us(8000), us(4000)},
        {us(8000), us(8000), us(3000)},
        {us(16000), us(9000), us(4250)},
        {us(1000), us(8000), us(5187)},
        {us(-5), us(7000), us(5890)},  // a clock step backwards counts as zero
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

BOOST_AUTO_TEST_CASE(the_pong_deadline_is_srtt_plus_four_rttvar_within_floor_and_cap)
{
    rtt_estimator e;
    BOOST_TEST(e.pong_deadline(us(50000), us(10000000)).count() == 10000000);  // no sample yet: the cap
    BOOST_TEST(e.summary().samples == 0u);
    BOOST_TEST(e.summary().avg.count() == 0);
    e.add(us(1000));  // srtt 1 ms, rttvar 0.5 ms: 3 ms
    BOOST_TEST(e.pong_deadline(us(50000), us(10000000)).count() == 50000);  // the floor
    BOOST_TEST(e.pong_deadline(us(1000), us(10000000)).count() == 3000);
    BOOST_TEST(e.pong_deadline(us(1000), us(2000)).count() == 2000);      // the cap
    BOOST_TEST(e.pong_deadline(us(5000), us(2000)).count() == 2000);      // a floor above the cap: the cap
    e.add(us(100000));  // a slow one: srtt 13.375 ms, rttvar 25.125 ms
    BOOST_TEST(e.pong_deadline(us(1000), us(10000000)).count() == 13375 + 4 * 25125);
}

BOOST_AUTO_TEST_SUITE_END()
