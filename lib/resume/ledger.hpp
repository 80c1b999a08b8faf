// Internal: the outbound ledger, the sans-I/O half of acknowledged sends. It keeps every message
// taken from the send queue until the server acknowledges it, numbers them, knows which of them
// this link has not written yet (all of them, after a reconnect), and hands back the sends to
// complete as writes and acknowledgements arrive. No I/O and no executor: the writer and the
// reader drive it on the client's strand, and its table tests drive it alone.
#ifndef TETHER_LIB_RESUME_LEDGER_HPP
#define TETHER_LIB_RESUME_LEDGER_HPP

#include "../fifo.hpp"
#include "../mailbox.hpp"
#include "../wire/mask.hpp"

#include <tether/resume.hpp>

#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tether::detail {

/// What few kept messages need besides: a payload too large for the store, a per-message id.
struct retained_extra {
    std::string large;
    std::string id;
};

/// One message kept until acknowledged: 64 bytes (checked below), thousands of them streaming
/// through the cache. On a link without compression a kept message is stored as the frame that
/// goes on the wire, header and masked payload (`header > 0`): the writer writes it from the
/// store, so a message is copied once, as plain sends are. A resend masks it afresh in place.
struct retained {
    std::uint64_t seq = 0;  ///< 1, 2, 3...: the stamped sequence number
    char* data = nullptr;   ///< its frame or payload in the ledger's store; null: in `extra->large`
    std::unique_ptr<retained_extra> extra;
    void_handler handler;
    std::uint64_t request_id = 0;  ///< the message of an `async_request`
    std::uint32_t size = 0;        ///< bytes at `data`: the frame, or the payload
    std::uint8_t header = 0;       ///< bytes of frame header at `data` (0: the payload alone)
    std::uint8_t stamp_size = 0;   ///< bytes of the stamp spliced into the payload (0: none)
    message_kind kind = message_kind::text;
    bool acknowledged = false;  ///< per message: acknowledged, waiting for those before it
    bool written = false;       ///< written at least once
    bool key_used = false;      ///< its frame has gone into a write: a resend needs a new key

    bool framed() const noexcept { return header > 0; }
    /// The frame as it goes on the wire (`framed()` only).
    std::span<const unsigned char> frame() const noexcept
    {
        return {reinterpret_cast<const unsigned char*>(data), size};
    }
    /// The application's message with its stamp spliced in, once, when it was kept (a resend
    /// carries the same number); unmasked, so not for a framed one.
    std::string_view payload() const noexcept
    {
        assert(!framed());
        return data || !extra ? std::string_view(data, size) : std::string_view(extra->large);
    }
    std::size_t payload_size() const noexcept { return data || !extra ? size - header : extra->large.size(); }
    /// The application's bytes, which the bounds count.
    std::size_t application_size() const noexcept { return payload_size() - stamp_size; }
    /// Per-message acknowledgements: its id.
    std::string_view id() const noexcept { return extra ? std::string_view(extra->id) : std::string_view(); }
};

static_assert(sizeof(retained) <= 64 || sizeof(void*) != 8, "a kept message's bookkeeping grew past a cache line");

/// Where kept payloads live: copied, back to back, into blocks that are given back whole once
/// every payload in them is released. Payloads are released in the order they were stored (the
/// ledger releases from its front), so a block is a FIFO; releasing a message costs a counter, and
/// the application's string is freed at once, while it is still in the cache, not thousands of
/// messages later. Blocks grow from 4 KiB to 64 KiB as traffic needs. A block given back waits as
/// a spare for the next one: a streaming client, whose store fills and empties hundreds of times a
/// second as acknowledgements catch up, cycles through the same blocks instead of through the
/// allocator (whose trim hands the pages back to the kernel, to be faulted in and zeroed again).
/// The spares never outnumber the most blocks the store has held at once (so the ledger's bounds
/// bound them); `trim`, on the heartbeat, gives them back, and a large empty block: a client gone
/// quiet keeps at most 4 KiB.
class payload_store {
public:
    /// Payloads larger than this keep their own string (copying them would cost more than the
    /// allocation it saves).
    static constexpr std::size_t inline_limit = 16 * 1024;

    payload_store() = default;
    payload_store(const payload_store&) = delete;
    payload_store& operator=(const payload_store&) = delete;

