// The reader: large reads, every complete frame of a read decoded in one pass, and the messages of
// a read handed to delivery at once. Pings are answered through the writer; the server's close
// frame, or a protocol violation, leads to the closing handshake and the teardown.
#include "link.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace tether::detail {
namespace {

// At least this much room for every read into the buffer, to begin with.
constexpr std::size_t min_read_size = 64 * 1024;
// Reads grow to hold this many messages of the largest size that had to be assembled from two
// reads, up to max_read_size: only one message in that many is then copied together.
constexpr std::size_t messages_per_read = 8;
constexpr std::size_t max_read_size = 1024 * 1024;
// A frame with at least this much payload still to come is read straight into its message.
constexpr std::size_t direct_threshold = 64 * 1024;
// Assembled storage smaller than this is worth replacing with a large one the application is done
// with.
constexpr std::size_t reuse_below = 64 * 1024;
// Reads in a row that found bytes at once before the reader lets other work run.
constexpr unsigned max_reads_in_a_row = 16;

}  // namespace

reader::reader(link_state& st, wire::deflate_codec* codec, std::string leftover)
    : st_(st), codec_(codec),
      decoder_({.max_message_size = st.settings.max_message_size, .compression = codec != nullptr})
{
    // Frames the server sent in the same segment as its 101 (usually a small hello: it fits the
    // small buffer, and a fresh link allocates nothing more).
    if (leftover.size() > small_.size()) {
        capacity_ = leftover.size() + read_size_;
        heap_.reset(new unsigned char[capacity_]);
        data_ = heap_.get();
    }
    std::memcpy(data_, leftover.data(), leftover.size());
    end_ = leftover.size();
    st_.arrived(leftover.size());  // read with the 101: this link's bytes too
}

asio::awaitable<disconnect> reader::run()
{
    unsigned reads_in_a_row = 0;
    for (;;) {
        // Decode what the buffer holds, as many messages as the application has room for. With
        // none, reading pauses, holding the rest: memory stays bounded and TCP pushes back on the
        // server. While closing it reads on, so that the server's close frame is seen.
        for (;;) {
            const std::size_t room = st_.closing() ? std::numeric_limits<std::size_t>::max() : st_.inbound.room();
            std::optional<disconnect> ended = room ? decode(room) : std::nullopt;
            deliver();
            if (ended) co_return co_await teardown(std::move(*ended));
            if (room && !stalled_) break;
            if (st_.stopping) co_return user_disconnect();
            st_.paused = true;
            co_await st_.inbound.wait_for_room();
            if (st_.stopping) co_return user_disconnect();
        }
        if (std::exchange(st_.paused, false)) st_.last_inbound = clock_type::now();
        // So does a backlog of pongs the writer has not sent (a ping flood, a peer not reading).
        while (st_.control_bytes > link_state::max_control_bytes) {
            if (st_.stopping) co_return user_disconnect();
            st_.controls_drained.reset();
            co_await st_.controls_drained.wait();
        }

        if (st_.stopping) co_return user_disconnect();
        // Reads that never wait would never let the strand's other work run.
        if (++reads_in_a_row > max_reads_in_a_row) {
            reads_in_a_row = 0;
            co_await asio::post(st_.strand, asio::use_awaitable);
            if (st_.stopping) co_return user_disconnect();
        }
        const error_code ec = co_await read();
        if (ec) co_return error_disconnect(disconnect_kind::transport, ec);
    }
}

