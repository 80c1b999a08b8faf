// The heartbeat: a ping every ping_interval, and the verdict. Any frame (any byte) that arrives
// within the ping's deadline (liveness.hpp) proves the link alive; silence ends it with
// heartbeat_timeout. A paused reader (the application is not consuming) or a closing link proves
// nothing either way.
#include "link.hpp"

#include <boost/asio/this_coro.hpp>

#include <ctime>

namespace tether::detail {

namespace {

clock_reading read_clocks(const std::function<std::chrono::nanoseconds()>& boot_clock)
{
    clock_reading r;
    r.monotonic = clock_type::now().time_since_epoch();
    if (boot_clock) {
        r.boot = boot_clock();
    } else {
        timespec ts{};
        clock_gettime(CLOCK_BOOTTIME, &ts);
        r.boot = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    }
    return r;
}

}  // namespace

asio::awaitable<disconnect> heartbeat::run()
{
    co_await asio::this_coro::throw_if_cancelled(false);
    const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    asio::steady_timer timer(st_.strand);
    const link_settings& s = st_.settings;
    if (s.ping_interval == milliseconds::zero()) {  // off: idle until the group ends
        timer.expires_at(clock_type::time_point::max());
        if (!stopped(cs)) co_await timer.async_wait(use_tuple);
        co_return user_disconnect();
    }
    // Pings go out every ping_interval; each is judged at its deadline after it was queued
    // (pong_timeout; less when it adapts to the round trip, or after a suspend), so a dead link is
    // found within ping_interval + the deadline of its last frame. The deadline runs from the
    // moment the ping is queued, even if it is stuck behind a write the peer no longer drains. The
    // next ping waits for the verdict, unless an answer came before it was due.
    auto next_ping = clock_type::now() + s.ping_interval;
    clock_reading last_tick = read_clocks(s.boot_clock);
    for (;;) {
        if (stopped(cs)) co_return user_disconnect();
        timer.expires_at(next_ping);
        co_await timer.async_wait(use_tuple);
        if (stopped(cs)) co_return user_disconnect();
        const auto sent_at = clock_type::now();
        next_ping = sent_at + s.ping_interval;
        // A machine that slept has probably lost the link (NATs and servers dropped it meanwhile):
        // this ping gets a short deadline.
        const clock_reading tick = read_clocks(s.boot_clock);
        const bool after_suspend = slept_between(std::exchange(last_tick, tick), tick);
        if (st_.resume) st_.resume->trim();  // spare memory a burst of acknowledged sends left
        if (st_.paused || st_.closing()) continue;

        st_.send_ping(sent_at);
        const auto deadline = pong_deadline(s.liveness, st_.rtt, after_suspend);
        const auto verdict_at = sent_at + deadline;
        // A deadline past the next ping: an answer by then lets that ping go on time.
        if (next_ping < verdict_at) {
            timer.expires_at(next_ping);
            co_await timer.async_wait(use_tuple);
            if (stopped(cs)) co_return user_disconnect();
            if (st_.last_inbound >= sent_at || st_.paused || st_.closing()) continue;
        }
        timer.expires_at(verdict_at);
        co_await timer.async_wait(use_tuple);
        if (stopped(cs)) co_return user_disconnect();
        if (st_.last_inbound < sent_at && !st_.paused && !st_.closing()) {
            ++st_.stats.heartbeat_timeouts;
            st_.events.event({.kind = event_kind::heartbeat_timeout,
                              .delay = std::chrono::ceil<milliseconds>(deadline),
                              .rtt = st_.rtt.smoothed()});
            co_return disconnect{.kind = disconnect_kind::heartbeat_timeout,
                                 .error = error::heartbeat_timeout,
                                 .reason = "no frame within the pong deadline of a ping"};
        }
    }
}

}  // namespace tether::detail
