#include "encoder.hpp"

#include "utf8.hpp"

#include <algorithm>
#include <cstring>

namespace tether::wire {

std::size_t write_header(unsigned char* out, opcode op, std::uint64_t n, mask_key key, bool fin,
                         bool compressed) noexcept
{
    out[0] = static_cast<unsigned char>((fin ? 0x80 : 0) | (compressed ? 0x40 : 0) | static_cast<unsigned char>(op));
    std::size_t at = 2;
    if (n < 126) {
        out[1] = static_cast<unsigned char>(0x80 | n);
    } else if (n <= 0xFFFF) {
        out[1] = 0x80 | 126;
        out[2] = static_cast<unsigned char>(n >> 8);
        out[3] = static_cast<unsigned char>(n);
        at = 4;
    } else {
        out[1] = 0x80 | 127;
        for (std::size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
        at = 10;
    }
    std::memcpy(out + at, key.data(), 4);
    return at + 4;
}

std::size_t write_frame(unsigned char* out, opcode op, std::span<const unsigned char> payload, mask_key key,
                        bool compressed) noexcept
{
    const std::size_t h = write_header(out, op, payload.size(), key, true, compressed);
    mask_copy(out + h, payload.data(), payload.size(), key);
    return h + payload.size();
}

std::size_t write_close_payload(unsigned char* out, std::uint16_t code, std::string_view reason) noexcept
{
    out[0] = static_cast<unsigned char>(code >> 8);
    out[1] = static_cast<unsigned char>(code);
    std::size_t n = std::min(reason.size(), max_close_reason);
    // Cut back to a character boundary, so that the peer sees valid UTF-8.
    const auto* r = reinterpret_cast<const unsigned char*>(reason.data());
    while (n > 0 && !is_valid_utf8({r, n})) --n;
    if (n) std::memcpy(out + 2, r, n);  // an empty reason may have no data() at all
    return 2 + n;
}

}  // namespace tether::wire
