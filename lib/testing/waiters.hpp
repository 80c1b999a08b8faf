// Internal, testing kit: what its servers and the fault proxy share. `change_waiters` is behind
// every `async_wait_until`: a waiter parks a timer, and the owner's `notify()` (after any change a
// predicate may read) wakes them all to check again; `listen_on_loopback` opens an acceptor on
// 127.0.0.1 that a restart can bind again at once.
#ifndef TETHER_LIB_TESTING_WAITERS_HPP
#define TETHER_LIB_TESTING_WAITERS_HPP

#include <tether/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>

namespace tether::testing::detail {

class change_waiters {
public:
    /// Something changed: every waiter checks its predicate again.
    void notify() noexcept
    {
        for (auto& t : timers_) t->cancel();
    }

    /// Completes once `predicate()` holds, checked now and after every `notify()`, or with
    /// `timed_out` after `limit` (`invalid_argument` without a predicate). `owner` keeps the object
    /// this belongs to alive while the wait lasts.
    boost::asio::awaitable<error_code> wait_until(boost::asio::any_io_executor ex, std::shared_ptr<void> owner,
                                                  std::function<bool()> predicate, std::chrono::milliseconds limit);

private:
    std::list<std::shared_ptr<boost::asio::steady_timer>> timers_;
};

/// Opens `acceptor` on 127.0.0.1:`port` (0: any) with SO_REUSEADDR, so that a restart rebinds
/// the port while connections of the previous run sit in TIME_WAIT, and listens with `backlog`.
/// Returns the port. On failure the acceptor is closed (a later start can try again) and the
/// error thrown.
std::uint16_t listen_on_loopback(boost::asio::ip::tcp::acceptor& acceptor, std::uint16_t port,
                                 int backlog = boost::asio::socket_base::max_listen_connections);

}  // namespace tether::testing::detail

#endif
