// Internal: the small helpers every part of lib/ shares: names, the clock, the tuple token, how a
// task tells it was asked to stop, and the three ways an operation's handler is completed.
#ifndef TETHER_LIB_INTERNAL_HPP
#define TETHER_LIB_INTERNAL_HPP

#include <tether/disconnect.hpp>
#include <tether/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <utility>

namespace tether::detail {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

using void_handler = asio::any_completion_handler<void(error_code)>;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Note on style: GCC 12 miscompiles `co_await` inside an `if` or `while` condition, so every
// awaited result in lib/ is stored in a local first.

/// Whether a task has been asked to stop (by its parallel group). A cancellation that arrives
/// while a task's last completion is already queued is recorded in its cancellation state but
/// reaches no operation, so tasks check this before they start an operation, not only after one.
inline bool stopped(const asio::cancellation_state& cs) noexcept
{
    return cs.cancelled() != asio::cancellation_type::none;
}

// Note: Boost 1.81's any_completion_handler has a move assignment that recurses until the stack
// overflows (it wraps its source, an lvalue, in a new handler), so lib/ never move-assigns one,
// nor anything that holds one: handlers move in and out with `swap` or move construction.

/// How a task ends when it was asked to stop, or the application ended the client.
inline disconnect user_disconnect()
{
    return {.kind = disconnect_kind::user, .reason = "closed by the application"};
}

/// Completes `h` with `args` through `fallback` and then its own associated executor, if it has
/// one; never inline: what an operation that completes at once owes its caller.
template <class Handler, class... Args>
void post_completion(const asio::any_io_executor& fallback, Handler&& h, Args&&... args)
{
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.clear();
    asio::post(fallback, asio::append(std::forward<Handler>(h), std::forward<Args>(args)...));
}

/// Completes `h` from another operation's context: inline when its executor is running on this
/// thread (a coroutine on the same io_context resumes at once, with no post), else posted to it.
/// The handler's cancellation slot is left alone: this may run on a thread other than the one that
/// emits into it, and the slot handlers tether installs tolerate a late call.
template <class Handler, class... Args>
void dispatch_completion(const asio::any_io_executor& fallback, Handler&& h, Args&&... args)
{
    asio::dispatch(fallback, asio::append(std::forward<Handler>(h), std::forward<Args>(args)...));
}

}  // namespace tether::detail

#endif
