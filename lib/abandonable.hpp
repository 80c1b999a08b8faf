// Internal: waiting for an operation that may not honour cancellation, up to a deadline.
#ifndef TETHER_LIB_ABANDONABLE_HPP
#define TETHER_LIB_ABANDONABLE_HPP

#include "internal.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>

namespace tether::detail {

/// The result of an operation that may not honour cancellation (a user's token provider, a
/// getaddrinfo under way), waited for only until a deadline or an abort. The operation completes
/// into it whenever it does and ends the wait; a caller that stopped waiting has asked it to stop
/// and left it to end on its own, its result dropped. Shared by the caller and the operation's
/// handler; all on one strand.
template <class T>
struct abandonable {
    explicit abandonable(const asio::any_io_executor& strand) : wake(strand) {}

    asio::steady_timer wake;
    std::optional<T> result;
    asio::cancellation_signal stop;  // for operations that do listen

    /// The operation's completion.
    void complete(T r)
    {
        result = std::move(r);
        wake.cancel();
    }
    /// Ends the wait without a result (close, reconnect).
    void abort() { wake.cancel(); }
    /// Waits for the result, at most until `deadline`, and asks the operation to stop if it has
    /// not completed by then.
    asio::awaitable<void> wait(clock_type::time_point deadline)
    {
        if (!result) {
            wake.expires_at(deadline);
            co_await wake.async_wait(use_tuple);
        }
        if (!result) stop.emit(asio::cancellation_type::terminal);
    }
};

}  // namespace tether::detail

#endif
