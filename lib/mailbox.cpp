#include "mailbox.hpp"

#include <boost/json/value.hpp>

namespace tether::detail {

// --- send_queue -------------------------------------------------------------------------------------

error_code send_queue::push(outgoing& item)
{
    void_handler writer;
    {
        std::lock_guard lock(mutex_);
        if (refused_) return refused_;
        if (queue_.size() >= capacity_) return error::send_queue_full;
        queue_.push_back(std::move(item));
        if (writer_wants_messages_) writer_.swap(writer);
    }
    // The one post per batch: only the push that finds the writer parked pays it.
    if (writer) post_completion(ex_, std::move(writer), error_code{});
    return {};
}

void send_queue::refuse(error_code why)
{
    std::lock_guard lock(mutex_);
    refused_ = why;
}

void send_queue::erase_request(std::uint64_t id)
{
    std::lock_guard lock(mutex_);
    // Rebuilt rather than erased in place, which would move-assign handlers (see `take`).
    std::deque<outgoing> kept;
    for (auto& o : queue_)
        if (o.request_id != id) kept.push_back(std::move(o));
    queue_.swap(kept);
}

std::deque<outgoing> send_queue::take_all()
{
    std::lock_guard lock(mutex_);
    return std::exchange(queue_, {});
}

void send_queue::take(std::vector<outgoing>& batch, std::size_t max_bytes)
{
    std::lock_guard lock(mutex_);
    std::size_t bytes = 0;
    while (!queue_.empty()) {
        const std::size_t next = queue_.front().payload.size();
        if (!batch.empty() && bytes + next > max_bytes) break;
        bytes += next;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
}

bool send_queue::empty() const
{
    std::lock_guard lock(mutex_);
    return queue_.empty();
}

void send_queue::wake()
{
    void_handler writer;
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
        writer_.swap(writer);
    }
    if (writer) post_completion(ex_, std::move(writer), error_code{});
}

void send_queue::wait(bool want_messages, void_handler h)
{
    {
        std::lock_guard lock(mutex_);
        const bool ready = std::exchange(woken_, false) || (want_messages && !queue_.empty());
        if (!ready) {
            auto slot = asio::get_associated_cancellation_slot(h);
            if (slot.is_connected()) {
                // Emitted on the strand by the link's parallel group, which outlives the wait.
                slot.assign([this](asio::cancellation_type) {
                    void_handler writer;
                    {
                        std::lock_guard lock(mutex_);
                        writer_.swap(writer);
                    }
                    if (writer) post_completion(ex_, std::move(writer), error_code(asio::error::operation_aborted));
                });
            }
            h.swap(writer_);
            writer_wants_messages_ = want_messages;
            return;
        }
    }
    post_completion(ex_, std::move(h), error_code{});
}

// --- inbox ------------------------------------------------------------------------------------------

template <class T>
std::optional<T> inbox<T>::try_pop()
{
    void_handler reader;
    std::optional<T> v;
    {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) return std::nullopt;
        v.emplace(std::move(queue_.front()));
        queue_.pop_front();
        take_reader_if_room_locked(reader);
    }
    if (reader) post_completion(ex_, std::move(reader), error_code{});
    return v;
}

template <class T>
std::size_t inbox<T>::try_pop_some(std::vector<T>& out, std::size_t max)
{
    void_handler reader;
    std::size_t n = 0;
    {
        std::lock_guard lock(mutex_);
        for (; n < max && !queue_.empty(); ++n) {
            out.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        take_reader_if_room_locked(reader);
    }
    if (reader) post_completion(ex_, std::move(reader), error_code{});
    return n;
}

template <class T>
void inbox<T>::receive(one_handler h)
{
    add({.id = 0, .max = 0, .one = std::move(h), .some = {}});
}

template <class T>
void inbox<T>::receive_some(std::size_t max, some_handler h)
{
    add({.id = 0, .max = max, .one = {}, .some = std::move(h)});
}

template <class T>
void inbox<T>::add(receiver r)
{
    std::vector<completion> done;
    void_handler reader;
    {
        std::lock_guard lock(mutex_);
        r.id = ++next_id_;
        auto slot =
            r.max == 0 ? asio::get_associated_cancellation_slot(r.one) : asio::get_associated_cancellation_slot(r.some);
        const std::uint64_t id = r.id;
        receivers_.push_back(std::move(r));
        match_locked(done);
        take_reader_if_room_locked(reader);
        const bool waiting = !receivers_.empty() && receivers_.back().id == id;
        if (waiting && slot.is_connected()) {
            slot.assign([w = this->weak_from_this(), id](asio::cancellation_type type) {
                if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none) return;
                if (auto self = w.lock()) self->cancel(id);
            });
        }
    }
    if (reader) post_completion(ex_, std::move(reader), error_code{});
    complete(done, true);
}