asio::awaitable<error_code> reader::read()
{
    // The rest of a large frame goes straight into its message: no copy, and one read for as much
    // of it as the kernel has. `decode` passes the bytes through the decoder in place.
    // Once sized to the frame's end, the message takes the rest of the frame in place, however
    // little of it remains.
    if (current_ && !current_compressed_ && begin_ == end_ &&
        (direct_end_ != 0 || decoder_.payload_remaining() >= direct_threshold)) {
        if (direct_end_ == 0) {
            direct_at_ = current_length_;
            direct_end_ = direct_at_ + static_cast<std::size_t>(decoder_.payload_remaining());
            room_for(direct_end_ - direct_at_);
        }
        auto* at = reinterpret_cast<unsigned char*>(current_->data()) + direct_at_;
        auto [ec, n] = co_await st_.io.read_some(asio::buffer(at, direct_end_ - direct_at_), true);
        if (ec) co_return ec;
        st_.arrived(n);
        direct_read_ = n;
        co_return error_code{};
    }

    // Nothing left to decode on a quiet link: the next read goes into the small buffer inside the
    // reader, and the large one is given back, so that an idle link owns none. A link whose reads
    // are large keeps it.
    if (begin_ == end_ && quiet_ && !last_read_filled_) {
        heap_.reset();
        read_size_ = min_read_size;
        if (!current_) assembled_.clear();
        st_.inbound.trim();
        data_ = small_.data();
        capacity_ = small_.size();
        begin_ = end_ = 0;
        auto [ec, n] = co_await st_.io.read_some(asio::buffer(data_, capacity_), false);
        if (ec) co_return ec;
        end_ = n;
        last_read_filled_ = n == capacity_;
        quiet_ = !last_read_filled_;
        st_.arrived(n);
        co_return error_code{};
    }
    if (begin_ == end_) begin_ = end_ = 0;
    if (!heap_ || capacity_ - end_ < read_size_) {
        // Keep what is left of a partial frame, at the front of a buffer with room for a full read.
        const std::size_t kept = end_ - begin_;
        if (!heap_ || capacity_ < kept + read_size_) {
            std::unique_ptr<unsigned char[]> bigger(new unsigned char[kept + read_size_]);
            if (kept) std::memcpy(bigger.get(), data_ + begin_, kept);
            heap_ = std::move(bigger);
            data_ = heap_.get();
            capacity_ = kept + read_size_;
        } else if (kept) {
            std::memmove(data_, data_ + begin_, kept);
        }
        begin_ = 0;
        end_ = kept;
    }
    const std::size_t room = capacity_ - end_;
    auto [ec, n] = co_await st_.io.read_some(asio::buffer(data_ + end_, room), true);
    if (ec) co_return ec;
    end_ += n;
    last_read_filled_ = n == room;
    quiet_ = n < small_.size();
    st_.arrived(n);
    co_return error_code{};
}

std::optional<disconnect> reader::decode(std::size_t max_messages)
{
    stalled_ = false;
    if (direct_read_ != 0) {
        // Bytes read in place, into the message: the decoder checks them where they are.
        auto* at = reinterpret_cast<const unsigned char*>(current_->data()) + direct_at_;
        const wire::decoded d = decoder_.next({at, std::exchange(direct_read_, 0)});
        direct_at_ += d.consumed;
        if (direct_at_ == direct_end_) direct_end_ = 0;
        if (d.event == wire::frame_event::failed)
            return fail(d.close_code, error_disconnect(disconnect_kind::protocol, d.error));
        if (auto ended = on_data(d, true)) return ended;
    }
    for (;;) {
        if (begin_ == end_) return std::nullopt;
        if (batch_.size() >= max_messages) {
            stalled_ = true;
            return std::nullopt;
        }
        const wire::decoded d = decoder_.next({data_ + begin_, end_ - begin_});
        begin_ += d.consumed;
        switch (d.event) {
        case wire::frame_event::need_more: return std::nullopt;
        case wire::frame_event::data:
            if (auto ended = on_data(d, false)) return ended;
            break;
        case wire::frame_event::ping: st_.send_control(wire::opcode::pong, d.payload); break;
        case wire::frame_event::pong: st_.pong_arrived(d.payload); break;
        case wire::frame_event::close: {
            const std::uint16_t code = d.close_code == wire::close_code::no_status ? 0 : d.close_code;
            std::string reason(reinterpret_cast<const char*>(d.payload.data()), d.payload.size());
            // Echo the code (1000 for a close without one), unless ours went out already; one of
            // ours still waiting behind queued messages is replaced: nothing may follow the
            // server's close.
            st_.send_close_now(code ? code : wire::close_code::normal);
            return close_frame_disconnect(code, std::move(reason));
        }
        case wire::frame_event::failed:
            if (d.close_code == wire::close_code::too_big) {
                ++st_.stats.too_big;
                return fail(d.close_code, {.kind = disconnect_kind::message_too_big,
                                           .error = error::message_too_big,
                                           .reason = "inbound message over max_message_size"});
            }
            return fail(d.close_code, error_disconnect(disconnect_kind::protocol, d.error));
        }
    }
}

