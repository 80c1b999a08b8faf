// The acker, for resumable receives with acknowledgements: the reader asks the writer for an
// acknowledgement at once when `ack_every` messages were delivered since the last; otherwise this
// task does, `ack_delay` after delivered messages began to wait. One timer per link, armed only
// while messages wait: a quiet link costs nothing.
#include "link.hpp"

#include <boost/asio/this_coro.hpp>

namespace tether::detail {

asio::awaitable<disconnect> acker::run()
{
    co_await asio::this_coro::throw_if_cancelled(false);
    const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    for (;;) {
        if (stopped(cs)) co_return user_disconnect();
        if (!st_.resume->ack_waiting()) {
            wanted_.reset();
            co_await wanted_.wait();
            continue;
        }
        timer_.expires_after(st_.resume->ack_delay());
        co_await timer_.async_wait(use_tuple);
        if (stopped(cs)) co_return user_disconnect();
        // An acknowledgement due by count may have gone meanwhile: the writer then finds no news.
        // Until the writer took this one, the next round waits a delay again.
        if (st_.resume->ack_waiting()) {
            st_.ack_requested = true;
            st_.sends.wake();
        }
    }
}

}  // namespace tether::detail
