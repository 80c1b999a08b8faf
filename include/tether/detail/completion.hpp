// tether: how an operation that can complete at once (a message already buffered) hands its result
// over. Not part of the public interface.
#ifndef TETHER_DETAIL_COMPLETION_HPP
#define TETHER_DETAIL_COMPLETION_HPP

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>

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

// How many coroutine resumptions are nested on this thread's stack (see `complete_now`).
inline thread_local unsigned inline_completions = 0;
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

}  // namespace tether::detail

#endif
