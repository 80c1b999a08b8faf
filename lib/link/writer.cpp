// The writer: the only task that writes to a link. Each batch is one write: the control frames
// (pongs, pings) and an acknowledgement of resumable receives first, then as many queued messages
// as fit the byte bound, then the close frame when one is due. Small frames are masked into one
// buffer; a large payload is masked where it is and joins the write as a buffer of its own (a
// gather write). With acknowledged sends, messages go through the ledger, which keeps them: those
// this link has not written yet first (after a reconnect, every one kept). Without compression
// the ledger keeps each as its masked frame, stamped, and the write reads it from there (a resend
// is masked afresh in place first); with it, each is compressed into the buffer.
#include "link.hpp"

#include "../wire/encoder.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <cstring>

namespace tether::detail {
namespace {

// Payload bytes per write, at most (a single larger message goes alone).
constexpr std::size_t batch_bytes = 256 * 1024;
// Larger payloads are masked in place rather than copied.
constexpr std::size_t copy_limit = 16 * 1024;
// Writes in a row that never waited before the writer lets other work run.
constexpr unsigned max_writes_in_a_row = 16;

}  // namespace

asio::awaitable<disconnect> writer::run()
{
    co_await asio::this_coro::throw_if_cancelled(false);
    const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    unsigned writes_in_a_row = 0;
    for (;;) {
        if (stopped(cs)) co_return user_disconnect();
        // A batch the reader started (write_now) and the kernel did not take whole: finish it.
        if (!std::exchange(pending_, false)) {
            if (!encode_batch()) {
                // Nothing to write: sleep, holding no buffer, until a send, a control frame or a
                // close. Once the close went out nothing more is written.
                out_.reset();
                out_capacity_ = 0;
                std::vector<control_frame>().swap(st_.controls);
                writes_in_a_row = 0;
                // A full ledger takes no message until an acknowledgement makes room (the reader
                // wakes the writer then).
                const bool ledger_full = st_.resume && st_.resume->ledger() && st_.resume->ledger()->full();
                const bool want_messages =
                    !st_.close_sent && !(st_.close_to_send && !st_.close_to_send->after_queue) && !ledger_full;
                parked_ = true;
                co_await st_.sends.async_wait(want_messages, use_tuple);
                parked_ = false;
                continue;
            }
            if (++writes_in_a_row > max_writes_in_a_row) {
                writes_in_a_row = 0;
                co_await asio::post(st_.strand, asio::use_awaitable);
            }
            gather();
        }
        const error_code ec = co_await st_.io.write(buffers_);
        finish(ec);
        if (ec) co_return error_disconnect(disconnect_kind::transport, ec);
    }
}

void writer::write_now()
{
    // Only while the writer sleeps, on a stream that can write without waiting.
    if (!parked_ || pending_ || !encode_batch()) return;
    gather();
    error_code ec;
    const std::size_t n = st_.io.try_write(buffers_, ec);
    if (!ec && n == asio::buffer_size(buffers_)) return finish({});
    // The rest (or the error) is the writer's, which resumes for it.
    for (std::size_t left = n; left > 0;) {
        const std::size_t step = std::min(left, buffers_.front().size());
        buffers_.front() += step;
        if (buffers_.front().size() == 0) buffers_.erase(buffers_.begin());
        left -= step;
    }
    pending_ = true;
    st_.sends.wake();
}

void writer::gather()
{
    // The write reads kept frames from the ledger's store: nothing there is freed meanwhile.
    if (kept_in_batch_ > 0) st_.resume->ledger()->write_started();
    buffers_.clear();
    batch_bytes_ = 0;
    for (const piece& p : pieces_) {
        buffers_.emplace_back(p.data ? p.data : out_.get() + p.offset, p.size);
        batch_bytes_ += p.size;
    }
}

void writer::finish(error_code ec)
{
    if (kept_in_batch_ > 0) st_.resume->ledger()->write_ended();
    if (ec) {
        // These may or may not have reached the server: the application is told so.
        st_.inbound.written(batch_, error::connection_lost);
        return;
    }
    st_.traffic.messages_sent += batch_.size();
    st_.traffic.bytes_sent += batch_bytes_;
    st_.stats.bytes_sent.fetch_add(batch_bytes_, std::memory_order_relaxed);
    st_.controls_drained.set();
    if (close_in_batch_) st_.close_written.set();
    if (kept_in_batch_ > 0) {
        st_.traffic.messages_sent += kept_in_batch_;
        st_.resume->written_through(kept_end_);
    }
    st_.inbound.written(batch_, {});
}

bool writer::encode_batch()
{
    out_size_ = 0;
    pieces_.clear();
    close_in_batch_ = false;
    if (st_.close_sent) return false;

    // Control frames first: pongs answer pings already read, and go out between messages.
    for (const control_frame& f : st_.controls) encode_frame(f.op, {f.payload.data(), f.size});
    st_.controls.clear();
    st_.control_bytes = 0;
    if (std::exchange(st_.ack_requested, false)) {
        if (auto ack = st_.resume->take_ack_text()) encode_message(*ack);
    }

    const bool close_now = st_.close_to_send && !st_.close_to_send->after_queue;
    outbound_ledger* ledger = st_.resume ? st_.resume->ledger() : nullptr;
    kept_in_batch_ = 0;
    if (!close_now) {
        if (ledger) {
            encode_kept(*ledger);
        } else {
            st_.sends.take(batch_, batch_bytes);
            for (outgoing& item : batch_) encode_message(item);
        }
    }
    // The application's close goes out behind the last queued message (and every kept one this
    // link has not written); any other at once.
    const bool flushed = st_.sends.empty() && (!ledger || !ledger->next_to_write());
    if (st_.close_to_send && (close_now || flushed)) {
        unsigned char payload[wire::max_control_payload];
        const std::size_t n = wire::write_close_payload(payload, st_.close_to_send->code, {});
        encode_frame(wire::opcode::close, {payload, n});
        st_.close_to_send.reset();
        st_.close_sent = true;
        close_in_batch_ = true;
    }
    return !pieces_.empty();
}

void writer::encode_kept(outbound_ledger& ledger)
{
    std::size_t bytes = 0;
    const bool frames = !(codec_ && codec_->compresses());
    for (;;) {
        retained* r = ledger.next_to_write();
        if (!r) {
            // Every kept message is written on this link: new ones, as far as the ledger has room.
            if (bytes >= batch_bytes || ledger.full()) break;
            // Only what fits the ledger's bytes; a message larger than the bound goes alone.
            st_.sends.take(batch_, std::min(batch_bytes - bytes, ledger.room_bytes()), ledger.room_messages(),
                           ledger.size() > 0);
            if (batch_.empty()) break;
            for (outgoing& item : batch_)
                if (!ledger.keep(item, frames ? &masks_ : nullptr)) refused_.push_back(std::move(item));
            batch_.clear();
            st_.resume->ledger_changed();
            if (!refused_.empty()) st_.resume->refused(refused_);
            continue;
        }
        if (bytes > 0 && bytes + r->payload_size() > batch_bytes) break;
        encode_kept_message(*r);
        bytes += r->payload_size();
        ++kept_in_batch_;
        ledger.advance(*r);
    }
    kept_end_ = ledger.write_position();
}

void writer::encode_kept_message(retained& r)
{
    const auto op = r.kind == message_kind::binary ? wire::opcode::binary : wire::opcode::text;
    if (r.framed()) {
        if (!codec_ || !codec_->compresses()) {
            // Written from the store. A key that went into a write once is not used again.
            if (r.key_used) outbound_ledger::reframe(r, masks_.next());
            r.key_used = true;
            return add_piece(r.frame());
        }
        outbound_ledger::unframe(r);  // kept on a link without compression; this one has it
    }
    // Stamped when it was kept: every write, the first and the resends, is a masked copy.
    const std::string_view text = r.payload();
    const std::span<const unsigned char> payload(reinterpret_cast<const unsigned char*>(text.data()), text.size());
    if (codec_ && codec_->compresses()) return encode_frame(op, codec_->deflate(payload), true);
    encode_frame(op, payload);
}

void writer::encode_message(std::string_view text)
{
    encode_frame(wire::opcode::text, {reinterpret_cast<const unsigned char*>(text.data()), text.size()});
}

void writer::encode_message(outgoing& item)
{
    const auto op = item.kind == message_kind::binary ? wire::opcode::binary : wire::opcode::text;
    std::span<const unsigned char> payload(reinterpret_cast<const unsigned char*>(item.payload.data()),
                                           item.payload.size());
    if (codec_ && codec_->compresses()) return encode_frame(op, codec_->deflate(payload), true);
    if (payload.size() <= copy_limit) return encode_frame(op, payload);

    // Large: the header here, the payload masked where it is (the message is ours now).
    const wire::mask_key key = masks_.next();
    const std::size_t h = wire::header_size(payload.size());
    const std::size_t at = out_size_;
    wire::write_header(grow(h), op, payload.size(), key);
    pieces_.push_back({nullptr, at, h});
    auto* data = reinterpret_cast<unsigned char*>(item.payload.data());
    wire::mask_in_place(data, item.payload.size(), key);
    pieces_.push_back({data, 0, item.payload.size()});
}

void writer::encode_frame(wire::opcode op, std::span<const unsigned char> payload, bool compressed)
{
    const std::size_t n = wire::frame_size(payload.size());
    const std::size_t at = out_size_;
    wire::write_frame(grow(n), op, payload, masks_.next(), compressed);
    add_piece(at, n);
}

void writer::add_piece(std::span<const unsigned char> bytes)
{
    // Frames back to back in the ledger's store are one buffer of the write.
    if (!pieces_.empty() && pieces_.back().data && pieces_.back().data + pieces_.back().size == bytes.data())
        pieces_.back().size += bytes.size();
    else
        pieces_.push_back({bytes.data(), 0, bytes.size()});
}

void writer::add_piece(std::size_t at, std::size_t n)
{
    // Frames back to back in out_ are one buffer of the write.
    if (!pieces_.empty() && !pieces_.back().data && pieces_.back().offset + pieces_.back().size == at)
        pieces_.back().size += n;
    else
        pieces_.push_back({nullptr, at, n});
}

unsigned char* writer::grow(std::size_t n)
{
    if (out_size_ + n > out_capacity_) {
        const std::size_t capacity = std::max({out_capacity_ * 2, out_size_ + n, std::size_t(4096)});
        std::unique_ptr<unsigned char[]> bigger(new unsigned char[capacity]);
        if (out_size_) std::memcpy(bigger.get(), out_.get(), out_size_);
        out_ = std::move(bigger);
        out_capacity_ = capacity;
    }
    unsigned char* at = out_.get() + out_size_;
    out_size_ += n;
    return at;
}

}  // namespace tether::detail