template <class T>
void inbox<T>::cancel(std::uint64_t id)
{
    std::optional<receiver> r;
    {
        std::lock_guard lock(mutex_);
        for (auto it = receivers_.begin(); it != receivers_.end(); ++it) {
            if (it->id != id) continue;
            r.emplace(std::move(*it));
            receivers_.erase(it);
            break;
        }
    }
    if (!r) return;
    const error_code aborted = asio::error::operation_aborted;
    if (r->max == 0)
        post_completion(ex_, std::move(r->one), aborted, T());
    else
        post_completion(ex_, std::move(r->some), aborted, std::vector<T>());
}

template <class T>
void inbox<T>::push(std::vector<T>& batch)
{
    std::vector<completion> done;
    {
        std::lock_guard lock(mutex_);
        for (auto& v : batch) queue_.push_back(std::move(v));
        match_locked(done);
    }
    batch.clear();
    complete(done, false);
}

template <class T>
std::size_t inbox<T>::room() const
{
    std::lock_guard lock(mutex_);
    return queue_.size() >= capacity_ ? 0 : capacity_ - queue_.size();
}

template <class T>
void inbox<T>::wait_for_room(void_handler h)
{
    {
        std::lock_guard lock(mutex_);
        if (!low_locked() && !finished_) {
            auto slot = asio::get_associated_cancellation_slot(h);
            if (slot.is_connected()) {
                slot.assign([this](asio::cancellation_type) {
                    void_handler reader;
                    {
                        std::lock_guard lock(mutex_);
                        reader_.swap(reader);
                    }
                    if (reader) post_completion(ex_, std::move(reader), error_code(asio::error::operation_aborted));
                });
            }
            h.swap(reader_);
            return;
        }
    }
    post_completion(ex_, std::move(h), error_code{});
}

template <class T>
void inbox<T>::release_reader()
{
    void_handler reader;
    {
        std::lock_guard lock(mutex_);
        reader_.swap(reader);
    }
    if (reader) post_completion(ex_, std::move(reader), error_code{});
}

template <class T>
void inbox<T>::finish(error_code why)
{
    std::vector<completion> done;
    void_handler reader;
    {
        std::lock_guard lock(mutex_);
        finished_ = true;
        final_ = why;
        match_locked(done);
        reader_.swap(reader);
    }
    if (reader) post_completion(ex_, std::move(reader), error_code(asio::error::operation_aborted));
    complete(done, false);
}

template <class T>
void inbox<T>::match_locked(std::vector<completion>& out)
{
    while (!receivers_.empty() && (!queue_.empty() || finished_)) {
        completion c{std::move(receivers_.front()), {}, {}};
        receivers_.pop_front();
        const std::size_t n = std::min(queue_.size(), c.r.max == 0 ? std::size_t(1) : c.r.max);
        c.values.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            c.values.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        if (n == 0) c.error = final_;
        out.push_back(std::move(c));
    }
}

template <class T>
void inbox<T>::complete(std::vector<completion>& done, bool from_initiation)
{
    for (auto& c : done) {
        const error_code ec = c.error;
        // Completing inside the receiver's own initiation must not be inline; from the reader it may.
        if (c.r.max == 0) {
            T v = c.values.empty() ? T() : std::move(c.values.front());
            if (from_initiation)
                post_completion(ex_, std::move(c.r.one), ec, std::move(v));
            else
                dispatch_completion(ex_, std::move(c.r.one), ec, std::move(v));
        } else if (from_initiation) {
            post_completion(ex_, std::move(c.r.some), ec, std::move(c.values));
        } else {
            dispatch_completion(ex_, std::move(c.r.some), ec, std::move(c.values));
        }
    }
}

template <class T>
void inbox<T>::take_reader_if_room_locked(void_handler& into)
{
    if (low_locked()) reader_.swap(into);
}

template class inbox<boost::json::value>;
template class inbox<message>;

}  // namespace tether::detail
