#include "waiters.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tether::testing::detail {

namespace net = boost::asio;

net::awaitable<error_code> change_waiters::wait_until(net::any_io_executor ex, std::shared_ptr<void> owner,
                                                      std::function<bool()> predicate, std::chrono::milliseconds limit)
{
    if (!predicate) co_return net::error::invalid_argument;
    const auto now = std::chrono::steady_clock::now();
    const auto deadline = limit >= std::chrono::steady_clock::time_point::max() - now
                              ? std::chrono::steady_clock::time_point::max()
                              : now + limit;
    auto timer = std::make_shared<net::steady_timer>(ex);
    timers_.push_back(timer);
    struct unregister {
        std::shared_ptr<void> owner;  // holds this object while the entry is ours
        std::list<std::shared_ptr<net::steady_timer>>& timers;
        std::list<std::shared_ptr<net::steady_timer>>::iterator entry;
        ~unregister() { timers.erase(entry); }
    } guard{std::move(owner), timers_, std::prev(timers_.end())};

    for (;;) {
        if (predicate()) co_return error_code{};
        if (std::chrono::steady_clock::now() >= deadline) co_return net::error::timed_out;
        timer->expires_at(deadline);
        // Completes at the deadline, or early (operation_aborted) when notify() reports a change.
        auto [ec] = co_await timer->async_wait(net::as_tuple(net::use_awaitable));
        (void)ec;
    }
}

std::uint16_t listen_on_loopback(net::ip::tcp::acceptor& acceptor, std::uint16_t port, int backlog)
{
    const net::ip::tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), port);
    try {
        acceptor.open(endpoint.protocol());
        acceptor.set_option(net::ip::tcp::acceptor::reuse_address(true));
        acceptor.bind(endpoint);
        acceptor.listen(backlog);
    } catch (...) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        throw;
    }
    return acceptor.local_endpoint().port();
}

}  // namespace tether::testing::detail
