// Fuzz target: the word-at-a-time loops of the codec against plain byte loops, on inputs of every
// length and alignment.
//   - wire::mask_copy and mask_in_place (lib/wire/mask.hpp): phases 0-3, 6 and one near
//     SIZE_MAX, the source at every alignment mod 8 (the destination shifted from it), the whole input and every length
//     up to 72 (around the 8- and 32-byte loops), and the input masked in two pieces (the second
//     with the phase advanced by the first's length); guard bytes around the destination must stay.
//   - wire::utf8_validator (lib/wire/utf8.hpp): fed whole, split at every point (past 256 bytes at
//     64 points and around the first bad byte), one byte at a time and at every alignment mod 8; after each piece,
//     feed() and complete() must say what a reference check written from the definition of UTF-8 says
//     (wire_reference.hpp): feed() false exactly once the bytes so far have no valid continuation,
//     complete() exactly when they are valid and end on a character boundary.
// Input layout: bytes 0-3 the masking key, byte 4 the destination's offset from the source's
// alignment (bits 0-2) and a split point's seed (the rest), then the data (masked, and validated
// as UTF-8).
#include "wire_reference.hpp"

#include "wire/mask.hpp"
#include "wire/utf8.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace {

using namespace tether::fuzz;
namespace wire = tether::wire;

constexpr unsigned char guard = 0xA5;
constexpr std::size_t slack = 16;  // guard bytes on each side, and room for the offsets

void check_mask(bytes_view data, wire::mask_key key, std::size_t phase, std::size_t src_off, std::size_t dst_off)
{
    const std::size_t n = data.size();
    std::vector<unsigned char> expected(n);
    for (std::size_t i = 0; i < n; ++i) expected[i] = data[i] ^ key[(phase + i) % 4];

    std::vector<unsigned char> src(n + 2 * slack), dst(n + 2 * slack, guard);
    if (n) std::memcpy(src.data() + slack + src_off, data.data(), n);
    const std::vector<unsigned char> src_before = src;
    wire::mask_copy(dst.data() + slack + dst_off, src.data() + slack + src_off, n, key, phase);
    check(n == 0 || std::memcmp(dst.data() + slack + dst_off, expected.data(), n) == 0,
          "mask_copy differs from the byte loop");
    for (std::size_t i = 0; i < dst.size(); ++i)
        if (i < slack + dst_off || i >= slack + dst_off + n)
            check(dst[i] == guard, "mask_copy wrote outside its destination");
    check(src == src_before, "mask_copy changed its source");

    // In place: the same buffer as source and destination.
    std::vector<unsigned char> buf(n + 2 * slack, guard);
    if (n) std::memcpy(buf.data() + slack + src_off, data.data(), n);
    wire::mask_in_place(buf.data() + slack + src_off, n, key, phase);
    check(n == 0 || std::memcmp(buf.data() + slack + src_off, expected.data(), n) == 0,
          "mask_in_place differs from the byte loop");
    for (std::size_t i = 0; i < buf.size(); ++i)
        if (i < slack + src_off || i >= slack + src_off + n)
            check(buf[i] == guard, "mask_in_place wrote outside its bytes");
}

void check_masking(bytes_view data, wire::mask_key key, std::size_t dst_shift, std::size_t split_seed)
{
    const std::size_t phases[] = {0, 1, 2, 3, 6, std::numeric_limits<std::size_t>::max() - 2};
    for (std::size_t phase : phases)
        for (std::size_t src_off = 0; src_off < 8; ++src_off)
            check_mask(data, key, phase, src_off, (src_off + dst_shift) % 8);
    // Every short length, where the loops hand over to each other.
    for (std::size_t n = 0; n <= std::min<std::size_t>(data.size(), 72); ++n)
        check_mask(data.first(n), key, n % 4, n % 8, (n + dst_shift) % 8);
    // Two pieces: the second continues the first's phase.
    const std::size_t k = data.empty() ? 0 : split_seed % (data.size() + 1);
    std::vector<unsigned char> whole(data.begin(), data.end()), pieces(data.begin(), data.end());
    wire::mask_in_place(whole.data(), whole.size(), key, 3);
    wire::mask_copy(pieces.data(), data.data(), k, key, 3);
    wire::mask_copy(pieces.data() + k, data.data() + k, data.size() - k, key, 3 + k);
    check(whole == pieces, "masking in two pieces differs from masking whole");
}

// After `fed` bytes of `data`, what the validator must say.
void check_state(const wire::utf8_validator& v, bool fed_ok, std::size_t fed, std::size_t first_bad,
                 const std::vector<bool>& boundaries)
{
    const bool possible = first_bad > fed;
    check(fed_ok == possible, "utf8_validator::feed disagrees with the reference");
    check(v.complete() == (possible && boundaries[fed]), "utf8_validator::complete disagrees with the reference");
}

void check_utf8(bytes_view data)
{
    std::vector<bool> boundaries;
    const std::size_t first_bad = utf8_first_bad(data, &boundaries);
    const std::size_t n = data.size();
    const bool valid = first_bad > n && boundaries[n];
    check(wire::is_valid_utf8(data) == valid, "is_valid_utf8 disagrees with the reference");

    // Whole, at every alignment.
    std::vector<unsigned char> buf(n + 8);
    for (std::size_t off = 0; off < 8; ++off) {
        if (n) std::memcpy(buf.data() + off, data.data(), n);
        wire::utf8_validator v;
        const bool ok = v.feed(bytes_view(buf.data() + off, n));
        check_state(v, ok, n, first_bad, boundaries);
    }
    // In two pieces, cut at every point (past 256 bytes: at 64 points, and around the first bad byte).
    std::vector<std::size_t> cuts;
    if (n <= 256) {
        for (std::size_t k = 0; k <= n; ++k) cuts.push_back(k);
    } else {
        for (std::size_t j = 0; j <= 64; ++j) cuts.push_back(j * n / 64);
        for (std::size_t k = first_bad > 4 ? first_bad - 4 : 0; k <= std::min(n, first_bad + 4); ++k) cuts.push_back(k);
    }
    for (std::size_t k : cuts) {
        wire::utf8_validator v;
        const bool first = v.feed(data.first(k));
        check_state(v, first, k, first_bad, boundaries);
        const bool second = v.feed(data.subspan(k));
        check_state(v, second, n, first_bad, boundaries);
    }
    // One byte at a time; an empty piece changes nothing.
    wire::utf8_validator v;
    bool ok = v.feed({});
    check_state(v, ok, 0, first_bad, boundaries);
    for (std::size_t k = 0; k < n; ++k) {
        ok = v.feed(data.subspan(k, 1));
        check_state(v, ok, k + 1, first_bad, boundaries);
    }
    // reset() starts afresh, whatever came before.
    v.reset();
    ok = v.feed(data);
    check_state(v, ok, n, first_bad, boundaries);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 5) return 0;
    const wire::mask_key key{data[0], data[1], data[2], data[3]};
    const std::size_t dst_shift = data[4] & 7;
    const std::size_t split_seed = data[4] >> 3;
    const bytes_view rest(data + 5, size - 5);
    check_masking(rest, key, dst_shift, split_seed * 131 + rest.size() / 2);
    check_utf8(rest);
    return 0;
}
