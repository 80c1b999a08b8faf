// The incremental UTF-8 validator against a reference written another way: the validator is a
// byte-at-a-time state machine, the reference computes each sequence's code point and asks
// whether any completion of it could still be a valid scalar value (RFC 3629 4).
#include "bytes.hpp"
#include "wire/utf8.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

using tether::test::bytes;
using tether::test::hex;
using tether::wire::is_valid_utf8;
using tether::wire::utf8_validator;

namespace {

constexpr std::size_t none = std::size_t(-1);

// --- the reference ----------------------------------------------------------------------------------

// Whether a sequence of `length` bytes whose completions have code points lo..hi can still encode
// a scalar value in its shortest form.
bool may_complete(std::size_t length, std::uint32_t lo, std::uint32_t hi)
{
    auto meets = [&](std::uint32_t a, std::uint32_t b) { return lo <= b && a <= hi; };
    switch (length) {
    case 2: return meets(0x80, 0x7FF);
    case 3: return meets(0x800, 0xD7FF) || meets(0xE000, 0xFFFF);
    case 4: return meets(0x10000, 0x10FFFF);
    }
    return false;
}

struct verdict {
    std::size_t first_bad = none;  ///< the first byte no valid text could have there, or none
    bool complete = true;          ///< no error and the input ends on a character boundary

    bool valid() const { return first_bad == none && complete; }
};

verdict reference(std::span<const unsigned char> s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned b = s[i];
        std::size_t length = 0;
        std::uint32_t cp = 0;
        if (b < 0x80) {
            ++i;
            continue;
        }
        if ((b & 0xE0) == 0xC0) {
            length = 2;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            length = 3;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            length = 4;
            cp = b & 0x07;
        } else {
            return {i, false};  // a stray continuation byte, or F8-FF
        }
        for (std::size_t k = 1; k <= length; ++k) {
            if (k > 1) {
                if (i + k - 1 == s.size()) return {none, false};  // cut short, but could still be valid
                const unsigned c = s[i + k - 1];
                if ((c & 0xC0) != 0x80) return {i + k - 1, false};
                cp = (cp << 6) | (c & 0x3F);
            }
            const unsigned rest_bits = 6 * static_cast<unsigned>(length - k);
            const std::uint32_t lo = cp << rest_bits;
            const std::uint32_t hi = lo | ((std::uint32_t(1) << rest_bits) - 1);
            if (!may_complete(length, lo, hi)) return {i + k - 1, false};
        }
        i += length;
    }
    return {};
}

// --- the validator, fed in different ways -------------------------------------------------------------

// Byte at a time: the index of the byte at which `feed` first said no, or none; and `complete()`.
verdict byte_at_a_time(std::span<const unsigned char> s)
{
    utf8_validator v;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!v.feed(s.subspan(i, 1))) return {i, false};
    return {none, v.complete()};
}

// Encodes `cp` in `length` bytes, without checking anything: overlong forms, surrogates and code
// points above U+10FFFF come out as asked.
bytes encode(std::uint32_t cp, std::size_t length)
{
    switch (length) {
    case 1: return {static_cast<unsigned char>(cp)};
    case 2: return {static_cast<unsigned char>(0xC0 | (cp >> 6)), static_cast<unsigned char>(0x80 | (cp & 0x3F))};
    case 3:
        return {static_cast<unsigned char>(0xE0 | (cp >> 12)), static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F)),
                static_cast<unsigned char>(0x80 | (cp & 0x3F))};
    default:
        return {static_cast<unsigned char>(0xF0 | (cp >> 18)), static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F)),
                static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<unsigned char>(0x80 | (cp & 0x3F))};
    }
}

