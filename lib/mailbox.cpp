#include "mailbox.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace tether::detail {

// --- send_queue -------------------------------------------------------------------------------------

error_code send_queue::push(outgoing& item)
{
    void_handler writer;
    {
        std::lock_guard lock(mutex_);
        if (refused_) return refused_;
        if (queue_.size() >= capacity_) return error::send_queue_full;
        if (retention_) {
            retention& r = *retention_;
            if (r.messages > 0 && (r.messages >= r.max_messages || r.bytes + item.payload.size() > r.max_bytes))
                return error::retained_buffer_full;
            ++r.messages;
            r.bytes += item.payload.size();
        }
        queue_.push_back(std::move(item));
        if (writer_wants_messages_) writer_.swap(writer);
    }
    // The one post per batch: only the push that finds the writer parked pays it.
    if (writer) post_completion(ex_, std::move(writer), error_code{});
    return {};
}

void send_queue::bound_retention(std::size_t max_messages, std::size_t max_bytes)
{
    std::lock_guard lock(mutex_);
    retention_.emplace(retention{max_messages, max_bytes});
}

void send_queue::retention_released(std::size_t messages, std::size_t bytes)
{
    std::lock_guard lock(mutex_);
    if (!retention_) return;
    retention_->messages -= std::min(messages, retention_->messages);
    retention_->bytes -= std::min(bytes, retention_->bytes);
}

void send_queue::refuse(error_code why)
{
    std::lock_guard lock(mutex_);
    refused_ = why;
}

void send_queue::erase_request(std::uint64_t id)
{
    std::lock_guard lock(mutex_);
    // Rebuilt rather than erased in place, which would move-assign handlers (see internal.hpp).
    const std::size_t n = queue_.size();
    for (std::size_t i = 0; i < n; ++i) {
        if (queue_.front().request_id != id)
            queue_.push_back(std::move(queue_.front()));
        else if (retention_ && retention_->messages > 0) {
            --retention_->messages;
            retention_->bytes -= std::min(queue_.front().payload.size(), retention_->bytes);
        }
        queue_.pop_front();
    }
}

