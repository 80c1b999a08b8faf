// Internal: the mailbox, the hand-off between the application's threads and the link's strand.
//   send_queue  messages on their way out, and the writer parked until there are some
//   inbox<T>    messages on their way in (JSON values or raw messages), the application's
//               receivers waiting for them, and the reader parked while the inbox is full
// Both are thread safe: the application touches them from any thread, with one lock and no hop
// onto the strand, and wakes the link with at most one post per batch.
#ifndef TETHER_LIB_MAILBOX_HPP
#define TETHER_LIB_MAILBOX_HPP

#include "internal.hpp"

#include <tether/message.hpp>

#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tether::detail {

/// One message the application sent, with what to complete when it has been written.
struct outgoing {
    message_kind kind = message_kind::text;
    std::string payload;
    void_handler handler;          // an application's send
    std::uint64_t request_id = 0;  // or the message of an `async_request`
};

/// Messages on their way to the writer, in order, at most `capacity` of them.
class send_queue {
public:
    send_queue(asio::any_io_executor ex, std::size_t capacity) : ex_(std::move(ex)), capacity_(capacity) {}

    // --- any thread -----------------------------------------------------------------------------

    /// Queues `item` and wakes the writer if it is parked. When the queue refuses (full, or
    /// closed), returns why and leaves `item` untouched.
    error_code push(outgoing& item);

    // --- the client, on its strand ----------------------------------------------------------------

    /// From now on `push` refuses with `why` (no error: accepts again).
    void refuse(error_code why);
    /// Removes the unsent message of request `id`, if it is still queued.
    void erase_request(std::uint64_t id);
    /// Every queued message, to be failed.
    std::deque<outgoing> take_all();

    // --- the writer, on the strand ----------------------------------------------------------------

    /// Moves messages into `batch`, in order: at least one if any is queued, then more while their
    /// payloads total at most `max_bytes`.
    void take(std::vector<outgoing>& batch, std::size_t max_bytes);
    bool empty() const;

    /// Completes when there is work for the writer: a queued message (when `want_messages`), or a
    /// `wake()` since the last wait. Cancellable (the link's tasks are cancelled when it ends).
    template <class CompletionToken>
    auto async_wait(bool want_messages, CompletionToken&& token)
    {
        return asio::async_initiate<CompletionToken, void(error_code)>(
            [this, want_messages](auto h) { wait(want_messages, void_handler(std::move(h))); }, token);
    }

    /// The link has other work for the writer (a control frame, a close): end its wait.
    void wake();

private:
    void wait(bool want_messages, void_handler h);

    asio::any_io_executor ex_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::deque<outgoing> queue_;
    error_code refused_;
    void_handler writer_;  // the writer, parked
    bool writer_wants_messages_ = true;
    bool woken_ = false;
};

/// Messages on their way to the application, in order. The reader pushes one read's messages at a
/// time; receivers take them one at a time or in batches, waiting when there are none. Held by a
/// shared_ptr: a receiver's cancellation may arrive after the client is gone.
template <class T>
class inbox : public std::enable_shared_from_this<inbox<T>> {
public:
    using one_handler = asio::any_completion_handler<void(error_code, T)>;
    using some_handler = asio::any_completion_handler<void(error_code, std::vector<T>)>;

    inbox(asio::any_io_executor ex, std::size_t capacity) : ex_(std::move(ex)), capacity_(capacity) {}

    // --- the application, any thread ---------------------------------------------------------------

    /// The next message, if one is buffered.
    std::optional<T> try_pop();
    /// Up to `max` buffered messages, appended to `out`; how many.
    std::size_t try_pop_some(std::vector<T>& out, std::size_t max);
    /// Completes with the next message; once finished and empty, with the final error. Terminal
    /// cancellation completes it with `operation_aborted`.
    void receive(one_handler h);
    /// The same for a batch of 1 to `max` messages.
    void receive_some(std::size_t max, some_handler h);

    // --- the reader, on the strand ------------------------------------------------------------------

    /// Hands over one read's messages (moved out of `batch`): waiting receivers first, in order,
    /// the rest buffered.
    void push(std::vector<T>& batch);
    /// How many more messages the buffer takes before it is full (0: the reader pauses).
    std::size_t room() const;
    /// Completes when the buffer is down to half its capacity, so that the reader resumes with
    /// room for a batch, not for one message at a time. Cancellable.
    template <class CompletionToken>
    auto async_wait_for_room(CompletionToken&& token)
    {
        return asio::async_initiate<CompletionToken, void(error_code)>(
            [this](auto h) { wait_for_room(void_handler(std::move(h))); }, token);
    }

    /// Ends a wait for room at once (a closing link must read on).
    void release_reader();

    // --- the client, on its strand --------------------------------------------------------------------

    /// No message will come any more: receivers fail with `why` once the buffer is empty.
    void finish(error_code why);

private:
    struct receiver {
        std::uint64_t id;
        std::size_t max;  // 0: `one`, else `some`
        one_handler one;
        some_handler some;
    };
    // A receiver and what it gets, completed after the lock is released.
    struct completion {
        receiver r;
        std::vector<T> values;
        error_code error;  // the final error, when there are no values
    };

    void wait_for_room(void_handler h);
    void add(receiver r);
    void cancel(std::uint64_t id);
    // Pairs waiting receivers with buffered messages (or the final error); under the lock.
    void match_locked(std::vector<completion>& out);
    void complete(std::vector<completion>& done, bool from_initiation);
    // Moves the parked reader into `into` (empty) when the buffer is down to half; under the lock.
    void take_reader_if_room_locked(void_handler& into);
    bool low_locked() const noexcept { return queue_.size() <= capacity_ / 2; }

    asio::any_io_executor ex_;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::deque<T> queue_;
    std::list<receiver> receivers_;
    std::uint64_t next_id_ = 0;
    void_handler reader_;  // the reader, parked for room
    bool finished_ = false;
    error_code final_;
};

}  // namespace tether::detail

#endif
