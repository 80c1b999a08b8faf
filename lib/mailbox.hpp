// Internal: the mailbox, the hand-off between the application's threads and the link's strand.
//   send_queue  messages on their way out, and the writer parked until there are some
//   inbox       messages on their way in, the application's receivers waiting for them, and
//               the reader parked while the inbox is full
// Both are thread safe: the application touches them from any thread, with one lock and no hop
// onto the strand, and wakes the link with at most one post per batch.
#ifndef TETHER_LIB_MAILBOX_HPP
#define TETHER_LIB_MAILBOX_HPP

#include "fifo.hpp"
#include "internal.hpp"

#include <tether/message.hpp>

#include <boost/asio/cancellation_signal.hpp>

#include <boost/asio/async_result.hpp>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tether::detail {

/// A complete inbound message as the reader hands it over: a view into its read buffer, or into
/// `storage` (a message assembled from fragments or inflated), which may be moved from.
struct inbound_message {
    message_kind kind = message_kind::text;
    std::string_view payload;
    std::string* storage = nullptr;
};

/// The lock of the mailbox's queues: a spin lock, because every critical section is a few
/// pointer moves (payloads are copied outside it) and it is taken once per message; a waiter that
/// spins too long yields its thread.
class spin_lock {
public:
    void lock() noexcept
    {
        while (locked_.exchange(true, std::memory_order_acquire)) {
            for (unsigned spins = 0; locked_.load(std::memory_order_relaxed); ++spins)
                if (spins >= 64) std::this_thread::yield();
        }
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

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
    /// closed, or the retention bound is reached), returns why and leaves `item` untouched.
    error_code push(outgoing& item);

    /// Acknowledged sends with `when_full::fail`: from now on a push is refused with
    /// `error::retained_buffer_full` when the messages admitted and not yet released (queued, or
    /// kept by the ledger) would pass `max_messages` or `max_bytes`; a single message larger than
    /// `max_bytes` is admitted when nothing else is. Counted under the queue's lock, so the bound is
    /// exact whatever the threads.
    void bound_retention(std::size_t max_messages, std::size_t max_bytes);
    /// Kept messages were acknowledged (or refused): they count no more against the bound.
    void retention_released(std::size_t messages, std::size_t bytes);

    // --- the client, on its strand ----------------------------------------------------------------

    /// From now on `push` refuses with `why` (no error: accepts again).
    void refuse(error_code why);
    /// Removes the unsent message of request `id`, if it is still queued.
    void erase_request(std::uint64_t id);
    /// Every queued message, to be failed.
    std::vector<outgoing> take_all();

    // --- the writer, on the strand ----------------------------------------------------------------

    /// Moves messages into `batch`, in order: at least one if any is queued (unless
    /// `first_must_fit`: only if it fits `max_bytes`), then more while their payloads total at most
    /// `max_bytes`, and at most `max_count` of them.
    void take(std::vector<outgoing>& batch, std::size_t max_bytes, std::size_t max_count = SIZE_MAX,
              bool first_must_fit = false);
    bool empty() const;
    std::size_t size() const;

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
    mutable spin_lock mutex_;
    fifo<outgoing> queue_;
    error_code refused_;
    struct retention {
        std::size_t max_messages, max_bytes;
        std::size_t messages = 0, bytes = 0;  // admitted and not released
    };
    std::optional<retention> retention_;
    void_handler writer_;  // the writer, parked
    bool writer_wants_messages_ = true;
    bool woken_ = false;
};

/// Messages on their way to the application, in order, as they arrived. Each hand-off from the
/// reader becomes one batch: its payloads copied into one buffer (assembled messages moved in),
/// so a batch costs one buffer, reused, and taking a message is an index step under the lock. The
/// application adapts each message as it takes it (JSON is parsed by the consumer, so a value
/// lives only as long as the application keeps it). Receivers that find it empty park a wake-up;
/// the reader wakes them after each hand-off. Held by a shared_ptr: a receiver's cancellation may
/// arrive after the client is gone.
class inbox : public std::enable_shared_from_this<inbox> {
public:
    struct batch;

    /// One message, taken: its bytes stay valid until `release`.
    struct entry {
        message_kind kind = message_kind::text;
        std::string_view payload;
        std::string* owned = nullptr;  // a message with storage of its own, which may be moved from
        batch* from = nullptr;
    };

    inbox(asio::any_io_executor ex, std::size_t capacity) : ex_(std::move(ex)), capacity_(capacity) {}
    ~inbox();

    // --- the application, any thread ---------------------------------------------------------------

    /// Takes the next message, if any; the caller reads it and then calls `release`.
    bool try_pop(entry& out);
    /// Takes up to `out.size()` messages under one lock; how many.
    std::size_t try_pop_some(std::span<entry> out);
    /// Gives a taken message's bytes back.
    void release(entry& e) noexcept;
    /// Parks `wake`, called (through its associated executor) when a message may be there: after
    /// the reader's next hand-off, or with the final error once the client has finished and the
    /// buffer is empty, or with `operation_aborted` when `slot` is cancelled (terminal).
    void wait(void_handler wake, asio::cancellation_slot slot);

    // --- the reader, on the strand ------------------------------------------------------------------

    /// Hands over one read's messages as a batch, then wakes the waiting receivers.
    void push(std::span<const inbound_message> messages);
    /// How many more messages the buffer takes before it is full (0: the reader pauses).
    std::size_t room() const;
    std::size_t size() const;
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
    /// Swaps into `into` (empty) the storage of a large message the application has finished
    /// with, if there is one.
    void reuse_storage(std::string& into);
    /// Gives back what is kept for reuse: the link has turned quiet.
    void trim();

    // --- the client, on its strand --------------------------------------------------------------------

    /// No message will come any more: waiting receivers get `why` once the buffer is empty.
    void finish(error_code why);

private:
    struct waiter {
        std::uint64_t id;
        void_handler wake;
    };

    void wait_for_room(void_handler h);
    void cancel(std::uint64_t id);
    error_code final_if_empty();
    batch* take_spare_locked();
    void give_back(batch* b) noexcept;

    asio::any_io_executor ex_;
    const std::size_t capacity_;
    mutable spin_lock mutex_;
    fifo<batch*> batches_;  // the front one may be partly taken
    std::size_t size_ = 0;  // messages not yet taken
    std::list<waiter> waiters_;
    std::uint64_t next_id_ = 0;
    void_handler reader_;                     // the reader, parked for room
    std::vector<batch*> spare_;               // consumed batches, kept for the next hand-offs
    std::vector<std::string> spare_strings_;  // storage of large messages, for the reader
    bool finished_ = false;
    error_code final_;
};

}  // namespace tether::detail

#endif
