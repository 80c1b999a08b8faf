// Byte strings for the wire tests: the type, and how a failing case prints one.
#ifndef TETHER_TESTS_UNIT_BYTES_HPP
#define TETHER_TESTS_UNIT_BYTES_HPP

#include <span>
#include <string>
#include <vector>

namespace tether::test {

using bytes = std::vector<unsigned char>;

/// "C0 AF": each byte in upper-case hex, separated by spaces.
inline std::string hex(std::span<const unsigned char> s)
{
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char b : s) {
        if (!out.empty()) out += ' ';
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

}  // namespace tether::test

#endif
