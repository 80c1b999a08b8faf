// Raw WebSocket frames (RFC 6455 section 5) for the conformance server: server frames built bit by
// bit, so that a case can set what a well-behaved server never would (reserved bits and opcodes,
// a mask, non-canonical or huge declared lengths, fragmented control frames); and the client's
// frames parsed off the wire, so that a case can check what the client actually wrote.
#ifndef TETHER_TESTS_CONFORMANCE_FRAMES_HPP
#define TETHER_TESTS_CONFORMANCE_FRAMES_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::conformance {

namespace opcode {
inline constexpr std::uint8_t cont = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA;
}

inline constexpr std::uint8_t rsv1 = 0x4, rsv2 = 0x2, rsv3 = 0x1;

/// How the payload length is written: the shortest form (as RFC 6455 requires), or forced into the
/// 16-bit or 64-bit form even when a shorter one would do.
enum class length_form { minimal, u16, u64 };

/// One frame as the server writes it.
struct frame_spec {
    std::uint8_t op = opcode::text;
    bool fin = true;
    std::uint8_t rsv = 0;  ///< rsv1 | rsv2 | rsv3
    std::string payload;
    length_form form = length_form::minimal;
    /// A length to declare in the header other than payload.size(): the frame then carries only
    /// `payload`, and the client must decide on the header alone (e.g. 2^63 bytes).
    std::optional<std::uint64_t> declared_length;
    /// A masking key; a server must never mask, so this is only for the case that checks it.
    std::optional<std::uint32_t> mask;
};

/// The bytes of `f` on the wire.
inline std::string encode(const frame_spec& f)
{
    std::string out;
    out += static_cast<char>((f.fin ? 0x80 : 0) | ((f.rsv & 0x7) << 4) | (f.op & 0x0F));
    const std::uint64_t len = f.declared_length.value_or(f.payload.size());
    const std::uint8_t mask_bit = f.mask ? 0x80 : 0;
    length_form form = f.form;
    if (form == length_form::minimal)
        form = len < 126 ? length_form::minimal : len <= 0xFFFF ? length_form::u16 : length_form::u64;
    switch (form) {
    case length_form::minimal: out += static_cast<char>(mask_bit | len); break;
    case length_form::u16:
        out += static_cast<char>(mask_bit | 126);
        for (int shift = 8; shift >= 0; shift -= 8) out += static_cast<char>((len >> shift) & 0xFF);
        break;
    case length_form::u64:
        out += static_cast<char>(mask_bit | 127);
        for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((len >> shift) & 0xFF);
        break;
    }
    std::string payload = f.payload;
    if (f.mask) {
        char key[4];
        for (int i = 0; i < 4; ++i) key[i] = static_cast<char>((*f.mask >> (24 - 8 * i)) & 0xFF);
        out.append(key, 4);
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
    }
    return out + payload;
}

inline std::string text_frame(std::string payload, bool fin = true)
{
    return encode({.op = opcode::text, .fin = fin, .payload = std::move(payload)});
}
inline std::string binary_frame(std::string payload, bool fin = true)
{
    return encode({.op = opcode::binary, .fin = fin, .payload = std::move(payload)});
}
inline std::string cont_frame(std::string payload, bool fin)
{
    return encode({.op = opcode::cont, .fin = fin, .payload = std::move(payload)});
}
inline std::string ping_frame(std::string payload)
{
    return encode({.op = opcode::ping, .payload = std::move(payload)});
}
inline std::string pong_frame(std::string payload)
{
    return encode({.op = opcode::pong, .payload = std::move(payload)});
}
/// A close frame's payload: the code in network order, then the reason.
inline std::string close_payload(std::uint16_t code, std::string_view reason = {})
{
    std::string p;
    p += static_cast<char>(code >> 8);
    p += static_cast<char>(code & 0xFF);
    return p.append(reason);
}
inline std::string close_frame(std::uint16_t code, std::string_view reason = {})
{
    return encode({.op = opcode::close, .payload = close_payload(code, reason)});
}

/// One frame the client wrote, unmasked.
struct client_frame {
    bool fin = false;
    std::uint8_t rsv = 0;
    std::uint8_t op = 0;
    bool masked = false;
    /// The masking key as it was on the wire (its 4 bytes, big-endian), when `masked`: each frame
    /// must have its own, unpredictable one (RFC 6455 5.3).
    std::uint32_t key = 0;
    std::string payload;

    /// The status code of a close frame, 0 when its payload is empty (or shorter than 2 bytes).
    std::uint16_t close_code() const
    {
        if (payload.size() < 2) return 0;
        return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
    }
};

/// Takes one complete frame off the front of `buf`, or returns nothing when more bytes are
/// needed. Accepts anything a client might write (the caller checks the rules), but refuses to
/// buffer a declared length over `limit`: `too_big` is set then.
inline std::optional<client_frame> take_frame(std::string& buf, bool& too_big, std::uint64_t limit = 1 << 24)
{
    const auto byte = [&buf](std::size_t i) { return static_cast<unsigned char>(buf[i]); };
    if (buf.size() < 2) return std::nullopt;
    client_frame f;
    f.fin = (byte(0) & 0x80) != 0;
    f.rsv = static_cast<std::uint8_t>((byte(0) >> 4) & 0x7);
    f.op = static_cast<std::uint8_t>(byte(0) & 0x0F);
    f.masked = (byte(1) & 0x80) != 0;
    std::uint64_t len = byte(1) & 0x7F;
    std::size_t pos = 2;
    const std::size_t extra = len == 126 ? 2 : len == 127 ? 8 : 0;
    if (buf.size() < pos + extra) return std::nullopt;
    if (extra) {
        len = 0;
        for (std::size_t i = 0; i < extra; ++i) len = (len << 8) | byte(pos + i);
        pos += extra;
    }
    if (len > limit) {
        too_big = true;
        return std::nullopt;
    }
    const std::size_t key_at = pos;
    if (f.masked) {
        if (buf.size() < pos + 4) return std::nullopt;
        for (std::size_t i = 0; i < 4; ++i) f.key = (f.key << 8) | byte(pos + i);
        pos += 4;
    }
    if (buf.size() < pos + len) return std::nullopt;
    f.payload = buf.substr(pos, static_cast<std::size_t>(len));
    if (f.masked)
        for (std::size_t i = 0; i < f.payload.size(); ++i)
            f.payload[i] = static_cast<char>(f.payload[i] ^ buf[key_at + i % 4]);
    buf.erase(0, pos + static_cast<std::size_t>(len));
    return f;
}

}  // namespace tether::conformance

#endif
