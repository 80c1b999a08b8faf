// The frame encoder and client masking: header bytes for every length form and bit, the key where
// RFC 6455 5.2 puts it, payloads that unmask back, close payloads cut at a character boundary;
// the word-at-a-time masking against a byte loop; the key source.
#include "bytes.hpp"
#include "wire/decoder.hpp"
#include "wire/encoder.hpp"
#include "wire/mask.hpp"
#include "wire/utf8.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using tether::test::bytes;
using tether::test::hex;
using namespace std::string_view_literals;
using tether::wire::mask_key;
using tether::wire::opcode;

namespace {

constexpr mask_key key{0x37, 0xFA, 0x21, 0x3D};

bytes random_bytes(std::size_t n, std::mt19937& rng)
{
    bytes b(n);
    for (auto& c : b) c = static_cast<unsigned char>(rng());
    return b;
}

// The masking RFC 6455 5.3 describes, a byte at a time.
bytes reference_mask(std::span<const unsigned char> in, mask_key k, std::size_t phase = 0)
{
    bytes out(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] ^ k[(phase + i) % 4];
    return out;
}

// A frame's header fields, read back independently of the encoder.
struct parsed {
    bool fin, rsv1, rsv2, rsv3, masked;
    int op;
    std::uint64_t length;
    std::size_t header_size;
    mask_key key;
};

parsed parse(std::span<const unsigned char> f)
{
    parsed p{};
    p.fin = f[0] & 0x80;
    p.rsv1 = f[0] & 0x40;
    p.rsv2 = f[0] & 0x20;
    p.rsv3 = f[0] & 0x10;
    p.op = f[0] & 0x0F;
    p.masked = f[1] & 0x80;
    p.length = f[1] & 0x7F;
    std::size_t at = 2;
    if (p.length == 126) {
        p.length = (std::uint64_t(f[2]) << 8) | f[3];
        at = 4;
    } else if (p.length == 127) {
        p.length = 0;
        for (std::size_t i = 2; i < 10; ++i) p.length = (p.length << 8) | f[i];
        at = 10;
    }
    if (p.masked) {
        for (std::size_t i = 0; i < 4; ++i) p.key[i] = f[at + i];
        at += 4;
    }
    p.header_size = at;
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(wire_encoder)

// RFC 6455 5.2: FIN, RSV1 (permessage-deflate), the opcode; the mask bit always (a client's frames);
// 7-bit lengths to 125, 126 + 16 bits to 65535, 127 + 64 bits beyond; then the key.
BOOST_AUTO_TEST_CASE(header_bytes)
{
    struct row {
        const char* what;
        opcode op;
        std::uint64_t length;
        bool fin;
        bool compressed;
        bytes expected;  // without the key, which follows
    };
    const row rows[] = {
        {"empty text", opcode::text, 0, true, false, {0x81, 0x80}},
        {"1 byte", opcode::text, 1, true, false, {0x81, 0x81}},
        {"125: the largest 7-bit length", opcode::binary, 125, true, false, {0x82, 0xFD}},
        {"126: the smallest 16-bit length", opcode::binary, 126, true, false, {0x82, 0xFE, 0x00, 0x7E}},
        {"256", opcode::binary, 256, true, false, {0x82, 0xFE, 0x01, 0x00}},
        {"65535: the largest 16-bit length", opcode::binary, 65535, true, false, {0x82, 0xFE, 0xFF, 0xFF}},
        {"65536: the smallest 64-bit length",
         opcode::binary,
         65536,
         true,
         false,
         {0x82, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}},
        {"2^32",
         opcode::binary,
         std::uint64_t(1) << 32,
         true,
         false,
         {0x82, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}},
        {"2^63 - 1, the largest allowed",
         opcode::binary,
         (std::uint64_t(1) << 63) - 1,
         true,
         false,
         {0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}},
        {"text without FIN: a first fragment", opcode::text, 3, false, false, {0x01, 0x83}},
        {"a middle continuation", opcode::continuation, 3, false, false, {0x00, 0x83}},
        {"the last continuation", opcode::continuation, 3, true, false, {0x80, 0x83}},
        {"compressed text: RSV1", opcode::text, 7, true, true, {0xC1, 0x87}},
        {"compressed first fragment", opcode::binary, 200, false, true, {0x42, 0xFE, 0x00, 0xC8}},
        {"ping", opcode::ping, 4, true, false, {0x89, 0x84}},
        {"pong", opcode::pong, 125, true, false, {0x8A, 0xFD}},
        {"close", opcode::close, 2, true, false, {0x88, 0x82}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            unsigned char out[tether::wire::max_header_size + 4] = {};
            std::fill(std::begin(out), std::end(out), 0xEE);
            const std::size_t n = tether::wire::write_header(out, r.op, r.length, key, r.fin, r.compressed);
            bytes expected = r.expected;
            expected.insert(expected.end(), key.begin(), key.end());
            BOOST_TEST(n == expected.size());
            BOOST_TEST(n == tether::wire::header_size(r.length));
            BOOST_TEST(hex({out, n}) == hex(expected));
            BOOST_TEST(out[n] == 0xEE);  // nothing written past the header
        }
    }
}

BOOST_AUTO_TEST_CASE(header_and_frame_sizes)
{
    struct row {
        std::uint64_t length;
        std::size_t header;
    };
    const row rows[] = {{0, 6}, {125, 6}, {126, 8}, {65535, 8}, {65536, 14}, {std::uint64_t(1) << 40, 14}};
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("payload " << r.length)
        {
            BOOST_TEST(tether::wire::header_size(r.length) == r.header);
            if (r.length < 1000000) BOOST_TEST(tether::wire::frame_size(r.length) == r.header + r.length);
        }
    }
    static_assert(tether::wire::header_size(125) == 6 && tether::wire::header_size(126) == 8);
    static_assert(tether::wire::max_header_size == 14);
}

// A whole frame: its header read back, the key after the length, the payload unmasking to what
// went in; and the same frame, unmasked, is what the decoder reads as that message.
BOOST_AUTO_TEST_CASE(whole_frames_unmask_to_the_payload)
{
    std::mt19937 rng(7692);
    for (std::size_t n :
         {0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 63, 64, 65, 125, 126, 127, 1000, 65535, 65536, 70001}) {
        for (bool compressed : {false, true}) {
            BOOST_TEST_CONTEXT(n << " bytes" << (compressed ? ", compressed" : ""))
            {
                const bytes payload = random_bytes(n, rng);
                const mask_key k{static_cast<unsigned char>(rng()), static_cast<unsigned char>(rng()),
                                 static_cast<unsigned char>(rng()), static_cast<unsigned char>(rng())};
                bytes frame(tether::wire::frame_size(n) + 1, 0xEE);
                const std::size_t size =
                    tether::wire::write_frame(frame.data(), opcode::binary, payload, k, compressed);
                BOOST_TEST(size == tether::wire::frame_size(n));
                BOOST_TEST(frame[size] == 0xEE);

                const parsed p = parse(frame);
                BOOST_TEST(p.fin);
                BOOST_TEST(p.rsv1 == compressed);
                BOOST_TEST(!p.rsv2);
                BOOST_TEST(!p.rsv3);
                BOOST_TEST(p.op == 0x2);
                BOOST_TEST(p.masked);
                BOOST_TEST(p.length == n);
                BOOST_TEST(p.header_size == tether::wire::header_size(n));
                BOOST_TEST((p.key == k));
                const std::span<const unsigned char> masked(frame.data() + p.header_size, n);
                BOOST_TEST((reference_mask(masked, k) == payload));

                // As a server would see it, with the mask removed: the decoder's message.
                bytes unmasked(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(p.header_size - 4));
                unmasked[1] &= 0x7F;
                const bytes clear = reference_mask(masked, k);
                unmasked.insert(unmasked.end(), clear.begin(), clear.end());
                tether::wire::decoder dec({.compression = true});
                const auto d = dec.next(unmasked);
                BOOST_TEST((d.event == tether::wire::frame_event::data));
                BOOST_TEST(d.consumed == unmasked.size());
                BOOST_TEST(d.message_begins);
                BOOST_TEST(d.message_ends);
                BOOST_TEST(d.compressed == compressed);
                BOOST_TEST((bytes(d.payload.begin(), d.payload.end()) == payload));
            }
        }
    }
}

// Control and text frames through write_frame: the opcode is the one asked for, FIN always set.
BOOST_AUTO_TEST_CASE(write_frame_opcodes)
{
    struct row {
        opcode op;
        std::string_view payload;
        unsigned char first_byte;
    };
    const row rows[] = {
        {opcode::text, "hello", 0x81},     {opcode::binary, "\x00\x01"sv, 0x82}, {opcode::ping, "", 0x89},
        {opcode::pong, "ping data", 0x8A}, {opcode::close, "\x03\xe8", 0x88},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("opcode " << int(r.op))
        {
            const std::span<const unsigned char> payload(reinterpret_cast<const unsigned char*>(r.payload.data()),
                                                         r.payload.size());
            bytes frame(tether::wire::frame_size(payload.size()));
            BOOST_TEST(tether::wire::write_frame(frame.data(), r.op, payload, key) == frame.size());
            BOOST_TEST(frame[0] == r.first_byte);
            BOOST_TEST(frame[1] == (0x80 | payload.size()));
            BOOST_TEST(hex({frame.data() + 2, 4}) == hex(key));
            BOOST_TEST(
                (reference_mask({frame.data() + 6, payload.size()}, key) == bytes(payload.begin(), payload.end())));
        }
    }
    // RFC 6455 5.7's example: "Hello" masked with 37 fa 21 3d.
    const auto hello = "Hello"sv;
    unsigned char frame[11];
    tether::wire::write_frame(frame, opcode::text, {reinterpret_cast<const unsigned char*>(hello.data()), 5}, key);
    BOOST_TEST(hex(frame) == "81 85 37 FA 21 3D 7F 9F 4D 51 58");
}

// A close frame's payload: the code in network order, then at most 123 bytes of the reason, cut
// back to a character boundary (RFC 6455 5.5: at most 125 bytes; 5.5.1: the reason is UTF-8).
BOOST_AUTO_TEST_CASE(close_payloads)
{
    const std::string e_acute = "\xc3\xa9";        // 2 bytes
    const std::string euro = "\xe2\x82\xac";       // 3 bytes
    const std::string emoji = "\xf0\x9f\x98\x80";  // 4 bytes
    auto a = [](std::size_t n) { return std::string(n, 'a'); };
    struct row {
        const char* what;
        std::uint16_t code;
        std::string reason;
        std::string expected_reason;
    };
    const row rows[] = {
        {"no reason", 1000, "", ""},
        {"a short reason", 1001, "bye", "bye"},
        {"a private code", 4001, "x", "x"},
        {"123 bytes: all of it", 1000, a(123), a(123)},
        {"124 bytes: cut to 123", 1000, a(124), a(123)},
        {"1000 bytes: cut to 123", 1000, a(1000), a(123)},
        {"a 2-byte character across byte 123: cut before it", 1000, a(122) + e_acute, a(122)},
        {"a 2-byte character ending at byte 123: kept", 1000, a(121) + e_acute, a(121) + e_acute},
        {"a 3-byte character across byte 123", 1000, a(121) + euro, a(121)},
        {"a 3-byte character with one byte past 123", 1000, a(122) + euro, a(122)},
        {"a 3-byte character ending at byte 123", 1000, a(120) + euro, a(120) + euro},
        {"a 4-byte character across byte 123", 1000, a(120) + emoji, a(120)},
        {"a 4-byte character ending at byte 123", 1000, a(119) + emoji, a(119) + emoji},
        {"a 4-byte character starting at byte 123", 1000, a(123) + emoji, a(123)},
        {"only 2-byte characters", 1000,
         [&] {
             std::string s;
             for (int i = 0; i < 100; ++i) s += e_acute;
             return s;
         }(),
         [&] {
             std::string s;
             for (int i = 0; i < 61; ++i) s += e_acute;
             return s;
         }()},
        // Not UTF-8 to begin with (the application's reason): the valid part before the bad byte.
        {"a reason that is not UTF-8", 1000,
         "ok\xff"
         "after",
         "ok"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            unsigned char out[tether::wire::max_control_payload + 8];
            std::fill(std::begin(out), std::end(out), 0xEE);
            const std::size_t n = tether::wire::write_close_payload(out, r.code, r.reason);
            BOOST_TEST(n == 2 + r.expected_reason.size());
            BOOST_TEST(n <= tether::wire::max_control_payload);
            BOOST_TEST(out[0] == (r.code >> 8));
            BOOST_TEST(out[1] == (r.code & 0xFF));
            BOOST_TEST(std::string(reinterpret_cast<const char*>(out + 2), n - 2) == r.expected_reason);
            BOOST_TEST(tether::wire::is_valid_utf8({out + 2, n - 2}));
            BOOST_TEST(out[n] == 0xEE);

            // What a server would read: the same code and reason.
            bytes frame{0x88, static_cast<unsigned char>(n)};
            frame.insert(frame.end(), out, out + n);
            tether::wire::decoder dec;
            const auto d = dec.next(frame);
            BOOST_TEST((d.event == tether::wire::frame_event::close));
            BOOST_TEST(d.close_code == r.code);
            BOOST_TEST(std::string(reinterpret_cast<const char*>(d.payload.data()), d.payload.size()) ==
                       r.expected_reason);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(wire_mask)

// mask_copy and mask_in_place against the byte loop: every length 0..300, source and destination
// at every alignment 0..15, every phase (and some beyond 3: only phase % 4 matters); nothing
// outside the destination touched. A fixed seed.
BOOST_AUTO_TEST_CASE(word_masking_matches_the_byte_loop)
{
    std::mt19937 rng(5302);
    std::size_t cases = 0;
    std::string first;
    for (std::size_t n = 0; n <= 300 && first.empty(); ++n) {
        const bytes input = random_bytes(n, rng);
        const mask_key k{static_cast<unsigned char>(rng()), static_cast<unsigned char>(rng()),
                         static_cast<unsigned char>(rng()), static_cast<unsigned char>(rng())};
        for (std::size_t offset = 0; offset < 16 && first.empty(); ++offset) {
            for (std::size_t phase : {0, 1, 2, 3, 4, 7, 1001}) {
                ++cases;
                const bytes expected = reference_mask(input, k, phase);
                const std::string where = "length " + std::to_string(n) + ", offset " + std::to_string(offset) +
                                          ", phase " + std::to_string(phase);

                // Copy: the source at `offset`, the destination at another alignment.
                bytes src(n + 32, 0xAA);
                std::copy(input.begin(), input.end(), src.begin() + static_cast<std::ptrdiff_t>(offset));
                bytes dst(n + 32, 0xEE);
                const std::size_t dst_offset = (offset * 7 + 3) % 16;
                tether::wire::mask_copy(dst.data() + dst_offset, src.data() + offset, n, k, phase);
                const bytes got(dst.begin() + static_cast<std::ptrdiff_t>(dst_offset),
                                dst.begin() + static_cast<std::ptrdiff_t>(dst_offset + n));
                bool untouched = true;
                for (std::size_t i = 0; i < dst.size(); ++i)
                    if ((i < dst_offset || i >= dst_offset + n) && dst[i] != 0xEE) untouched = false;
                if (got != expected)
                    first = "mask_copy, " + where;
                else if (!untouched)
                    first = "mask_copy wrote outside the destination, " + where;

                // In place, at `offset`.
                bytes buf(n + 32, 0xEE);
                std::copy(input.begin(), input.end(), buf.begin() + static_cast<std::ptrdiff_t>(offset));
                tether::wire::mask_in_place(buf.data() + offset, n, k, phase);
                const bytes in_place(buf.begin() + static_cast<std::ptrdiff_t>(offset),
                                     buf.begin() + static_cast<std::ptrdiff_t>(offset + n));
                if (first.empty() && in_place != expected) first = "mask_in_place, " + where;

                // Twice is the identity.
                tether::wire::mask_in_place(buf.data() + offset, n, k, phase);
                if (first.empty() &&
                    !std::equal(input.begin(), input.end(), buf.begin() + static_cast<std::ptrdiff_t>(offset)))
                    first = "masking twice, " + where;
            }
        }
    }
    BOOST_TEST(first == "");
    BOOST_TEST(cases == 301u * 16u * 7u);
}

// A payload masked in pieces, each with the phase of the bytes before it, is the payload masked
// whole: what a writer that masks as it copies does.
BOOST_AUTO_TEST_CASE(masking_in_pieces_with_phases)
{
    std::mt19937 rng(13);
    const bytes payload = random_bytes(1000, rng);
    const bytes expected = reference_mask(payload, key);
    for (std::size_t piece : {1, 3, 5, 8, 13, 32, 33, 100, 999}) {
        BOOST_TEST_CONTEXT("pieces of " << piece)
        {
            bytes out(payload.size());
            for (std::size_t at = 0; at < payload.size(); at += piece) {
                const std::size_t n = std::min(piece, payload.size() - at);
                tether::wire::mask_copy(out.data() + at, payload.data() + at, n, key, at);
            }
            BOOST_TEST((out == expected));
        }
    }
}

// Keys from the CSPRNG: not a repeating pattern, different across a refill (a pool is 256 keys),
// different between sources.
BOOST_AUTO_TEST_CASE(mask_source_keys)
{
    tether::wire::mask_source a;
    tether::wire::mask_source b;
    std::vector<std::uint32_t> keys;
    auto as_int = [](mask_key k) {
        return std::uint32_t(k[0]) << 24 | std::uint32_t(k[1]) << 16 | std::uint32_t(k[2]) << 8 | k[3];
    };
    for (int i = 0; i < 1024; ++i) keys.push_back(as_int(a.next()));  // four pools
    const std::set<std::uint32_t> distinct(keys.begin(), keys.end());
    BOOST_TEST(distinct.size() >= 1000u);  // 32-bit random keys: a few collisions at most
    // Consecutive pools are not the same pool again.
    for (int pool = 1; pool < 4; ++pool) {
        BOOST_TEST_CONTEXT("pool " << pool)
        {
            BOOST_TEST(!std::equal(keys.begin(), keys.begin() + 256, keys.begin() + 256 * pool));
        }
    }
    // The keys' bytes are spread: each of the 32 bit positions is set in some key and clear in another.
    std::uint32_t any = 0;
    std::uint32_t all = ~std::uint32_t(0);
    for (auto k : keys) {
        any |= k;
        all &= k;
    }
    BOOST_TEST(any == ~std::uint32_t(0));
    BOOST_TEST(all == 0u);
    // Another source draws its own keys.
    std::vector<std::uint32_t> others;
    for (int i = 0; i < 256; ++i) others.push_back(as_int(b.next()));
    BOOST_TEST(!std::equal(others.begin(), others.end(), keys.begin()));
}

BOOST_AUTO_TEST_SUITE_END()
