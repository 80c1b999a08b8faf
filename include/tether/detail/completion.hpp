// tether: how an operation that can complete at once (a message already buffered) hands its result
// over. Not part of the public interface.
#ifndef TETHER_DETAIL_COMPLETION_HPP
#define TETHER_DETAIL_COMPLETION_HPP

#include <tether/export.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/system_executor.hpp>

#include <type_traits>
#include <utility>

namespace tether::detail {

// True for the handlers through which Asio resumes a coroutine: `co_await op(deferred)`,
// `use_awaitable`, and either wrapped in `as_tuple` or `redirect_error`. Every one of them is an
// `awaitable_thread`, whose invocation resumes the suspended coroutine on the calling thread.
template <class Executor>
std::true_type resumes_coroutine_test(const boost::asio::detail::awaitable_thread<Executor>*);
std::false_type resumes_coroutine_test(...);

template <class Handler>
struct resumes_coroutine : decltype(resumes_coroutine_test(static_cast<Handler*>(nullptr))) {
};
template <class Handler>
struct resumes_coroutine<boost::asio::detail::as_tuple_handler<Handler>> : resumes_coroutine<Handler> {
};
template <class Handler>
struct resumes_coroutine<boost::asio::detail::redirect_error_handler<Handler>> : resumes_coroutine<Handler> {
};

// How many coroutine resumptions are nested on this thread's stack (see `complete_now`): one
// counter for the library and the program, whose code both complete operations at once.
TETHER_API inline thread_local unsigned inline_completions = 0;
inline constexpr unsigned max_inline_completions = 16;

/// Completes an operation whose result was ready when it was initiated. A coroutine is resumed at
/// once, on this thread, as `dispatch` would: it is suspended in `co_await` and its initiation runs
/// on its own executor, so this is invisible to it and saves a post per message. Up to 16 such
/// resumptions nest on the stack, then one is posted and the stack unwinds. Every other handler
/// (callbacks, futures, parallel groups) is posted, as Asio requires of an operation that completes
/// at once. `fallback_executor()` gives the executor of a handler that has none; only a post asks.
template <class Handler, class FallbackExecutor, class... Args>
void complete_now(Handler&& handler, FallbackExecutor&& fallback_executor, Args&&... args)
{
    using handler_type = std::decay_t<Handler>;
    if constexpr (resumes_coroutine<handler_type>::value) {
        if (inline_completions < max_inline_completions) {
            struct nesting {
                nesting() noexcept { ++inline_completions; }
                ~nesting() { --inline_completions; }
            } nested;
            // The handler is this initiation's own: it is invoked where it is, not moved first.
            std::move(handler)(std::forward<Args>(args)...);
            return;
        }
    }
    const auto ex = boost::asio::get_associated_executor(handler, fallback_executor());
    boost::asio::post(ex, boost::asio::append(std::forward<Handler>(handler), std::forward<Args>(args)...));
}

/// A handler the client keeps (a receive waiting for a message, a send waiting for its write)
/// holds work on its executor meanwhile, as Asio's own operations do: an io_context that has
/// nothing else to do does not return from run() while the handler waits. The work ends when the
/// handler is invoked or destroyed. Associated executor, allocator and cancellation slot are the
/// handler's own.
template <class Handler, class Executor>
class tracked_handler {
public:
    using executor_type = boost::asio::associated_executor_t<Handler, Executor>;
    using allocator_type = boost::asio::associated_allocator_t<Handler>;
    using cancellation_slot_type = boost::asio::associated_cancellation_slot_t<Handler>;

    tracked_handler(Handler h, const Executor& fallback)
        : executor_(boost::asio::get_associated_executor(h, fallback)),
          work_(boost::asio::prefer(executor_, boost::asio::execution::outstanding_work.tracked)), h_(std::move(h))
    {
    }

    executor_type get_executor() const noexcept { return executor_; }
    allocator_type get_allocator() const noexcept { return boost::asio::get_associated_allocator(h_); }
    cancellation_slot_type get_cancellation_slot() const noexcept
    {
        return boost::asio::get_associated_cancellation_slot(h_);
    }

    template <class... Args>
    void operator()(Args&&... args) &&
    {
        auto work = std::move(work_);  // held until the handler has run
        std::move(h_)(std::forward<Args>(args)...);
    }

private:
    executor_type executor_;
    std::decay_t<decltype(boost::asio::prefer(std::declval<const executor_type&>(),
                                              boost::asio::execution::outstanding_work.tracked))>
        work_;
    Handler h_;
};

/// `h`, holding work on its own executor while the client keeps it. As it is when that work is
/// held already: a coroutine's (`co_spawn` holds its executor's work for the coroutine's whole
/// life), and a handler without an executor of its own, which runs on the client's, whose work
/// the running client's own operations (a link's read, the supervisor's timers) hold. So the
/// common send pays no atomic count per message.
template <class Handler, class Executor>
auto track_work(Handler&& h, const Executor& fallback)
{
    using handler_type = std::decay_t<Handler>;
    constexpr bool own_executor =
        !std::is_same_v<boost::asio::associated_executor_t<handler_type>, boost::asio::system_executor>;
    if constexpr (resumes_coroutine<handler_type>::value || !own_executor)
        return handler_type(std::forward<Handler>(h));
    else
        return tracked_handler<handler_type, Executor>(std::forward<Handler>(h), fallback);
}

}  // namespace tether::detail

#endif
