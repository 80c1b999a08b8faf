// Internal: the heartbeat's judgements, without clocks of its own. How long may a ping wait for
// its pong, and did the machine sleep between two ticks?
#ifndef TETHER_LIB_LINK_LIVENESS_HPP
#define TETHER_LIB_LINK_LIVENESS_HPP

#include "rtt.hpp"

#include <algorithm>
#include <chrono>

namespace tether::detail {

/// What the heartbeat is told.
struct liveness_settings {
    std::chrono::milliseconds pong_timeout{10000};
    std::chrono::milliseconds pong_timeout_floor{0};  ///< 0: no adaptation
    std::chrono::milliseconds suspend_pong_timeout{2000};
};

/// Two clocks read together: CLOCK_BOOTTIME counts time the machine was suspended,
/// CLOCK_MONOTONIC (the steady clock) does not.
struct clock_reading {
    std::chrono::nanoseconds boot{0};
    std::chrono::nanoseconds monotonic{0};
};

/// How much more than the steady clock the boot clock must have moved on between two ticks
/// for the machine to count as having slept (and not merely as slow).
inline constexpr std::chrono::seconds suspend_threshold{5};

/// True when the machine slept between `before` and `now`.
constexpr bool slept_between(clock_reading before, clock_reading now) noexcept
{
    return (now.boot - before.boot) - (now.monotonic - before.monotonic) >= suspend_threshold;
}

/// How long the ping just sent may wait for an answer: `pong_timeout`; with a floor, what the
/// round trips so far suggest (two retransmission timeouts, 2 x (srtt + 4 x rttvar), at least the
/// floor, at most pong_timeout); right after a suspend, at most `suspend_pong_timeout`.
inline std::chrono::microseconds pong_deadline(const liveness_settings& s, const rtt_estimator& rtt,
                                               bool after_suspend) noexcept
{
    using us = std::chrono::microseconds;
    const us cap = s.pong_timeout;
    us d =
        s.pong_timeout_floor > std::chrono::milliseconds::zero() ? rtt.pong_deadline(s.pong_timeout_floor, cap) : cap;
    if (after_suspend) d = std::min<us>(d, s.suspend_pong_timeout);
    return d;
}

}  // namespace tether::detail

#endif