    /// Room for `n` bytes (at most `inline_limit`), to be written at once: one payload.
    char* allocate(std::size_t n)
    {
        if (blocks_.empty() || blocks_.back().size - blocks_.back().used < n) next_block(n);
        block& b = blocks_.back();
        char* at = b.data.get() + b.used;
        b.used += n;
        ++b.stored;
        return at;
    }
    /// Copies `bytes` (at most `inline_limit`) in; where they are now.
    const char* store(std::string_view bytes);
    /// The oldest stored payload is released.
    void release_oldest() noexcept
    {
        block& front = blocks_.front();
        if (++front.released == front.stored) emptied();
    }
    /// Every payload is released.
    void clear() noexcept;
    /// Spare blocks are given back, and the block in use if it is empty and larger than 4 KiB.
    void trim() noexcept;
    /// Bytes held in blocks that hold payloads (for the tests of the bound).
    std::size_t capacity() const noexcept;
    /// Bytes held in spare blocks.
    std::size_t spare_capacity() const noexcept { return spare_bytes_; }

private:
    struct block {
        std::unique_ptr<char[]> data;
        std::size_t size = 0, used = 0;
        std::size_t stored = 0, released = 0;
    };
    void next_block(std::size_t n);  // a block with room for `n` bytes goes at the back
    void emptied() noexcept;         // the oldest block holds no payload now

    fifo<block> blocks_;           // oldest first; payloads go into the back one
    std::size_t block_bytes_ = 0;  // the sizes of blocks_
    std::vector<block> spares_;    // given back, for the next ones
    std::size_t spare_bytes_ = 0;
};

/// A send the ledger is done with: complete it with `ec`.
struct finished_send {
    void_handler handler;
    std::uint64_t request_id = 0;
    error_code ec;
};

class outbound_ledger {
public:
    explicit outbound_ledger(const acknowledged_sends& cfg) : cfg_(cfg), stamp_prefix_('"' + cfg.stamp_field + "\":") {}

    /// How many more messages, and bytes, the buffer takes; 0 when it is full.
    std::size_t room_messages() const noexcept;
    std::size_t room_bytes() const noexcept;
    bool full() const noexcept { return room_messages() == 0 || room_bytes() == 0; }

    /// Takes `m` from the send queue: numbers it and keeps it (it is next to write). With
    /// `frame_with` (a link without compression), a payload that fits the store is kept as its
    /// masked frame, keyed from there. False, with `m` untouched, when the per-message style finds
    /// no id in it.
    bool keep(outgoing& m, wire::mask_source* frame_with = nullptr);

    /// A framed message about to be written again (its key went into a write): masked afresh,
    /// in place, with `key`.
    static void reframe(retained& r, wire::mask_key key) noexcept;
    /// A framed message for a link that compresses: back to its payload, in place.
    static void unframe(retained& r) noexcept;

    /// Between `write_started` and `write_ended` a write may read framed messages from the store:
    /// `trim` then frees nothing (a server acknowledging what it cannot have yet would otherwise
    /// free blocks under the write).
    void write_started() noexcept { writing_ = true; }
    void write_ended() noexcept { writing_ = false; }

    /// The next kept message this link has not written, or null; `advance` moves past it.
    retained* next_to_write() noexcept
    {
        if (kept_.empty()) return nullptr;
        retained& front = kept_.front();
        if (next_write_ < front.seq) next_write_ = front.seq;
        const std::uint64_t index = next_write_ - front.seq;
        if (index >= kept_.size()) return nullptr;
        retained& r = kept_.at(index);
        return r.acknowledged ? skip_acknowledged() : &r;
    }
    void advance() noexcept
    {
        if (const retained* r = next_to_write()) advance(*r);
    }
    /// The same, past `r`, which `next_to_write` just returned.
    void advance(const retained& r) noexcept
    {
        if (r.written) ++resent_;
        ++next_write_;
    }
    /// The sequence number the next `advance` ends a write at: what `written_through` takes.
    std::uint64_t write_position() const noexcept { return next_write_; }

