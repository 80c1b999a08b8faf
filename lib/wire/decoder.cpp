#include "decoder.hpp"

#include <algorithm>
#include <utility>

namespace tether::wire {

namespace {

constexpr unsigned char fin_bit = 0x80;
constexpr unsigned char rsv1_bit = 0x40;
constexpr unsigned char rsv23_bits = 0x30;
constexpr unsigned char mask_bit = 0x80;

bool is_known(std::uint8_t op) noexcept
{
    return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// zlib's deflateBound for n bytes: the largest deflate stream of an n-byte input.
std::uint64_t deflate_bound(std::uint64_t n) noexcept
{
    return n + (n >> 12) + (n >> 14) + (n >> 25) + 13;
}

}  // namespace

decoded decoder::fail(std::size_t consumed, std::uint16_t code, error_code ec) noexcept
{
    state_ = state::finished;
    return {.event = frame_event::failed, .consumed = consumed, .close_code = code, .error = ec};
}

decoded decoder::next(std::span<const unsigned char> in) noexcept
{
    if (state_ == state::finished) return {.event = frame_event::need_more, .consumed = in.size()};
    if (state_ == state::payload) return payload_event(in, 0);

    // A header. Each rule is checked as soon as the bytes it needs are in, so a bad frame fails
    // before its length, or its payload, has arrived.
    if (in.empty()) return {};
    const unsigned char b0 = in[0];
    const auto op = static_cast<std::uint8_t>(b0 & 0x0F);
    const bool fin = (b0 & fin_bit) != 0;
    const bool rsv1 = (b0 & rsv1_bit) != 0;
    if ((b0 & rsv23_bits) != 0) return fail(0, close_code::protocol_error, protocol_error::reserved_bits);
    if (!is_known(op)) return fail(0, close_code::protocol_error, protocol_error::reserved_opcode);
    const auto code = static_cast<opcode>(op);
    const bool control = is_control(code);
    // RSV1 means "compressed", on the first frame of a data message only (RFC 7692 6).
    if (rsv1 && (!options_.compression || control || code == opcode::continuation))
        return fail(0, close_code::protocol_error, protocol_error::reserved_bits);
    if (control && !fin) return fail(0, close_code::protocol_error, protocol_error::fragmented_control);
    if (code == opcode::continuation && !in_message_)
        return fail(0, close_code::protocol_error, protocol_error::unexpected_continuation);
    if ((code == opcode::text || code == opcode::binary) && in_message_)
        return fail(0, close_code::protocol_error, protocol_error::expected_continuation);
    if (in.size() < 2) return {};

    const unsigned char b1 = in[1];
    if ((b1 & mask_bit) != 0) return fail(0, close_code::protocol_error, protocol_error::masked_frame);
    std::uint64_t length = b1 & 0x7F;
    if (control && length > max_control_payload)
        return fail(0, close_code::protocol_error, protocol_error::control_too_big);
    std::size_t header_size = 2;
    if (length == 126) {
        if (in.size() < 4) return {};
        length = (std::uint64_t(in[2]) << 8) | in[3];
        header_size = 4;
        if (length < 126) return fail(0, close_code::protocol_error, protocol_error::non_canonical_length);
    } else if (length == 127) {
        if (in.size() < 10) return {};
        length = 0;
        for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | in[i];
        header_size = 10;
        if (length <= 0xFFFF) return fail(0, close_code::protocol_error, protocol_error::non_canonical_length);
        // RFC 6455 forbids the top bit. Such a length is refused as too big, 1009, as Beast does,
        // whatever max_message_size is.
        if (length >> 63) return fail(0, close_code::too_big, error::message_too_big);
    }

    if (control) {
        if (in.size() < header_size + length) return {};
        return control_frame(code, in.subspan(header_size, static_cast<std::size_t>(length)),
                             header_size + static_cast<std::size_t>(length));
    }

    // A data frame: refuse it now if the message would outgrow the limit. A compressed message is
    // held to the most that deflate can expand a message of max_message_size to (zlib's bound:
    // stored blocks add a little); its inflated size is checked as it inflates.
    const bool compressed = code == opcode::continuation ? compressed_ : rsv1;
    const std::uint64_t limit = compressed ? deflate_bound(options_.max_message_size) : options_.max_message_size;
    const std::uint64_t so_far = code == opcode::continuation ? message_size_ : 0;
    if (length > limit - std::min<std::uint64_t>(so_far, limit))
        return fail(0, close_code::too_big, error::message_too_big);
    if (code != opcode::continuation) {
        in_message_ = true;
        kind_ = code == opcode::text ? message_kind::text : message_kind::binary;
        compressed_ = rsv1;
        message_size_ = 0;
        begin_pending_ = true;
        utf8_.reset();
    }
    state_ = state::payload;
    remaining_ = length;
    frame_fin_ = fin;
    return payload_event(in, header_size);
}

// The payload of the current data frame that `input` holds past `header_size` bytes of header.
decoded decoder::payload_event(std::span<const unsigned char> in, std::size_t header_size) noexcept
{
    const auto available = std::min<std::uint64_t>(remaining_, in.size() - header_size);
    const auto n = static_cast<std::size_t>(available);
    const bool frame_ends = n == remaining_;
    // Nothing to report but the header: say so, unless the frame is empty and so complete.
    if (n == 0 && !frame_ends) return {.event = frame_event::need_more, .consumed = header_size};

    const auto bytes = in.subspan(header_size, n);
    const bool message_ends = frame_ends && frame_fin_;
    if (kind_ == message_kind::text && !compressed_) {
        if (!utf8_.feed(bytes) || (message_ends && !utf8_.complete()))
            return fail(header_size, close_code::bad_payload, protocol_error::invalid_utf8);
    }
    decoded d{.event = frame_event::data,
              .consumed = header_size + n,
              .payload = bytes,
              .kind = kind_,
              .message_begins = std::exchange(begin_pending_, false),
              .message_ends = message_ends,
              .compressed = compressed_};
    remaining_ -= n;
    message_size_ += n;
    if (frame_ends) {
        state_ = state::header;
        if (frame_fin_) in_message_ = false;
    }
    return d;
}

decoded decoder::control_frame(opcode op, std::span<const unsigned char> payload, std::size_t consumed) noexcept
{
    if (op == opcode::ping) return {.event = frame_event::ping, .consumed = consumed, .payload = payload};
    if (op == opcode::pong) return {.event = frame_event::pong, .consumed = consumed, .payload = payload};

    // Close: no payload, or a valid code and a UTF-8 reason.
    if (payload.empty()) {
        state_ = state::finished;
        return {.event = frame_event::close, .consumed = consumed, .close_code = close_code::no_status};
    }
    if (payload.size() == 1) return fail(consumed, close_code::protocol_error, protocol_error::bad_close_payload);
    const auto code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
    if (!is_valid_close_code(code)) return fail(consumed, close_code::protocol_error, protocol_error::bad_close_code);
    const auto reason = payload.subspan(2);
    if (!is_valid_utf8(reason)) return fail(consumed, close_code::protocol_error, protocol_error::bad_close_payload);
    state_ = state::finished;
    return {.event = frame_event::close, .consumed = consumed, .payload = reason, .close_code = code};
}

}  // namespace tether::wire
