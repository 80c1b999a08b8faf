// The heartbeat: a ping every ping_interval, and the verdict. Any frame (any byte) that arrives
// within pong_timeout of a ping proves the link alive; silence ends it with heartbeat_timeout. A
// paused reader (the application is not consuming) or a closing link proves nothing either way.
#include "link.hpp"

#include <boost/asio/this_coro.hpp>

#include <cstring>

namespace tether::detail {

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
    // Pings go out every ping_interval; each is judged pong_timeout after it was queued, so a dead
    // link is found within ping_interval + pong_timeout of its last frame. The deadline runs from
    // the moment the ping is queued, even if it is stuck behind a write the peer no longer drains.
    auto next_ping = clock_type::now() + s.ping_interval;
    for (;;) {
        if (stopped(cs)) co_return user_disconnect();
        timer.expires_at(next_ping);
        co_await timer.async_wait(use_tuple);
        if (stopped(cs)) co_return user_disconnect();
        const auto sent_at = clock_type::now();
        next_ping = sent_at + s.ping_interval;
        if (st_.paused || st_.closing()) continue;

        // Numbered, so that its pong times this ping and not an older one.
        ++st_.ping_number;
        unsigned char number[4];
        std::memcpy(number, &st_.ping_number, sizeof number);
        st_.ping_sent_at = sent_at;
        st_.send_control(wire::opcode::ping, number);
        timer.expires_at(sent_at + s.pong_timeout);
        co_await timer.async_wait(use_tuple);
        if (stopped(cs)) co_return user_disconnect();
        if (st_.last_inbound < sent_at && !st_.paused && !st_.closing()) {
            ++st_.stats.heartbeat_timeouts;
            st_.events.event({.kind = event_kind::heartbeat_timeout, .delay = s.pong_timeout});
            co_return disconnect{.kind = disconnect_kind::heartbeat_timeout,
                                 .error = error::heartbeat_timeout,
                                 .reason = "no frame within pong_timeout of a ping"};
        }
    }
}

}  // namespace tether::detail