bytes encode(std::uint32_t cp)
{
    return encode(cp, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
}

bytes operator+(bytes a, const bytes& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// Every way of feeding `s` agrees with the reference; the first disagreement, described, or "".
std::string disagreement(std::span<const unsigned char> s)
{
    const verdict want = reference(s);
    if (is_valid_utf8(s) != want.valid()) return "is_valid_utf8 says " + std::to_string(!want.valid());
    const verdict got = byte_at_a_time(s);
    if (got.first_bad != want.first_bad)
        return "byte at a time: rejected at " + std::to_string(got.first_bad) + ", the first bad byte is " +
               std::to_string(want.first_bad);
    if (got.complete != want.complete) return "byte at a time: complete() is " + std::to_string(got.complete);
    utf8_validator whole;
    const bool fed = whole.feed(s);
    if (fed != (want.first_bad == none)) return "one feed: feed() says " + std::to_string(fed);
    // In two feeds, split anywhere: the first says no only when the bad byte is in it, the
    // second when it is anywhere.
    for (std::size_t at = 0; at <= s.size(); ++at) {
        utf8_validator v;
        const bool first = v.feed(s.first(at));
        const bool second = v.feed(s.subspan(at));
        if (first != (want.first_bad == none || want.first_bad >= at) || second != (want.first_bad == none) ||
            v.complete() != want.valid())
            return "split at " + std::to_string(at) + ": wrong verdict";
    }
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(wire_utf8)

// Hand-written rows, each checked against both the reference (so that it is right) and the
// validator, fed whole, byte at a time and split in two everywhere.
BOOST_AUTO_TEST_CASE(structured_rows)
{
    struct row {
        const char* what;
        bytes input;
        bool valid;
        std::size_t first_bad;  // the byte at which feeding must fail, or none
    };
    const row rows[] = {
        {"empty", {}, true, none},
        {"ASCII", {'a', 'b', 'c'}, true, none},
        {"U+0000", encode(0x0), true, none},
        {"U+007F, the last 1-byte", encode(0x7F), true, none},
        {"U+0080, the first 2-byte", encode(0x80), true, none},
        {"U+07FF, the last 2-byte", encode(0x7FF), true, none},
        {"U+0800, the first 3-byte", encode(0x800), true, none},
        {"U+0FFF, the last after E0", encode(0xFFF), true, none},
        {"U+1000, the first after E1", encode(0x1000), true, none},
        {"U+CFFF, the last before ED", encode(0xCFFF), true, none},
        {"U+D000, the first after ED", encode(0xD000), true, none},
        {"U+D7FF, the last before the surrogates", encode(0xD7FF), true, none},
        {"U+E000, the first after the surrogates", encode(0xE000), true, none},
        {"U+FFFD, the replacement character", encode(0xFFFD), true, none},
        {"U+FFFF, the last 3-byte", encode(0xFFFF), true, none},
        {"U+10000, the first 4-byte", encode(0x10000), true, none},
        {"U+3FFFF, the last after F0", encode(0x3FFFF), true, none},
        {"U+40000, the first after F1", encode(0x40000), true, none},
        {"U+FFFFF, the last before F4", encode(0xFFFFF), true, none},
        {"U+100000, the first after F4", encode(0x100000), true, none},
        {"U+10FFFF, the last code point", encode(0x10FFFF), true, none},
        {"U+110000, past the last", encode(0x110000), false, 1},
        {"U+13FFFF, past the last, F4 BF", encode(0x13FFFF), false, 1},
        {"U+140000, lead F5", encode(0x140000), false, 0},
        {"U+1FFFFF, lead F7", encode(0x1FFFFF), false, 0},
        {"U+D800, the first surrogate", encode(0xD800), false, 1},
        {"U+DBFF, a high surrogate", encode(0xDBFF), false, 1},
        {"U+DC00, a low surrogate", encode(0xDC00), false, 1},
        {"U+DFFF, the last surrogate", encode(0xDFFF), false, 1},
        {"a surrogate pair, as CESU-8", encode(0xD83D) + encode(0xDE00), false, 1},
        {"overlong NUL, C0 80", encode(0x0, 2), false, 0},
        {"overlong U+007F, C1 BF", encode(0x7F, 2), false, 0},
        {"overlong U+0000 in 3 bytes, E0 80 80", encode(0x0, 3), false, 1},
        {"overlong U+07FF in 3 bytes, E0 9F BF", encode(0x7FF, 3), false, 1},
        {"overlong U+0000 in 4 bytes, F0 80 80 80", encode(0x0, 4), false, 1},
        {"overlong U+FFFF in 4 bytes, F0 8F BF BF", encode(0xFFFF, 4), false, 1},
        {"a lone continuation byte", {0x80}, false, 0},
        {"BF after ASCII", {'a', 0xBF}, false, 1},
        {"FE", {0xFE}, false, 0},
        {"FF", {0xFF}, false, 0},
        {"F8 88 80 80 80, a 5-byte form", {0xF8, 0x88, 0x80, 0x80, 0x80}, false, 0},
        {"FC 84 80 80 80 80, a 6-byte form", {0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}, false, 0},
        {"a 2-byte lead alone", {0xC3}, false, none},
        {"a 3-byte sequence cut after 2", {0xE2, 0x82}, false, none},
        {"a 4-byte sequence cut after 3", {0xF0, 0x9F, 0x98}, false, none},
        {"a 2-byte lead then ASCII", {0xC3, 'a'}, false, 1},
        {"a 3-byte lead then a new lead", {0xE2, 0xE2, 0x82, 0xAC}, false, 1},
        {"a 4-byte sequence with ASCII in it", {0xF0, 0x9F, 'a', 0x80}, false, 2},
        {"too many continuation bytes", {0xC3, 0xA9, 0xA9}, false, 2},
        {"valid text then a bad byte", bytes{'h', 0xC3, 0xA9, 'l', 'l', 'o'} + bytes{0xFF}, false, 6},
        {"mixed valid text", encode(0x24) + encode(0xA2) + encode(0x20AC) + encode(0x10348), true, none},
        {"ASCII run of 17 then a surrogate", bytes(17, 'x') + encode(0xDFFF), false, 18},
        {"ASCII run of 16 then a cut sequence", bytes(16, 'x') + bytes{0xF4, 0x8F}, false, none},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what << " [" << hex(r.input) << "]")
        {
            const verdict want = reference(r.input);
            BOOST_TEST(want.valid() == r.valid);  // the reference agrees with the row
            BOOST_TEST(want.first_bad == r.first_bad);
            BOOST_TEST(is_valid_utf8(r.input) == r.valid);
            BOOST_TEST(byte_at_a_time(r.input).first_bad == r.first_bad);
            BOOST_TEST(disagreement(r.input) == "");
        }
    }
}

// Every 1- and 2-byte input, and every 3- and 4-byte input over the bytes where the rules change.
BOOST_AUTO_TEST_CASE(exhaustive_short_inputs)
{
    static constexpr unsigned char edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                              0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0,
                                              0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFE, 0xFF};
    std::size_t checked = 0;
    std::string first;
    auto check = [&](const bytes& s) {
        ++checked;
        if (!first.empty()) return;
        const verdict want = reference(s);
        const verdict got = byte_at_a_time(s);
        if (is_valid_utf8(s) != want.valid() || got.first_bad != want.first_bad || got.complete != want.complete)
            first = "[" + hex(s) + "]";
        else if (s.size() <= 3 && !disagreement(s).empty())
            first = "[" + hex(s) + "]: " + disagreement(s);
    };
    for (unsigned a = 0; a < 256; ++a) {
        check({static_cast<unsigned char>(a)});
        for (unsigned b = 0; b < 256; ++b) check({static_cast<unsigned char>(a), static_cast<unsigned char>(b)});
    }
    for (auto a : edges)
        for (auto b : edges)
            for (auto c : edges) {
                check({a, b, c});
                for (auto d : edges) check({a, b, c, d});
            }
    BOOST_TEST(first == "");
    BOOST_TEST(checked > 600000u);
}

// Random text, valid and not, every split point. A fixed seed: a failure reproduces.
BOOST_AUTO_TEST_CASE(random_inputs_against_the_reference)
{
    std::mt19937 rng(6455);
    auto pick = [&](std::uint32_t lo, std::uint32_t hi) {
        return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
    };
    std::size_t valid = 0;
    std::size_t invalid = 0;
    std::string first;
    for (int n = 0; n < 20000 && first.empty(); ++n) {
        bytes s;
        const auto pieces = pick(0, 12);
        for (std::uint32_t i = 0; i < pieces; ++i) {
            switch (pick(0, 9)) {
            case 0:
            case 1: s = s + bytes(pick(1, 20), static_cast<unsigned char>(pick(0x20, 0x7E))); break;  // an ASCII run
            case 2: s = s + encode(pick(0x80, 0x7FF)); break;
            case 3: s = s + encode(pick(0x800, 0xD7FF)); break;
            case 4: s = s + encode(pick(0xE000, 0xFFFF)); break;
            case 5: s = s + encode(pick(0x10000, 0x10FFFF)); break;
            case 6: s.push_back(static_cast<unsigned char>(pick(0, 255))); break;  // any byte
            case 7: {                                                              // a sequence cut short
                auto e = encode(pick(0x80, 0x10FFFF));
                e.resize(pick(1, static_cast<std::uint32_t>(e.size())));
                s = s + e;
                break;
            }
            case 8: s = s + encode(pick(0xD800, 0xDFFF)); break;         // a surrogate
            case 9: s = s + encode(pick(0, 0xFFFF), pick(2, 4)); break;  // maybe overlong, maybe beyond
            }
        }
        (reference(s).valid() ? valid : invalid)++;
        if (auto d = disagreement(s); !d.empty()) first = "[" + hex(s) + "]: " + d;
    }
    BOOST_TEST(first == "");
    BOOST_TEST(valid > 1000u);  // both kinds were well represented
    BOOST_TEST(invalid > 1000u);
}

// The ASCII fast path reads eight bytes at a time: a bad byte anywhere in a long run, at any
// alignment of the buffer, is still found at its own index.
BOOST_AUTO_TEST_CASE(bad_byte_at_every_position_of_an_ascii_run)
{
    for (std::size_t offset = 0; offset < 8; ++offset) {
        for (std::size_t at = 0; at < 70; ++at) {
            for (unsigned char bad : {0x80, 0xC0, 0xFF}) {
                bytes buffer(offset + 80, 'a');
                buffer[offset + at] = bad;
                const std::span<const unsigned char> s(buffer.data() + offset, 80);
                BOOST_TEST_CONTEXT("offset " << offset << ", bad byte " << int(bad) << " at " << at)
                {
                    BOOST_TEST(!is_valid_utf8(s));
                    utf8_validator v;
                    BOOST_TEST(v.feed(s.first(at)));
                    BOOST_TEST(!v.feed(s.subspan(at)));
                }
            }
        }
    }
}

// The validator's life: reject is for good, reset starts over, complete only on a boundary.
BOOST_AUTO_TEST_CASE(stepped_by_hand)
{
    utf8_validator v;
    const unsigned char euro[] = {0xE2, 0x82, 0xAC};
    BOOST_TEST(v.complete());  // nothing is a complete text
    BOOST_TEST(v.feed({}));
    BOOST_TEST(v.feed({euro, 1}));
    BOOST_TEST(!v.complete());  // in the middle of a character
    BOOST_TEST(v.feed({euro + 1, 1}));
    BOOST_TEST(!v.complete());
    BOOST_TEST(v.feed({euro + 2, 1}));
    BOOST_TEST(v.complete());

    const unsigned char bad[] = {0xED, 0xA0};  // a surrogate: fails at A0
    BOOST_TEST(v.feed({bad, 1}));
    BOOST_TEST(!v.feed({bad + 1, 1}));
    BOOST_TEST(!v.complete());
    BOOST_TEST(!v.feed({euro, 3}));  // valid bytes cannot bring it back
    BOOST_TEST(!v.feed({}));
    v.reset();
    BOOST_TEST(v.complete());
    BOOST_TEST(v.feed({euro, 3}));
    BOOST_TEST(v.complete());

    v.feed({euro, 2});
    v.reset();  // a new message forgets the unfinished character
    BOOST_TEST(v.complete());
    BOOST_TEST(!v.feed({euro + 2, 1}));  // so its tail is a stray byte
}

BOOST_AUTO_TEST_SUITE_END()
