#include "ledger.hpp"

#include "../wire/encoder.hpp"
#include "json_fields.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace tether::detail {

// --- payload_store -------------------------------------------------------------------------------------

namespace {
constexpr std::size_t smallest_block = 4 * 1024;
constexpr std::size_t largest_block = 64 * 1024;
}  // namespace

const char* payload_store::store(std::string_view bytes)
{
    char* at = allocate(bytes.size());
    if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
    return at;
}

void payload_store::next_block(std::size_t n)
{
    const std::size_t last = blocks_.empty() ? 0 : blocks_.back().size;
    const std::size_t size = std::max({std::min(2 * last, largest_block), smallest_block, n});
    // The most recently given back spare that is large enough (the likeliest in the cache);
    // spares too small for this size never will be (sizes grow until a trim): they go.
    for (const block& s : spares_)
        if (s.size < size) spare_bytes_ -= s.size;
    std::erase_if(spares_, [&](const block& s) { return s.size < size; });
    block b;
    if (!spares_.empty()) {
        b = std::move(spares_.back());
        spares_.pop_back();
        spare_bytes_ -= b.size;
    } else {
        // Every block may become a spare: room for it in the list now, not when it is given
        // back (on an acknowledgement, where nothing may throw).
        const std::size_t all = blocks_.size() + 1;
        if (spares_.capacity() < all) spares_.reserve(2 * all);
        b.data.reset(new char[size]);
        b.size = size;
    }
    blocks_.push_back(std::move(b));
    block_bytes_ += blocks_.back().size;
}

void payload_store::emptied() noexcept
{
    // A spare, unless payloads still go into it (then it starts over).
    block& front = blocks_.front();
    if (blocks_.size() == 1) {
        front.used = front.stored = front.released = 0;
        return;
    }
    block_bytes_ -= front.size;
    if (spares_.size() < spares_.capacity()) {  // always, by the reservation in next_block
        spare_bytes_ += front.size;
        spares_.push_back({std::move(front.data), front.size});
    }
    blocks_.pop_front();
}

void payload_store::clear() noexcept
{
    while (blocks_.size() > 1) {
        block_bytes_ -= blocks_.front().size;
        blocks_.pop_front();
    }
    if (!blocks_.empty()) blocks_.front().used = blocks_.front().stored = blocks_.front().released = 0;
    trim();
}

void payload_store::trim() noexcept
{
    spares_.clear();
    spares_.shrink_to_fit();
    spare_bytes_ = 0;
    const bool empty = blocks_.size() == 1 && blocks_.front().stored == blocks_.front().released;
    if (empty && blocks_.front().size > smallest_block) {
        block_bytes_ = 0;
        blocks_.pop_front();
    }
    if (blocks_.empty()) blocks_.shrink_when_empty();
}

std::size_t payload_store::capacity() const noexcept
{
    return block_bytes_;
}

// --- outbound_ledger -----------------------------------------------------------------------------------

std::size_t outbound_ledger::room_messages() const noexcept
{
    return kept_.size() >= cfg_.max_messages ? 0 : cfg_.max_messages - kept_.size();
}

std::size_t outbound_ledger::room_bytes() const noexcept
{
    return bytes_ >= cfg_.max_bytes ? 0 : cfg_.max_bytes - bytes_;
}

bool outbound_ledger::keep(outgoing& m, wire::mask_source* frame_with)
{
    std::string id;
    if (cfg_.style == ack_style::per_message) {
        if (cfg_.id_of) {
            const message probe{m.kind, m.payload};
            auto found = cfg_.id_of(probe);
            if (!found) return false;
            id = std::move(*found);
        } else {
            const std::array<std::string_view, 1> names{"id"};
            std::array<std::string_view, 1> values;
            if (m.kind != message_kind::text || !find_members(m.payload, names, values)) return false;
            const auto plain = as_plain_string(values[0]);
            if (!plain) return false;
            id = *plain;
        }
    }
    retained& r = kept_.emplace_back();
    r.seq = next_seq_++;
    r.kind = m.kind;
    const std::size_t application_size = m.payload.size();
    // The stamp is spliced in here, once: a JSON object gets its number as its first member.
    char stamp[max_stamp];
    std::size_t stamp_size = 0, at = 0;
    if (!cfg_.stamp_field.empty() && r.kind == message_kind::text) {
        if (const auto point = find_stamp_point(m.payload)) {
            at = point->at;
            stamp_size = make_stamp(r.seq, point->empty_object, stamp);
        }
    }
    r.stamp_size = static_cast<std::uint8_t>(stamp_size);
    const std::size_t payload_size = application_size + stamp_size;
    const auto* from = reinterpret_cast<const unsigned char*>(m.payload.data());
    if (frame_with && payload_size <= payload_store::inline_limit) {
        // The frame the writer writes, stamp spliced in, masked once: the only copy of the message.
        const wire::mask_key key = frame_with->next();
        const std::size_t header = wire::header_size(payload_size);
        char* to = store_.allocate(header + payload_size);
        auto* out = reinterpret_cast<unsigned char*>(to);
        const auto op = r.kind == message_kind::binary ? wire::opcode::binary : wire::opcode::text;
        wire::write_header(out, op, payload_size, key);
        out += header;
        if (stamp_size == 0) {
            wire::mask_copy(out, from, payload_size, key);
        } else {
            // Spliced, then masked in one pass while the bytes are in the cache: three masked
            // copies, each with its own phase and ragged ends, cost more.
            std::memcpy(out, from, at);
            std::memcpy(out + at, stamp, stamp_size);
            std::memcpy(out + at + stamp_size, from + at, application_size - at);
            wire::mask_in_place(out, payload_size, key);
        }
        r.data = to;
        r.size = static_cast<std::uint32_t>(header + payload_size);
        r.header = static_cast<std::uint8_t>(header);
    } else if (payload_size <= payload_store::inline_limit) {
        // Copied in, stamp and all; the application's string is freed by the caller, still warm.
        char* to = store_.allocate(payload_size);
        std::memcpy(to, m.payload.data(), at);
        std::memcpy(to + at, stamp, stamp_size);
        std::memcpy(to + at + stamp_size, m.payload.data() + at, application_size - at);
        r.data = to;
        r.size = static_cast<std::uint32_t>(payload_size);
    } else {
        r.extra = std::make_unique<retained_extra>();
        r.extra->large = std::move(m.payload);
        if (stamp_size > 0) r.extra->large.insert(at, stamp, stamp_size);
    }
    if (!id.empty()) {
        if (!r.extra) r.extra = std::make_unique<retained_extra>();
        r.extra->id = std::move(id);
    }
    r.handler.swap(m.handler);
    r.request_id = m.request_id;
    bytes_ += application_size;
    return true;
}

