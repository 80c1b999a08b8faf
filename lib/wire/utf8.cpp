#include "utf8.hpp"

#include <cstring>

namespace tether::wire {
namespace {

using state = utf8_validator::state;

// The state after `b` in state `s`.
constexpr std::uint8_t step(std::uint8_t s, unsigned char b) noexcept
{
    const bool tail = b >= 0x80 && b <= 0xBF;
    switch (s) {
    case state::accept:
        if (b < 0x80) return state::accept;
        if (b >= 0xC2 && b <= 0xDF) return state::tail1;
        if (b == 0xE0) return state::after_e0;
        if (b == 0xED) return state::after_ed;
        if (b >= 0xE1 && b <= 0xEF) return state::tail2;
        if (b == 0xF0) return state::after_f0;
        if (b == 0xF4) return state::after_f4;
        if (b >= 0xF1 && b <= 0xF3) return state::tail3;
        return state::reject;  // 80-C1 (stray or overlong 2-byte lead), F5-FF
    case state::tail1: return tail ? state::accept : state::reject;
    case state::tail2: return tail ? state::tail1 : state::reject;
    case state::tail3: return tail ? state::tail2 : state::reject;
    case state::after_e0: return b >= 0xA0 && b <= 0xBF ? state::tail1 : state::reject;
    case state::after_ed: return b >= 0x80 && b <= 0x9F ? state::tail1 : state::reject;
    case state::after_f0: return b >= 0x90 && b <= 0xBF ? state::tail2 : state::reject;
    case state::after_f4: return b >= 0x80 && b <= 0x8F ? state::tail2 : state::reject;
    default: return state::reject;
    }
}

}  // namespace

bool utf8_validator::feed(std::span<const unsigned char> bytes) noexcept
{
    const unsigned char* p = bytes.data();
    const unsigned char* const end = p + bytes.size();
    std::uint8_t s = state_;
    while (p != end) {
        if (s == state::accept) {
            // Text is mostly ASCII: skip it a word at a time.
            while (end - p >= 8) {
                std::uint64_t word;
                std::memcpy(&word, p, 8);
                if ((word & 0x8080808080808080ull) != 0) break;
                p += 8;
            }
            while (p != end && *p < 0x80) ++p;
            if (p == end) break;
        }
        s = step(s, *p++);
        if (s == state::reject) break;
    }
    state_ = s;
    return s != state::reject;
}

bool is_valid_utf8(std::span<const unsigned char> bytes) noexcept
{
    utf8_validator v;
    return v.feed(bytes) && v.complete();
}

}  // namespace tether::wire
