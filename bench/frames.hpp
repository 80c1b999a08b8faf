// WebSocket frames on raw bytes, for the generator (which reads clients' masked frames) and for
// the "batched frames" ceiling client (which reads the generator's unmasked ones).
#ifndef TETHER_BENCH_FRAMES_HPP
#define TETHER_BENCH_FRAMES_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace bench {

/// One complete frame inside an input buffer (masked when a client sent it).
struct frame {
    unsigned opcode = 0;
    bool fin = false;
    const unsigned char* payload = nullptr;
    std::size_t length = 0;
    unsigned char key[4]{};
    bool masked = false;

    void unmask_into(std::string& out) const
    {
        out.resize(length);
        for (std::size_t i = 0; i < length; ++i)
            out[i] = static_cast<char>(masked ? payload[i] ^ key[i & 3] : payload[i]);
    }
};

/// The size of the complete frame at the start of [d, d + n), or 0 when it is not all there yet.
inline std::size_t parse_frame(const unsigned char* d, std::size_t n, frame& f)
{
    if (n < 2) return 0;
    f.opcode = d[0] & 0x0f;
    f.fin = (d[0] & 0x80) != 0;
    f.masked = (d[1] & 0x80) != 0;
    std::uint64_t len = d[1] & 0x7f;
    std::size_t pos = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = (std::uint64_t(d[2]) << 8) | d[3];
        pos = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | d[2 + i];
        pos = 10;
    }
    if (f.masked) {
        if (n < pos + 4) return 0;
        std::memcpy(f.key, d + pos, 4);
        pos += 4;
    }
    if (n - pos < len) return 0;
    f.payload = d + pos;
    f.length = static_cast<std::size_t>(len);
    return pos + f.length;
}

}  // namespace bench

#endif
