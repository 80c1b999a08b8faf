#include "ledger.hpp"

#include "json_fields.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace tether::detail {

std::size_t outbound_ledger::room_messages() const noexcept
{
    return kept_.size() >= cfg_.max_messages ? 0 : cfg_.max_messages - kept_.size();
}

std::size_t outbound_ledger::room_bytes() const noexcept
{
    return bytes_ >= cfg_.max_bytes ? 0 : cfg_.max_bytes - bytes_;
}

bool outbound_ledger::keep(outgoing& m)
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
    r.payload = std::move(m.payload);
    r.id = std::move(id);
    r.handler.swap(m.handler);
    r.request_id = m.request_id;
    bytes_ += r.payload.size();
    return true;
}

retained* outbound_ledger::next_to_write() noexcept
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

void outbound_ledger::advance() noexcept
{
    if (retained* r = next_to_write()) {
        if (r->written) ++resent_;
        ++next_write_;
    }
}

std::size_t outbound_ledger::written_through(std::uint64_t upto, std::vector<finished_send>& done)
{
    // Writes go in sequence order, so every message before `never_written_` has been written: only
    // those after it can be written for the first time. (Walking from the front instead would
    // visit every unacknowledged message on every write.)
    std::size_t first = 0;
    const std::uint64_t from = never_written_;
    if (upto > never_written_) never_written_ = upto;
    if (kept_.empty()) return first;
    const std::uint64_t front = kept_.front().seq;
    for (std::uint64_t seq = std::max(front, from); seq < upto && seq - front < kept_.size(); ++seq) {
        retained& r = kept_.at(seq - front);
        if (r.written) continue;
        r.written = true;
        ++first;
        if (r.request_id != 0) done.push_back({{}, r.request_id, {}});  // its response may come now
        if (cfg_.completion == send_completion::written) complete(r, done);
    }
    return first;
}

std::size_t outbound_ledger::rewind() noexcept
{
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
            if (r.acknowledged || r.id != *a.id) continue;
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
        bytes_ -= r.payload.size();
        kept_.pop_front();
    }
    kept_.shrink_when_empty();
}

void outbound_ledger::release_front(std::vector<finished_send>& done)
{
    retained& r = kept_.front();
    complete(r, done);  // nothing when it completed already
    bytes_ -= r.payload.size();
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

bool outbound_ledger::stamp_of(const retained& r, std::string& stamp, std::size_t& at) const
{
    if (cfg_.stamp_field.empty() || r.kind != message_kind::text) return false;
    const auto point = find_stamp_point(r.payload);
    if (!point) return false;
    char digits[20];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, r.seq);
    stamp.clear();
    stamp += '"';
    stamp += cfg_.stamp_field;
    stamp += "\":";
    stamp.append(digits, end);
    if (!point->empty_object) stamp += ',';
    at = point->at;
    return true;
}

}  // namespace tether::detail