std::vector<outgoing> send_queue::take_all()
{
    std::vector<outgoing> all;
    std::lock_guard lock(mutex_);
    all.reserve(queue_.size());
    while (!queue_.empty()) {
        all.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    queue_.shrink_when_empty();
    return all;
}

void send_queue::take(std::vector<outgoing>& batch, std::size_t max_bytes, std::size_t max_count, bool first_must_fit)
{
    std::lock_guard lock(mutex_);
    std::size_t bytes = 0;
    for (std::size_t taken = 0; !queue_.empty() && taken < max_count; ++taken) {
        const std::size_t next = queue_.front().payload.size();
        if ((!batch.empty() || first_must_fit) && bytes + next > max_bytes) break;
        bytes += next;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    queue_.shrink_when_empty();
}

bool send_queue::empty() const
{
    std::lock_guard lock(mutex_);
    return queue_.empty();
}

std::size_t send_queue::size() const
{
    std::lock_guard lock(mutex_);
    return queue_.size();
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

struct inbox::batch {
    struct item {
        message_kind kind;
        std::uint32_t offset, size;  // in `bytes`, unless `owned`
        std::string* owned;
    };
    std::unique_ptr<unsigned char[]> bytes;  // grown, never zero-filled
    std::size_t capacity = 0;
    std::vector<item> items;
    std::vector<std::unique_ptr<std::string>> storage;  // messages that came with storage of their own
    std::size_t next = 0;                               // the first item not yet taken
    std::atomic<std::size_t> refs{0};                   // items taken and not yet released, plus those not taken
};

namespace {
// Batches kept for reuse once consumed: the reader's next hand-offs need no allocation.
constexpr std::size_t max_spare_batches = 2;
// A batch buffer larger than this is not kept for reuse.
constexpr std::size_t max_spare_bytes = 1024 * 1024;
// A large message's storage, once the application is done with it, is kept for the reader's
// next one: it is neither allocated nor faulted in again.
constexpr std::size_t reuse_threshold = 64 * 1024;
constexpr std::size_t max_spare_strings = 2;
// A message read whole into the reader's buffer and at least this large is copied into a string
// of its own rather than into the batch's buffer.
constexpr std::size_t own_storage_threshold = 16 * 1024;
}  // namespace

inbox::~inbox()
{
    for (; !batches_.empty(); batches_.pop_front()) delete batches_.front();
    for (batch* b : spare_) delete b;
}

bool inbox::try_pop(entry& out)
{
    return try_pop_some({&out, 1}) == 1;
}

std::size_t inbox::try_pop_some(std::span<entry> out)
{
    void_handler reader;
    std::size_t n = 0;
    {
        std::lock_guard lock(mutex_);
        for (; n < out.size() && size_ > 0; ++n) {
            batch* b = batches_.front();
            const batch::item& it = b->items[b->next++];
            entry& e = out[n];
            e.kind = it.kind;
            e.owned = it.owned;
            e.payload = it.owned ? std::string_view(*it.owned)
                                 : std::string_view(reinterpret_cast<const char*>(b->bytes.get()) + it.offset, it.size);
            e.from = b;
            if (b->next == b->items.size()) {
                batches_.pop_front();
                batches_.shrink_when_empty();
            }
            // The reader resumes once half the capacity is free: with room for a batch.
            if (--size_ == capacity_ / 2 && reader_) reader_.swap(reader);
        }
    }
    if (reader) post_completion(ex_, std::move(reader), error_code{});
    return n;
}

void inbox::release(entry& e) noexcept
{
    batch* b = std::exchange(e.from, nullptr);
    if (b && b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) give_back(b);
}

void inbox::give_back(batch* b) noexcept
{
    {
        // Large messages the application parsed (and did not take) go back to the reader.
        std::lock_guard lock(mutex_);
        for (auto& s : b->storage)
            if (s->capacity() >= reuse_threshold && spare_strings_.size() < max_spare_strings)
                spare_strings_.push_back(std::move(*s));
    }
    b->storage.clear();
    if (b->capacity <= max_spare_bytes) {
        std::lock_guard lock(mutex_);
        if (spare_.size() < max_spare_batches) {
            spare_.push_back(b);
            return;
        }
    }
    delete b;
}

inbox::batch* inbox::take_spare_locked()
{
    if (spare_.empty()) return new batch;
    batch* b = spare_.back();
    spare_.pop_back();
    return b;
}

void inbox::wait(void_handler wake, asio::cancellation_slot slot)
{
    {
        std::lock_guard lock(mutex_);
        if (size_ == 0 && !finished_) {
            const std::uint64_t id = ++next_id_;
            if (slot.is_connected()) {
                slot.assign([w = weak_from_this(), id](asio::cancellation_type type) {
                    if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none) return;
                    if (auto self = w.lock()) self->cancel(id);
                });
            }
            waiters_.push_back({id, std::move(wake)});
            return;
        }
    }
    // Something came meanwhile, or nothing ever will: the receiver tries again (or fails) at once.
    post_completion(ex_, std::move(wake), final_if_empty());
}

error_code inbox::final_if_empty()
{
    std::lock_guard lock(mutex_);
    return size_ == 0 ? final_ : error_code();
}

void inbox::cancel(std::uint64_t id)
{
    void_handler wake;
    {
        std::lock_guard lock(mutex_);
        for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
            if (it->id != id) continue;
            it->wake.swap(wake);
            waiters_.erase(it);
            break;
        }
    }
    if (wake) post_completion(ex_, std::move(wake), error_code(asio::error::operation_aborted));
}

void inbox::push(std::span<const inbound_message> messages)
{
    if (messages.empty()) return;
    // Small messages are copied into the batch's one buffer; a large one gets a string of its own
    // (storage the application is done with, when there is some), which a receiver taking it as a
    // `message` gets without a second copy; assembled ones are moved.
    std::size_t bytes = 0, large = 0;
    for (const auto& m : messages) {
        if (m.storage) continue;
        if (m.payload.size() >= own_storage_threshold)
            ++large;
        else
            bytes += m.payload.size();
    }
    batch* b;
    std::array<std::string, max_spare_strings> spares;
    std::size_t spares_taken = 0;
    {
        std::lock_guard lock(mutex_);
        b = take_spare_locked();
        while (spares_taken < large && !spare_strings_.empty()) {
            spares[spares_taken++].swap(spare_strings_.back());
            spare_strings_.pop_back();
        }
    }
    // The batch is built outside the lock.
    if (b->capacity < bytes) {
        b->capacity = std::max(bytes, 2 * b->capacity);
        b->bytes.reset(new unsigned char[b->capacity]);
    }
    b->items.clear();
    b->next = 0;
    std::size_t at = 0;
    for (const auto& m : messages) {
        if (m.storage) {
            m.storage->resize(m.payload.size());  // the reader's storage may be longer than the message
            b->items.push_back(
                {m.kind, 0, 0, b->storage.emplace_back(std::make_unique<std::string>(std::move(*m.storage))).get()});
            continue;
        }
        if (m.payload.size() >= own_storage_threshold) {
            std::string own;
            if (spares_taken) own.swap(spares[--spares_taken]);
            own.assign(m.payload);
            b->items.push_back(
                {m.kind, 0, 0, b->storage.emplace_back(std::make_unique<std::string>(std::move(own))).get()});
            continue;
        }
        if (!m.payload.empty()) std::memcpy(b->bytes.get() + at, m.payload.data(), m.payload.size());
        b->items.push_back(
            {m.kind, static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(m.payload.size()), nullptr});
        at += m.payload.size();
    }
    b->refs.store(b->items.size(), std::memory_order_relaxed);

    std::list<waiter> woken;
    {
        std::lock_guard lock(mutex_);
        batches_.emplace_back(b);
        size_ += b->items.size();
        woken.swap(waiters_);
    }
    // From the reader, not from a receiver's initiation: a coroutine on this thread resumes at once.
    for (auto& w : woken) dispatch_completion(ex_, std::move(w.wake), error_code{});
}

void inbox::reuse_storage(std::string& into)
{
    std::string spare;
    {
        std::lock_guard lock(mutex_);
        if (spare_strings_.empty()) return;
        spare.swap(spare_strings_.back());
        spare_strings_.pop_back();
    }
    into.swap(spare);
}

void inbox::trim()
{
    std::vector<batch*> spare;
    std::vector<std::string> strings;
    {
        std::lock_guard lock(mutex_);
        spare.swap(spare_);
        strings.swap(spare_strings_);
    }
    for (batch* b : spare) delete b;
}

std::size_t inbox::room() const
{
    std::lock_guard lock(mutex_);
    return size_ >= capacity_ ? 0 : capacity_ - size_;
}

std::size_t inbox::size() const
{
    std::lock_guard lock(mutex_);
    return size_;
}

void inbox::wait_for_room(void_handler h)
{
    {
        std::lock_guard lock(mutex_);
        if (size_ > capacity_ / 2 && !finished_) {
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

void inbox::release_reader()
{
    void_handler reader;
    {
        std::lock_guard lock(mutex_);
        reader_.swap(reader);
    }
    if (reader) post_completion(ex_, std::move(reader), error_code{});
}

void inbox::finish(error_code why)
{
    std::list<waiter> woken;
    void_handler reader;
    {
        std::lock_guard lock(mutex_);
        finished_ = true;
        final_ = why;
        if (size_ == 0) woken.swap(waiters_);
        reader_.swap(reader);
    }
    if (reader) post_completion(ex_, std::move(reader), error_code(asio::error::operation_aborted));
    for (auto& w : woken) post_completion(ex_, std::move(w.wake), why);
}

}  // namespace tether::detail