    /// A write that ended before `upto` succeeded: the sends that complete on their first write
    /// (`send_completion::written`), and the requests whose response may come now, are handed to
    /// `finished(void_handler& h, std::uint64_t request_id)` (either may be empty), in order, for
    /// the caller to complete without error. How many messages were written the first time.
    template <class Finished>
    std::size_t written_through(std::uint64_t upto, Finished&& finished)
    {
        // Writes go in sequence order, so every message before `never_written_` has been written:
        // only those after it can be written for the first time. (Walking from the front instead
        // would visit every unacknowledged message on every write.)
        std::size_t first = 0;
        const std::uint64_t from = never_written_;
        if (upto > never_written_) never_written_ = upto;
        if (kept_.empty()) return first;
        const std::uint64_t front = kept_.front().seq;
        void_handler none;
        const bool complete_now = cfg_.completion == send_completion::written;
        for (std::uint64_t seq = std::max(front, from); seq < upto && seq - front < kept_.size(); ++seq) {
            retained& r = kept_.at(seq - front);
            if (r.written) continue;
            r.written = true;
            ++first;
            if (r.request_id != 0 || (complete_now && r.handler))
                finished(complete_now ? r.handler : none, r.request_id);
        }
        return first;
    }
    /// The same, the finished sends appended to `done`.
    std::size_t written_through(std::uint64_t upto, std::vector<finished_send>& done);

    /// A new link: everything kept goes out again, oldest first. How many messages that is.
    std::size_t rewind() noexcept;

    /// Applies an acknowledgement; the sends it completes are appended to `done` (all of them for
    /// `send_completion::acknowledged`; for `written`, those not yet completed). How many kept
    /// messages it released. An acknowledgement of more than was sent releases what was sent.
    std::size_t acknowledge(const acknowledgement& a, std::vector<finished_send>& done);

    /// The client has finished: every kept message's send fails with `ec`.
    void fail_all(error_code ec, std::vector<finished_send>& done);
    /// Gives back the memory streaming left behind (the store's spare blocks; the bookkeeping's
    /// ring, when nothing is kept); the heartbeat calls it every ping interval.
    void trim() noexcept
    {
        if (writing_) return;
        store_.trim();
        kept_.shrink_when_empty();
    }

    std::size_t size() const noexcept { return kept_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }
    /// The sequence number of the last message kept (0: none yet).
    std::uint64_t last_seq() const noexcept { return next_seq_ - 1; }
    /// Writes of a message after its first, over the ledger's life.
    std::uint64_t resent() const noexcept { return resent_; }

    /// The member a payload gets for number `seq` (`"seq":7,`, without the comma in `{}`), written
    /// to `out`; its size.
    static constexpr std::size_t max_stamp = 128;
    std::size_t make_stamp(std::uint64_t seq, bool empty_object, char (&out)[max_stamp]) const noexcept
    {
        // The prefix fits: config validation bounds the field's length.
        std::memcpy(out, stamp_prefix_.data(), stamp_prefix_.size());
        const std::string_view digits = decimal(seq);
        char* end = out + stamp_prefix_.size();
        std::memcpy(end, digits.data(), digits.size());
        end += digits.size();
        if (!empty_object) *end++ = ',';
        return static_cast<std::size_t>(end - out);
    }

private:
    retained* skip_acknowledged() noexcept;  // next_to_write past messages acknowledged one by one
    void release_front(std::vector<finished_send>& done);
    void complete(retained& r, std::vector<finished_send>& done, error_code ec = {});

    const acknowledged_sends& cfg_;
    // `n` in decimal. Messages are stamped in sequence, so the digits of the last one are counted
    // on by one (an odometer) rather than converted afresh.
    std::string_view decimal(std::uint64_t n) const noexcept
    {
        if (n == decimal_of_ + 1 && decimal_size_ > 0) {
            std::size_t i = decimal_size_;
            while (i > 0 && decimal_[i - 1] == '9') decimal_[--i] = '0';
            if (i > 0) {
                ++decimal_[i - 1];
            } else {
                std::memmove(decimal_ + 1, decimal_, decimal_size_++);
                decimal_[0] = '1';
            }
        } else {
            decimal_size_ =
                static_cast<std::size_t>(std::to_chars(decimal_, decimal_ + sizeof decimal_, n).ptr - decimal_);
        }
        decimal_of_ = n;
        return {decimal_, decimal_size_};
    }

    std::string stamp_prefix_;  // `"seq":`
    mutable char decimal_[20] = {};
    mutable std::size_t decimal_size_ = 0;
    mutable std::uint64_t decimal_of_ = 0;
    payload_store store_;
    fifo<retained> kept_;    // in sequence order, contiguous: kept_.at(i).seq == front seq + i
    std::size_t bytes_ = 0;  // payload bytes kept
    std::uint64_t next_seq_ = 1;
    std::uint64_t next_write_ = 1;     // the first sequence number this link has not written
    std::uint64_t never_written_ = 1;  // every message before it has been written at least once
    std::uint64_t resent_ = 0;
    bool writing_ = false;
};

}  // namespace tether::detail

#endif
