// Internal: the frame decoder, a sans-I/O state machine from bytes to frame events (RFC 6455 for a
// client: the server's frames are unmasked). No sockets, no allocation: payloads are views into
// the caller's bytes.
#ifndef TETHER_LIB_WIRE_DECODER_HPP
#define TETHER_LIB_WIRE_DECODER_HPP

#include "frame.hpp"
#include "utf8.hpp"

#include <tether/error.hpp>
#include <tether/message.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace tether::wire {

struct decoder_options {
    /// The largest message, counted in wire bytes as its frame headers announce them; a header
    /// that would take the message past it fails with 1009 before any payload is read. For a
    /// compressed message the bound is what deflate can expand this to; the inflater checks the
    /// inflated size.
    std::size_t max_message_size = 16 * 1024 * 1024;
    /// permessage-deflate was negotiated: RSV1 on a message's first frame marks it compressed.
    bool compression = false;
};

/// What the decoder found at the start of its input.
enum class frame_event : std::uint8_t {
    need_more,  ///< no complete event in the input (`consumed` may still be > 0: a header)
    data,       ///< payload bytes of the current data message: `payload`, `message_begins`, `message_ends`
    ping,       ///< a ping, with `payload` (to be answered with a pong carrying the same bytes)
    pong,       ///< a pong, with `payload`
    close,      ///< the peer's close frame: `close_code` (1005 when it had none) and `payload`, the reason
    failed,     ///< a protocol violation: fail the connection, closing with `close_code`; `error` says why
};

struct decoded {
    frame_event event = frame_event::need_more;
    /// How many bytes of the input this event used; the caller drops them before calling again.
    std::size_t consumed = 0;
    /// data: these bytes of the message; ping, pong: the payload; close: the reason.
    std::span<const unsigned char> payload;
    message_kind kind = message_kind::text;  ///< data: the message's kind
    bool message_begins = false;             ///< data: the first bytes of a new message
    bool message_ends = false;               ///< data: the message is complete with these bytes
    bool compressed = false;                 ///< data: the message is deflated (its UTF-8 is checked after inflating)
    std::uint16_t close_code = 0;            ///< close: the peer's code; failed: the code to close with
    error_code error;                        ///< failed: why
};

/// Decodes a server's frames. Call `next` with the bytes not yet consumed; each call returns one
/// event and says how many bytes it used. A data frame's payload comes out in pieces as it arrives
/// (a single-frame message that is all in the input comes out whole, as one event with both
/// `message_begins` and `message_ends`), so a caller can read a large frame's payload straight into
/// the message's own storage and pass it through `next` from there.
///
/// Validated as the bytes arrive, failing at the first byte that breaks a rule: masked frames,
/// reserved bits without an extension, reserved opcodes, fragmented or oversized control frames,
/// continuation rules (control frames may come between fragments), non-canonical lengths, the
/// message size limit (from the header), close codes and reasons, and the UTF-8 of uncompressed
/// text. After a close or a failure every further byte is consumed and ignored.
class decoder {
public:
    explicit decoder(decoder_options options = {}) noexcept : options_(options) {}

    decoded next(std::span<const unsigned char> input) noexcept;

    /// Payload bytes of the current data frame not yet returned (0 between frames).
    std::uint64_t payload_remaining() const noexcept { return state_ == state::payload ? remaining_ : 0; }
    /// Bytes of the current message returned so far, and the current frame's payload still to come:
    /// what a caller reserves for the message.
    std::uint64_t message_size_announced() const noexcept { return message_size_ + payload_remaining(); }
    /// True once a close frame or a failure was decoded.
    bool finished() const noexcept { return state_ == state::finished; }
    /// A message is open (its first frame arrived, its last not yet).
    bool in_message() const noexcept { return in_message_; }

private:
    enum class state : std::uint8_t { header, payload, finished };

    decoded fail(std::size_t consumed, std::uint16_t code, error_code ec) noexcept;
    decoded control_frame(opcode op, std::span<const unsigned char> payload, std::size_t consumed) noexcept;
    decoded payload_event(std::span<const unsigned char> input, std::size_t header_size) noexcept;

    decoder_options options_;
    state state_ = state::header;
    // The current data frame.
    std::uint64_t remaining_ = 0;
    bool frame_fin_ = false;
    // The current message.
    bool in_message_ = false;
    message_kind kind_ = message_kind::text;
    bool compressed_ = false;
    bool begin_pending_ = false;  // no data event of the message returned yet
    std::uint64_t message_size_ = 0;
    utf8_validator utf8_;
};

}  // namespace tether::wire

#endif
