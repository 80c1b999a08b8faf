#include "resume_state.hpp"

#include "json_fields.hpp"

#include <array>

namespace tether::detail {
namespace {

// The members one scan of an inbound message looks for.
enum member : std::size_t { type, ack_seq, ack_id, position, members };

}  // namespace

resume_state::resume_state(const resume_config& cfg, asio::any_io_executor ex, const notifier& events, counters& stats,
                           send_queue& sends, delivery& inbound)
    : cfg_(cfg), ex_(std::move(ex)), events_(events), stats_(stats), sends_(sends), inbound_(inbound)
{
    if (cfg_.sends.enabled) ledger_.emplace(cfg_.sends);
    if (cfg_.sends.enabled && cfg_.sends.on_full == when_full::fail)
        sends_.bound_retention(cfg_.sends.max_messages, cfg_.sends.max_bytes);
    if (cfg_.receives.enabled) {
        cursor_.emplace(cfg_.receives);
        stats_.resume_position.store(cursor_->last(), std::memory_order_relaxed);
    }
}

// --- the writer ------------------------------------------------------------------------------------------

void resume_state::refused(std::vector<outgoing>& items)
{
    std::size_t bytes = 0;
    for (const outgoing& m : items) bytes += m.payload.size();
    sends_.retention_released(items.size(), bytes);
    inbound_.written(items, error::unidentified_message);
}

std::size_t resume_state::written_through(std::uint64_t upto)
{
    // Completed here, as the ledger finds them: no list in between on this path, the hot one.
    const std::size_t first_writes = ledger_->written_through(upto, [this](void_handler& h, std::uint64_t request_id) {
        if (request_id != 0) inbound_.request_written(request_id, {});
        if (h) dispatch_completion(ex_, std::move(h), error_code{});
    });
    stats_.sent.fetch_add(first_writes, std::memory_order_relaxed);
    stats_.resent.store(ledger_->resent(), std::memory_order_relaxed);
    return first_writes;
}

std::optional<std::string> resume_state::take_ack_text()
{
    if (!cursor_) return std::nullopt;
    const auto position = cursor_->take_ack();
    if (!position) return std::nullopt;
    stats_.acks_sent.fetch_add(1, std::memory_order_relaxed);
    return cfg_.receives.make_ack ? cfg_.receives.make_ack(*position) : default_ack(*position);
}

void resume_state::ledger_changed() noexcept
{
    stats_.unacknowledged.store(ledger_->size(), std::memory_order_relaxed);
}

// --- the reader ------------------------------------------------------------------------------------------

resume_state::admitted resume_state::admit(std::span<const inbound_message> batch)
{
    admitted result{batch, false};
    bool filtered = false;  // admitted_ holds the messages kept so far
    const std::array<std::string_view, members> names{
        "type", "seq", "id",
        cursor_ && !cfg_.receives.position_of ? std::string_view(cfg_.receives.position_field) : std::string_view()};
    std::array<std::string_view, members> values;
    const bool scan = (ledger_ && !cfg_.sends.ack_of) || (cursor_ && !cfg_.receives.position_of);

    for (std::size_t i = 0; i < batch.size(); ++i) {
        const inbound_message& m = batch[i];
        if (scan && !(m.kind == message_kind::text && find_members(m.payload, names, values))) values.fill({});
        bool drop = false;
        if (ledger_) {
            if (auto a = ack_in(m, values)) {
                const std::size_t bytes_before = ledger_->bytes();
                const std::size_t released = ledger_->acknowledge(*a, done_);
                if (released > 0) {
                    result.room_made = true;
                    stats_.acknowledged.fetch_add(released, std::memory_order_relaxed);
                    sends_.retention_released(released, bytes_before - ledger_->bytes());
                }
                drop = true;
            }
        }
        // "ack" is reserved both ways: never a position, even where sends are not acknowledged.
        if (!drop && cursor_ && values[type] != R"("ack")") {
            if (auto p = position_in(m, values)) {
                const std::uint64_t expected = cursor_->last() + 1;
                switch (cursor_->admit(*p)) {
                case admission::next: break;
                case admission::duplicate:
                    stats_.duplicates.fetch_add(1, std::memory_order_relaxed);
                    drop = true;
                    break;
                case admission::gap:
                    stats_.gaps.fetch_add(1, std::memory_order_relaxed);
                    events_.event({.kind = event_kind::gap, .position = *p, .expected = expected});
                    break;
                }
            }
        }
        if (drop && !filtered) {
            admitted_.assign(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(i));
            filtered = true;
        } else if (!drop && filtered) {
            admitted_.push_back(m);
        }
    }
    if (cursor_) stats_.resume_position.store(cursor_->last(), std::memory_order_relaxed);
    if (ledger_ && !done_.empty()) {
        ledger_changed();
        complete(done_);
    } else if (result.room_made) {
        ledger_changed();
    }
    if (filtered) result.deliver = admitted_;
    return result;
}

std::optional<acknowledgement> resume_state::ack_in(const inbound_message& m,
                                                    std::span<const std::string_view> values) const
{
    if (cfg_.sends.ack_of) return cfg_.sends.ack_of(message_view{m.kind, m.payload});
    if (values[type] != R"("ack")") return std::nullopt;
    if (cfg_.sends.style == ack_style::cumulative) {
        if (auto n = as_count(values[ack_seq])) return acknowledgement{n, std::nullopt};
    } else if (auto id = as_plain_string(values[ack_id])) {
        return acknowledgement{std::nullopt, std::string(*id)};
    }
    return acknowledgement{};  // an acknowledgement of nothing we know: consumed all the same
}

std::optional<std::uint64_t> resume_state::position_in(const inbound_message& m,
                                                       std::span<const std::string_view> values) const
{
    if (cfg_.receives.position_of) return cfg_.receives.position_of(message_view{m.kind, m.payload});
    return as_count(values[position]);
}

// --- the supervisor --------------------------------------------------------------------------------------

resume_offer resume_state::offer(std::string_view target) const
{
    if (!cursor_) return {std::string(target), std::nullopt};
    return offer_for(cfg_.receives, cursor_->last(), target);
}

void resume_state::link_opened()
{
    if (cursor_) cursor_->offered();
    if (ledger_) ledger_->rewind();
}

void resume_state::finish(error_code ec)
{
    if (!ledger_) return;
    ledger_->fail_all(ec, done_);
    ledger_changed();
    complete(done_);
}

void resume_state::complete(std::vector<finished_send>& done)
{
    for (finished_send& f : done) {
        if (f.request_id != 0) inbound_.request_written(f.request_id, f.ec);
        if (f.handler) dispatch_completion(ex_, std::move(f.handler), f.ec);
    }
    done.clear();
}

}  // namespace tether::detail
