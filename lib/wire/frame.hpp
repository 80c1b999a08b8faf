// Internal: the vocabulary of RFC 6455 framing that the decoder and the encoder share.
#ifndef TETHER_LIB_WIRE_FRAME_HPP
#define TETHER_LIB_WIRE_FRAME_HPP

#include <cstddef>
#include <cstdint>

namespace tether::wire {

/// Frame opcodes (RFC 6455 5.2). The others are reserved.
enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

constexpr bool is_control(opcode op) noexcept
{
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

/// Control frames carry at most this many payload bytes (RFC 6455 5.5).
inline constexpr std::size_t max_control_payload = 125;
/// A close frame's reason fits in what its code leaves of that.
inline constexpr std::size_t max_close_reason = max_control_payload - 2;
/// The largest header: 2 bytes, a 64-bit length and a masking key.
inline constexpr std::size_t max_header_size = 14;

/// Close codes this library sends or interprets (RFC 6455 7.4.1).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status = 1005;  ///< a close frame without a code; never sent
inline constexpr std::uint16_t bad_payload = 1007;
inline constexpr std::uint16_t too_big = 1009;
}  // namespace close_code

/// Whether a peer may put `code` in a close frame: the codes RFC 6455 and the IANA registry define
/// for use (1000-1003, 1007-1013) and everything from 3000 up (registered, private use, and the
/// unassigned codes above 4999). Beast's rule exactly, so that the two agree on every close frame
/// (the differential fuzz target checks it).
constexpr bool is_valid_close_code(std::uint16_t code) noexcept
{
    if (code >= 1000 && code <= 1003) return true;
    if (code >= 1007 && code <= 1013) return true;
    return code >= 3000;
}

}  // namespace tether::wire

#endif