std::optional<disconnect> reader::on_data(const wire::decoded& d, bool in_place)
{
    if (d.message_begins) {
        // The common case: a whole message in this read, delivered as a view, never copied.
        if (d.message_ends && !d.compressed) {
            batch_.push_back({d.kind, {reinterpret_cast<const char*>(d.payload.data()), d.payload.size()}, nullptr});
            st_.healthy = true;
            return std::nullopt;
        }
        current_ = &next_assembled();
        current_kind_ = d.kind;
        current_compressed_ = d.compressed;
        current_length_ = 0;
        inflated_utf8_.reset();
        if (d.compressed) current_->clear();  // the inflater appends
    }
    if (current_compressed_) {
        const std::size_t before = current_->size();
        const error_code ec = codec_->inflate(d.payload, d.message_ends, *current_, st_.settings.max_message_size);
        if (ec == error::message_too_big) {
            ++st_.stats.too_big;
            return fail(wire::close_code::too_big, {.kind = disconnect_kind::message_too_big,
                                                    .error = error::message_too_big,
                                                    .reason = "inbound message over max_message_size"});
        }
        if (ec) return fail(wire::close_code::bad_payload, error_disconnect(disconnect_kind::protocol, ec));
        if (current_kind_ == message_kind::text) {
            const auto* fresh = reinterpret_cast<const unsigned char*>(current_->data()) + before;
            if (!inflated_utf8_.feed({fresh, current_->size() - before}) ||
                (d.message_ends && !inflated_utf8_.complete()))
                return fail(wire::close_code::bad_payload,
                            error_disconnect(disconnect_kind::protocol, protocol_error::invalid_utf8));
        }
    } else {
        if (!in_place) std::memcpy(room_for(d.payload.size()), d.payload.data(), d.payload.size());
        current_length_ += d.payload.size();
    }
    if (d.message_ends) {
        const std::size_t length = current_compressed_ ? current_->size() : current_length_;
        // A message copied together from two reads: larger reads make that rare.
        if (!in_place && !current_compressed_)
            read_size_ = std::clamp(std::bit_ceil(length * messages_per_read), read_size_, max_read_size);
        batch_.push_back({current_kind_, {current_->data(), length}, current_});
        current_ = nullptr;
        st_.healthy = true;
    }
    return std::nullopt;
}

unsigned char* reader::room_for(std::size_t n)
{
    // The string keeps the size it once had: growing fills only what is new with zeros, and a
    // link streaming large messages fills (and faults in) its storage once, not per message.
    if (current_->size() < current_length_ + n) {
        const std::size_t announced = static_cast<std::size_t>(
            std::min<std::uint64_t>(decoder_.message_size_announced(), st_.settings.max_message_size));
        current_->resize(std::max(current_length_ + n, announced));
    }
    return reinterpret_cast<unsigned char*>(current_->data()) + current_length_;
}

std::optional<disconnect> reader::fail(std::uint16_t code, disconnect why)
{
    st_.send_close_now(code);
    return why;
}

void reader::deliver()
{
    st_.traffic.messages_received += batch_.size();
    std::span<const inbound_message> messages = batch_;
    if (st_.resume && !batch_.empty()) {
        const auto admitted = st_.resume->admit(batch_);
        messages = admitted.deliver;
        if (admitted.room_made) st_.sends.wake();  // the writer may take more from the queue
        if (st_.resume->ack_due_now())
            st_.ack_requested = true;
        else if (st_.ack_task && st_.resume->ack_waiting())
            st_.ack_task->wake();
    }
    if (!messages.empty()) st_.inbound.deliver(messages);
    // What the messages (or pings) just read asked for goes out now: a reply, a pong.
    if (!batch_.empty() || !st_.controls.empty() || st_.ack_requested) st_.out->write_now();
    batch_.clear();
    // The storage of delivered messages is free again (kept while the link streams: it goes when
    // the link turns quiet); a message still being assembled keeps its own.
    if (current_ && current_ != assembled_[0].get()) {
        std::swap(*assembled_[0], *current_);
        current_ = assembled_[0].get();
    }
    assembled_used_ = current_ ? 1 : 0;
}

std::string& reader::next_assembled()
{
    if (assembled_used_ == assembled_.size()) assembled_.push_back(std::make_unique<std::string>());
    std::string& s = *assembled_[assembled_used_++];
    // A slot whose string went to the application gets one the application has finished with.
    if (s.capacity() < reuse_below) {
        s.clear();
        st_.inbound.reuse_storage(s);
    }
    return s;
}

asio::awaitable<disconnect> reader::teardown(disconnect why)
{
    const auto deadline = clock_type::now() + st_.settings.handshake_timeout;
    co_await st_.close_written.wait(deadline);
    if (!st_.close_written.is_set()) co_return why;  // the close frame could not be written in time
    st_.io.tcp().expires_at(deadline);
    co_await st_.io.shutdown();
    co_return why;
}

}  // namespace tether::detail