void outbound_ledger::reframe(retained& r, wire::mask_key key) noexcept
{
    // Unmasking with the old key and masking with the new one is one pass with their XOR.
    auto* frame = reinterpret_cast<unsigned char*>(r.data);
    unsigned char* old_key = frame + r.header - 4;
    wire::mask_key both;
    for (std::size_t i = 0; i < 4; ++i) both[i] = static_cast<unsigned char>(old_key[i] ^ key[i]);
    wire::mask_in_place(frame + r.header, r.size - r.header, both);
    std::memcpy(old_key, key.data(), 4);
    r.key_used = false;
}

void outbound_ledger::unframe(retained& r) noexcept
{
    auto* frame = reinterpret_cast<unsigned char*>(r.data);
    wire::mask_key key;
    std::memcpy(key.data(), frame + r.header - 4, 4);
    wire::mask_in_place(frame + r.header, r.size - r.header, key);
    r.data += r.header;
    r.size -= r.header;
    r.header = 0;
    r.key_used = false;
}

retained* outbound_ledger::skip_acknowledged() noexcept
{
    // Per-message acknowledgements may have released messages out of order: skip those.
    while (!kept_.empty()) {
        const std::uint64_t front = kept_.front().seq;
        if (next_write_ < front) next_write_ = front;
        const std::uint64_t index = next_write_ - front;
        if (index >= kept_.size()) return nullptr;
        retained& r = kept_.at(index);
        if (!r.acknowledged) return &r;
        ++next_write_;
    }
    return nullptr;
}

std::size_t outbound_ledger::written_through(std::uint64_t upto, std::vector<finished_send>& done)
{
    return written_through(upto, [&](void_handler& h, std::uint64_t request_id) {
        finished_send f;
        f.handler.swap(h);
        f.request_id = request_id;
        done.push_back(std::move(f));
    });
}

std::size_t outbound_ledger::rewind() noexcept
{
    writing_ = false;  // the last link's writer is gone, and its write with it
    next_write_ = kept_.empty() ? next_seq_ : kept_.front().seq;
    std::size_t n = 0;
    for (std::size_t i = 0; i < kept_.size(); ++i) n += kept_.at(i).acknowledged ? 0 : 1;
    return n;
}

std::size_t outbound_ledger::acknowledge(const acknowledgement& a, std::vector<finished_send>& done)
{
    const std::size_t before = kept_.size();
    if (a.up_to) {
        while (!kept_.empty() && kept_.front().seq <= *a.up_to) release_front(done);
    } else if (a.id) {
        for (std::size_t i = 0; i < kept_.size(); ++i) {
            retained& r = kept_.at(i);
            if (r.acknowledged || r.id() != *a.id) continue;
            r.acknowledged = true;
            complete(r, done);
            break;
        }
        while (!kept_.empty() && kept_.front().acknowledged) release_front(done);
    }
    return before - kept_.size();
}

void outbound_ledger::fail_all(error_code ec, std::vector<finished_send>& done)
{
    while (!kept_.empty()) {
        retained& r = kept_.front();
        if (r.request_id != 0 && !r.written) done.push_back({{}, r.request_id, ec});
        complete(r, done, ec);
        bytes_ -= r.application_size();
        kept_.pop_front();
    }
    store_.clear();
    kept_.shrink_when_empty();
}

void outbound_ledger::release_front(std::vector<finished_send>& done)
{
    retained& r = kept_.front();
    if (r.handler) complete(r, done);  // none when it completed already
    bytes_ -= r.application_size();
    if (r.data) store_.release_oldest();
    kept_.pop_front();
}

void outbound_ledger::complete(retained& r, std::vector<finished_send>& done, error_code ec)
{
    if (!r.handler) return;
    finished_send f;
    f.handler.swap(r.handler);
    f.ec = ec;
    done.push_back(std::move(f));
}

}  // namespace tether::detail
