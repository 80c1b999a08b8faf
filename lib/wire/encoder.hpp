// Internal: the frame encoder. Client frames (masked, RFC 6455 5.3) written into a caller's
// buffer: no sockets, no allocation.
#ifndef TETHER_LIB_WIRE_ENCODER_HPP
#define TETHER_LIB_WIRE_ENCODER_HPP

#include "frame.hpp"
#include "mask.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tether::wire {

/// The size of a masked client frame's header for a payload of `n` bytes: 6, 8 or 14.
constexpr std::size_t header_size(std::uint64_t n) noexcept
{
    return (n < 126 ? 2 : n <= 0xFFFF ? 4 : 10) + 4;
}

/// The size of a whole masked frame with `n` payload bytes.
constexpr std::size_t frame_size(std::uint64_t n) noexcept
{
    return header_size(n) + static_cast<std::size_t>(n);
}

/// Writes the header of a masked frame (FIN set unless `fin` is false; RSV1 when `compressed`)
/// at `out`, which must hold `header_size(payload_size)` bytes. Returns the bytes written.
std::size_t write_header(unsigned char* out, opcode op, std::uint64_t payload_size, mask_key key, bool fin = true,
                         bool compressed = false) noexcept;

/// Writes a whole frame, header and masked payload, at `out` (which must hold
/// `frame_size(payload.size())` bytes). Returns the bytes written.
std::size_t write_frame(unsigned char* out, opcode op, std::span<const unsigned char> payload, mask_key key,
                        bool compressed = false) noexcept;

/// The payload of a close frame: the code in network order, then as much of `reason` as fits in a
/// control frame, cut at a character boundary. Returns its size (at most 125).
std::size_t write_close_payload(unsigned char* out, std::uint16_t code, std::string_view reason) noexcept;

}  // namespace tether::wire

#endif
