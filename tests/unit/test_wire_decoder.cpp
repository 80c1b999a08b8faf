// The frame decoder, a sans-I/O state machine: rows of server bytes and the events they must give,
// each fed whole, split in two at every point and one byte at a time (the same events every way),
// and then some sequences stepped by hand, event by event.
#include "bytes.hpp"
#include "wire/decoder.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using tether::test::bytes;
using namespace std::string_view_literals;
using tether::message_kind;
using tether::protocol_error;
using tether::wire::decoded;
using tether::wire::decoder;
using tether::wire::decoder_options;
using tether::wire::frame_event;

namespace {

// --- building input ---------------------------------------------------------------------------------

// One piece of a byte string: byte values, or text.
struct part {
    bytes b;
    part(std::initializer_list<int> values)
    {
        for (int v : values) b.push_back(static_cast<unsigned char>(v));
    }
    part(std::string_view s) : b(s.begin(), s.end()) {}
    part(const char* s) : part(std::string_view(s)) {}
    part(const std::string& s) : part(std::string_view(s)) {}
    part(bytes v) : b(std::move(v)) {}
};

bytes cat(std::initializer_list<part> parts)
{
    bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.b.begin(), p.b.end());
    return out;
}

// A server frame's header (unmasked), with the length in its shortest form.
bytes hdr(int b0, std::uint64_t n)
{
    bytes h{static_cast<unsigned char>(b0)};
    if (n < 126) {
        h.push_back(static_cast<unsigned char>(n));
    } else if (n <= 0xFFFF) {
        h.insert(h.end(), {126, static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)});
    } else {
        h.push_back(127);
        for (int i = 7; i >= 0; --i) h.push_back(static_cast<unsigned char>(n >> (8 * i)));
    }
    return h;
}

// A whole server frame.
bytes fr(int b0, std::string_view payload)
{
    return cat({hdr(b0, payload.size()), payload});
}

// `n` bytes of ASCII text, different at each position.
std::string pattern(std::size_t n)
{
    std::string s(n, ' ');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
    return s;
}

// A close frame's payload: the code, then the reason.
std::string close_payload(std::uint16_t code, std::string_view reason = {})
{
    std::string s{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    return s + std::string(reason);
}

// --- describing output ------------------------------------------------------------------------------

// A payload as it appears in the summaries: quoted, with other bytes than printable ASCII in hex;
// a long one by its size and a hash.
std::string quote(std::string_view s)
{
    if (s.size() > 64) {
        std::uint32_t h = 2166136261u;  // FNV-1a
        for (unsigned char c : s) h = (h ^ c) * 16777619u;
        return "<" + std::to_string(s.size()) + " bytes #" + std::to_string(h) + ">";
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out + "\"";
}

std::string error_name(const tether::error_code& ec)
{
    if (ec == tether::error::message_too_big) return "message_too_big";
    if (ec.category() != tether::protocol_category()) return ec.message();
    switch (static_cast<protocol_error>(ec.value())) {
    case protocol_error::reserved_bits: return "reserved_bits";
    case protocol_error::reserved_opcode: return "reserved_opcode";
    case protocol_error::masked_frame: return "masked_frame";
    case protocol_error::fragmented_control: return "fragmented_control";
    case protocol_error::control_too_big: return "control_too_big";
    case protocol_error::unexpected_continuation: return "unexpected_continuation";
    case protocol_error::expected_continuation: return "expected_continuation";
    case protocol_error::non_canonical_length: return "non_canonical_length";
    case protocol_error::bad_close_payload: return "bad_close_payload";
    case protocol_error::bad_close_code: return "bad_close_code";
    case protocol_error::invalid_utf8: return "invalid_utf8";
    default: return ec.message();
    }
}

std::string text_of(std::span<const unsigned char> s)
{
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Turns events into a summary that does not depend on how the input was cut:
//   [text"ab"]            a whole message: `[` where message_begins, `]` where message_ends; the
//                         data events of one message with nothing between them are joined;
//   [text"a" ping"" text"b"]  a ping between two fragments; `text+z` a compressed message;
//   close 1000"bye"       a close frame, with its code (1005 when it had none) and reason;
//   failed 1002 reserved_bits  a failure, with the code to close with and the error.
// The data of a message that a failure cut short is left out: fail-fast validation hands out the
// valid bytes before a bad one when they come separately, and not when they come together.
class recorder {
public:
    void on(const decoded& d)
    {
        switch (d.event) {
        case frame_event::need_more: return;
        case frame_event::data: return on_data(d);
        case frame_event::ping: items_.push_back({"ping", text_of(d.payload)}); break;
        case frame_event::pong: items_.push_back({"pong", text_of(d.payload)}); break;
        case frame_event::close: items_.push_back({"close " + std::to_string(d.close_code), text_of(d.payload)}); break;
        case frame_event::failed:
            items_.push_back({"failed " + std::to_string(d.close_code) + " " + error_name(d.error)});
            break;
        }
    }

    std::string summary() const
    {
        auto items = items_;
        if (items.size() >= 2 && items.back().head.starts_with("failed")) {
            const auto& cut = items[items.size() - 2];
            if (cut.data && !cut.ends) items.erase(items.end() - 2);
        }
        std::string out;
        for (const auto& i : items) {
            if (!out.empty()) out += ' ';
            if (i.data) {
                out += (i.begins ? "[" : "") + i.head + quote(i.payload) + (i.ends ? "]" : "");
            } else {
                out += i.head;
                if (!i.head.starts_with("failed")) out += quote(i.payload);
            }
        }
        return out;
    }

    /// Broken invariants of message_begins / message_ends / kind, or "".
    const std::string& problems() const { return problems_; }

private:
    struct item {
        std::string head;
        std::string payload;
        bool data = false;
        bool begins = false;
        bool ends = false;
    };

    void on_data(const decoded& d)
    {
        const std::string head =
            std::string(d.kind == message_kind::text ? "text" : "binary") + (d.compressed ? "+z" : "");
        const std::string payload = text_of(d.payload);
        if (d.message_begins) {
            if (open_) problems_ += "a message began inside another; ";
            open_head_ = head;
            items_.push_back({head, payload, true, true, d.message_ends});
        } else {
            if (!open_) problems_ += "data outside a message; ";
            if (head != open_head_) problems_ += "the kind changed inside a message; ";
            if (!items_.empty() && items_.back().data && !items_.back().ends) {
                items_.back().payload += payload;
                items_.back().ends = d.message_ends;
            } else {
                items_.push_back({head, payload, true, false, d.message_ends});
            }
        }
        open_ = !d.message_ends;
    }

    std::vector<item> items_;
    bool open_ = false;
    std::string open_head_;
    std::string problems_;
};

// What feeding a decoder produced.
struct outcome {
    std::string summary;
    std::string problems;        // consumed accounting or message boundaries gone wrong
    std::size_t decided_at = 0;  // the input fed when the close or the failure came out (0: none did)
    std::size_t leftover = 0;    // input never consumed
};

// Feeds `input` in chunks ending at `cuts` (ascending, the last = input.size()), the way the reader
// does: append the chunk to what is pending, then take events until the decoder needs more,
// dropping what each consumed.
outcome feed(const bytes& input, const decoder_options& options, const std::vector<std::size_t>& cuts)
{
    decoder dec(options);
    recorder rec;
    outcome out;
    bytes pending;
    std::size_t fed = 0;
    bool terminal = false;
    for (std::size_t cut : cuts) {
        pending.insert(pending.end(), input.begin() + static_cast<std::ptrdiff_t>(fed),
                       input.begin() + static_cast<std::ptrdiff_t>(cut));
        fed = cut;
        for (;;) {
            const decoded d = dec.next(pending);
            if (d.consumed > pending.size()) {
                out.problems += "consumed more than the input; ";
                return out;
            }
            // A payload is the last bytes of what the event consumed (a data frame's piece, a
            // control frame's payload or a close reason).
            if (!d.payload.empty() && d.payload.data() + d.payload.size() != pending.data() + d.consumed)
                out.problems += "a payload that is not the end of what was consumed; ";
            if (d.event == frame_event::need_more && !d.payload.empty()) out.problems += "need_more with a payload; ";
            if (terminal && d.event != frame_event::need_more) out.problems += "an event after the end; ";
            if (d.event == frame_event::close || d.event == frame_event::failed) {
                terminal = true;
                if (out.decided_at == 0) out.decided_at = fed;
                if (!dec.finished()) out.problems += "not finished after the end; ";
            }
            rec.on(d);
            pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(d.consumed));
            if (d.event == frame_event::need_more && d.consumed == 0) break;
        }
    }
    out.summary = rec.summary();
    out.problems += rec.problems();
    out.leftover = pending.size();
    return out;
}

std::vector<std::size_t> whole(const bytes& input)
{
    return {input.size()};
}

std::vector<std::size_t> byte_at_a_time(const bytes& input)
{
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i <= input.size(); ++i) cuts.push_back(i);
    if (cuts.empty()) cuts.push_back(0);
    return cuts;
}

// The split points worth trying: all of them for short inputs; around the headers and the end,
// and a stride through the payload, for long ones.
std::vector<std::size_t> split_points(std::size_t n)
{
    std::vector<std::size_t> at;
    for (std::size_t k = 0; k <= n; ++k)
        if (n <= 600 || k < 24 || n - k < 24 || k % 997 == 0) at.push_back(k);
    return at;
}

struct row {
    const char* what;
    bytes input;
    std::string expected;
    std::size_t decided_at = 0;  // fed one byte at a time: how many bytes were in when the close or
                                 // failure came out (the byte that decided it)
    decoder_options options = {};
};

// One row, every way of feeding it.
void check(const row& r)
{
    BOOST_TEST_CONTEXT(r.what)
    {
        const outcome once = feed(r.input, r.options, whole(r.input));
        BOOST_TEST(once.summary == r.expected);
        BOOST_TEST(once.problems == "");
        BOOST_TEST(once.leftover == 0u);

        const outcome bytewise = feed(r.input, r.options, byte_at_a_time(r.input));
        BOOST_TEST(bytewise.summary == r.expected);
        BOOST_TEST(bytewise.problems == "");
        BOOST_TEST(bytewise.decided_at == r.decided_at);  // fail fast: at the deciding byte
        BOOST_TEST(bytewise.leftover == 0u);

        for (std::size_t k : split_points(r.input.size())) {
            const outcome two = feed(r.input, r.options, {k, r.input.size()});
            if (two.summary != r.expected || !two.problems.empty() || two.leftover != 0) {
                BOOST_TEST_CONTEXT("split at " << k)
                {
                    BOOST_TEST(two.summary == r.expected);
                    BOOST_TEST(two.problems == "");
                    BOOST_TEST(two.leftover == 0u);
                }
                break;  // one split is enough to show
            }
        }
    }
}

decoder_options limit(std::size_t n)
{
    return {.max_message_size = n};
}

const decoder_options compressing{.compression = true};

const std::string p125 = pattern(125);
const std::string p126 = pattern(126);
const std::string p65535 = pattern(65535);
const std::string p65536 = pattern(65536);

// One 8-byte length field.
bytes len64(std::uint64_t n)
{
    bytes b;
    for (int i = 7; i >= 0; --i) b.push_back(static_cast<unsigned char>(n >> (8 * i)));
    return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(wire_decoder)

BOOST_AUTO_TEST_CASE(payload_lengths)
{
    const row rows[] = {
        {"empty text", fr(0x81, ""), R"([text""])"},
        {"empty binary", fr(0x82, ""), R"([binary""])"},
        {"5 bytes", fr(0x81, "hello"), R"([text"hello"])"},
        {"125 bytes: the largest 7-bit length", cat({{0x81, 0x7D}, p125}), "[text" + quote(p125) + "]"},
        {"126 bytes: the smallest 16-bit length", cat({{0x81, 0x7E, 0x00, 0x7E}, p126}), "[text" + quote(p126) + "]"},
        {"65535 bytes: the largest 16-bit length", cat({{0x82, 0x7E, 0xFF, 0xFF}, p65535}),
         "[binary" + quote(p65535) + "]"},
        {"65536 bytes: the smallest 64-bit length", cat({{0x82, 0x7F}, len64(65536), p65536}),
         "[binary" + quote(p65536) + "]"},
        {"two messages back to back", cat({fr(0x81, "a"), fr(0x82, "b")}), R"([text"a"] [binary"b"])"},
    };
    for (const auto& r : rows) check(r);
}

// RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length"; the most
// significant bit of a 64-bit length MUST be 0 (refused here by the size limit, 1009).
BOOST_AUTO_TEST_CASE(non_canonical_and_impossible_lengths)
{
    const row rows[] = {
        {"125 in 16 bits", cat({{0x81, 0x7E, 0x00, 0x7D}, p125}), "failed 1002 non_canonical_length", 4},
        {"0 in 16 bits", {0x81, 0x7E, 0x00, 0x00}, "failed 1002 non_canonical_length", 4},
        {"65535 in 64 bits", cat({{0x82, 0x7F}, len64(65535), p65535}), "failed 1002 non_canonical_length", 10},
        {"126 in 64 bits", cat({{0x82, 0x7F}, len64(126), p126}), "failed 1002 non_canonical_length", 10},
        {"0 in 64 bits", cat({{0x82, 0x7F}, len64(0)}), "failed 1002 non_canonical_length", 10},
        {"the top bit set", cat({{0x82, 0x7F}, len64(std::uint64_t(1) << 63)}), "failed 1009 message_too_big", 10},
        {"all bits set", cat({{0x82, 0x7F}, len64(~std::uint64_t(0))}), "failed 1009 message_too_big", 10},
        {"2^32 bytes, over the default limit", cat({{0x82, 0x7F}, len64(std::uint64_t(1) << 32)}),
         "failed 1009 message_too_big", 10},
    };
    for (const auto& r : rows) check(r);
}

// max_message_size counts the wire bytes the headers announce, and refuses a frame at its header.
BOOST_AUTO_TEST_CASE(message_size_limit_from_the_header)
{
    const row rows[] = {
        {"exactly the limit", fr(0x81, "0123456789"), R"([text"0123456789"])", 0, limit(10)},
        {"one over, refused at the length byte", fr(0x81, "0123456789a"), "failed 1009 message_too_big", 2, limit(10)},
        {"one over in 16 bits", cat({hdr(0x82, 256), pattern(256)}), "failed 1009 message_too_big", 4, limit(255)},
        {"one over in 64 bits", cat({{0x82, 0x7F}, len64(65536), p65536}), "failed 1009 message_too_big", 10,
         limit(65535)},
        {"fragments adding up to the limit", cat({fr(0x01, "abcdef"), fr(0x80, "ghij")}), R"([text"abcdefghij"])", 0,
         limit(10)},
        {"fragments one over: refused at the continuation's header", cat({fr(0x01, "abcdef"), fr(0x80, "ghijk")}),
         "failed 1009 message_too_big", 10, limit(10)},
        {"three fragments and a ping (not counted)",
         cat({fr(0x01, "abcd"), fr(0x89, "0123456789"), fr(0x00, "efgh"), fr(0x80, "ij")}),
         R"([text"abcd" ping"0123456789" text"efghij"])", 0, limit(10)},
        {"the third fragment goes over", cat({fr(0x01, "abcd"), fr(0x89, ""), fr(0x00, "efgh"), fr(0x80, "ijk")}),
         R"([text"abcd" ping"" failed 1009 message_too_big)", 16, limit(10)},
        {"the limit is per message", cat({fr(0x81, "abcdef"), fr(0x81, "ghijkl")}), R"([text"abcdef"] [text"ghijkl"])",
         0, limit(10)},
        {"limit 1: empty frames pass", cat({fr(0x01, ""), fr(0x80, "")}), R"([text""])", 0, limit(1)},
        {"a message at the limit, then an empty last fragment", cat({fr(0x02, "ab"), fr(0x80, "")}), R"([binary"ab"])",
         0, limit(2)},
        {"limit 1: one byte passes", fr(0x82, "x"), R"([binary"x"])", 0, limit(1)},
        {"limit 1: two bytes do not", fr(0x82, "xy"), "failed 1009 message_too_big", 2, limit(1)},
        {"a compressed message counts its wire bytes",
         fr(0xC2, "0123456789"),
         R"([binary+z"0123456789"])",
         0,
         {.max_message_size = 10, .compression = true}},
        // Held to deflate's bound for the limit (10 + 0 + 0 + 0 + 13 = 23): deflate may expand
        // incompressible data, and the inflater checks the inflated size.
        {"compressed: the deflate bound of the limit passes",
         fr(0xC2, pattern(23)),
         "[binary+z\"" + pattern(23) + "\"]",
         0,
         {.max_message_size = 10, .compression = true}},
        {"compressed: one over the bound does not",
         fr(0xC2, pattern(24)),
         "failed 1009 message_too_big",
         2,
         {.max_message_size = 10, .compression = true}},
        {"uncompressed with compression on: the limit itself",
         fr(0x82, pattern(11)),
         "failed 1009 message_too_big",
         2,
         {.max_message_size = 10, .compression = true}},
    };
    for (const auto& r : rows) check(r);
}

// RFC 6455 5.1: a client MUST close the connection if it detects a masked frame.
BOOST_AUTO_TEST_CASE(masked_server_frames)
{
    const row rows[] = {
        {"masked text",
         {0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58},
         "failed 1002 masked_frame",
         2},
        {"masked empty binary", {0x82, 0x80, 0x00, 0x00, 0x00, 0x00}, "failed 1002 masked_frame", 2},
        {"masked ping", {0x89, 0x80, 0x00, 0x00, 0x00, 0x00}, "failed 1002 masked_frame", 2},
        {"masked close", {0x88, 0x82, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8}, "failed 1002 masked_frame", 2},
        {"masked with a 16-bit length", cat({{0x82, 0xFE, 0x00, 0x80, 1, 2, 3, 4}, pattern(128)}),
         "failed 1002 masked_frame", 2},
        {"a good message, then a masked one", cat({fr(0x81, "a"), {0x81, 0x80, 0, 0, 0, 0}}),
         R"([text"a"] failed 1002 masked_frame)", 5},
    };
    for (const auto& r : rows) check(r);
}

// RFC 6455 5.2: RSV1-3 MUST be 0 unless an extension defines them; RFC 7692 6: with
// permessage-deflate, RSV1 marks a message's first frame compressed, and nothing else.
BOOST_AUTO_TEST_CASE(reserved_bits)
{
    const row rows[] = {
        {"RSV1 on text, no extension", fr(0xC1, "a"), "failed 1002 reserved_bits", 1},
        {"RSV2 on text", fr(0xA1, "a"), "failed 1002 reserved_bits", 1},
        {"RSV3 on text", fr(0x91, "a"), "failed 1002 reserved_bits", 1},
        {"all three on binary", fr(0xF2, "a"), "failed 1002 reserved_bits", 1},
        {"RSV1 on ping, no extension", fr(0xC9, ""), "failed 1002 reserved_bits", 1},
        {"RSV2 on close", fr(0xA8, ""), "failed 1002 reserved_bits", 1},
        {"RSV3 on continuation", cat({fr(0x01, "a"), fr(0x90, "b")}), "failed 1002 reserved_bits", 4},
        // With permessage-deflate.
        {"RSV1 on text: compressed, not UTF-8 checked", fr(0xC1, "\xf2\x48\xcd\xc9\xc9\x07\x00"sv),
         R"([text+z"\xf2H\xcd\xc9\xc9\x07\x00"])", 0, compressing},
        {"RSV1 on binary", fr(0xC2, "\xff"), R"([binary+z"\xff"])", 0, compressing},
        {"RSV1 on an empty text", fr(0xC1, ""), R"([text+z""])", 0, compressing},
        {"RFC 7692 7.2.3.1: compressed, fragmented", cat({fr(0x41, "\xf2\x48\xcd"), fr(0x80, "\xc9\xc9\x07\x00"sv)}),
         R"([text+z"\xf2H\xcd\xc9\xc9\x07\x00"])", 0, compressing},
        {"RSV1 on a continuation", cat({fr(0x41, "\xf2"), fr(0xC0, "\x00"sv)}), "failed 1002 reserved_bits", 4,
         compressing},
        {"RSV1 on the continuation of an uncompressed message", cat({fr(0x01, "a"), fr(0xC0, "b")}),
         "failed 1002 reserved_bits", 4, compressing},
        {"RSV1 on ping", fr(0xC9, ""), "failed 1002 reserved_bits", 1, compressing},
        {"RSV1 on pong", fr(0xCA, ""), "failed 1002 reserved_bits", 1, compressing},
        {"RSV1 on close", fr(0xC8, ""), "failed 1002 reserved_bits", 1, compressing},
        {"RSV2 on text", fr(0xA1, "a"), "failed 1002 reserved_bits", 1, compressing},
        {"RSV3 on binary", fr(0x92, "a"), "failed 1002 reserved_bits", 1, compressing},
        {"RSV1 on an orphan continuation", fr(0xC0, "a"), "failed 1002 reserved_bits", 1, compressing},
        {"uncompressed text is still UTF-8 checked", fr(0x81, "\xff"), "failed 1007 invalid_utf8", 3, compressing},
        {"compressed then uncompressed", cat({fr(0xC1, "\xff"), fr(0x81, "a")}), R"([text+z"\xff"] [text"a"])", 0,
         compressing},
    };
    for (const auto& r : rows) check(r);
}

// RFC 6455 5.2: opcodes 3-7 and B-F are reserved; an endpoint MUST fail on one.
BOOST_AUTO_TEST_CASE(reserved_opcodes)
{
    for (int op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        BOOST_TEST_CONTEXT("opcode " << op)
        {
            check({"with FIN", fr(0x80 | op, "a"), "failed 1002 reserved_opcode", 1});
            check({"without FIN", fr(op, "a"), "failed 1002 reserved_opcode", 1});
            check({"inside a fragmented message", cat({fr(0x01, "a"), fr(0x80 | op, "")}),
                   "failed 1002 reserved_opcode", 4});
        }
    }
}

// RFC 6455 5.5: control frames carry at most 125 bytes and MUST NOT be fragmented.
BOOST_AUTO_TEST_CASE(control_frames)
{
    const row rows[] = {
        {"empty ping", fr(0x89, ""), R"(ping"")"},
        {"ping with a payload, not UTF-8 checked", fr(0x89, "\xff\x00"sv), R"(ping"\xff\x00")"},
        {"125-byte ping", fr(0x89, p125), "ping" + quote(p125)},
        {"125-byte pong", fr(0x8A, p125), "pong" + quote(p125)},
        {"125-byte close", fr(0x88, close_payload(1000, pattern(123))), "close 1000" + quote(pattern(123)), 127},
        {"126-byte ping, refused at the length", cat({hdr(0x89, 126), p126}), "failed 1002 control_too_big", 2},
        {"126-byte pong", cat({hdr(0x8A, 126), p126}), "failed 1002 control_too_big", 2},
        {"126-byte close", cat({hdr(0x88, 126), close_payload(1000, pattern(124))}), "failed 1002 control_too_big", 2},
        {"ping with a 64-bit length", cat({{0x89, 0x7F}, len64(1), "x"}), "failed 1002 control_too_big", 2},
        {"ping without FIN", fr(0x09, ""), "failed 1002 fragmented_control", 1},
        {"pong without FIN", fr(0x0A, ""), "failed 1002 fragmented_control", 1},
        {"close without FIN", fr(0x08, ""), "failed 1002 fragmented_control", 1},
        {"pings and pongs in a row", cat({fr(0x89, "1"), fr(0x8A, "2"), fr(0x89, "")}), R"(ping"1" pong"2" ping"")"},
    };
    for (const auto& r : rows) check(r);
}

// RFC 6455 5.4: a fragmented message is a first frame without FIN, continuations, and a last one
// with FIN; control frames may come between; no other data frame may.
BOOST_AUTO_TEST_CASE(fragmentation)
{
    const row rows[] = {
        {"two fragments", cat({fr(0x01, "ab"), fr(0x80, "cd")}), R"([text"abcd"])"},
        {"three fragments", cat({fr(0x01, "a"), fr(0x00, "b"), fr(0x80, "c")}), R"([text"abc"])"},
        {"binary fragments", cat({fr(0x02, "\xff\xfe"), fr(0x80, "\xfd")}), R"([binary"\xff\xfe\xfd"])"},
        {"empty fragments", cat({fr(0x01, ""), fr(0x00, ""), fr(0x80, "")}), R"([text""])"},
        {"an empty first fragment", cat({fr(0x02, ""), fr(0x80, "xy")}), R"([binary"xy"])"},
        {"an empty last fragment", cat({fr(0x02, "xy"), fr(0x80, "")}), R"([binary"xy"])"},
        {"control frames between fragments",
         cat({fr(0x01, "a"), fr(0x89, "p"), fr(0x00, "b"), fr(0x8A, ""), fr(0x80, "c")}),
         R"([text"a" ping"p" text"b" pong"" text"c"])"},
        {"a close between fragments ends it all", cat({fr(0x01, "a"), fr(0x88, close_payload(1000)), fr(0x80, "b")}),
         R"([text"a" close 1000"")", 7},
        {"a 126-byte fragment", cat({fr(0x01, p126), fr(0x80, "!")}), "[text" + quote(p126 + "!") + "]"},
        {"an orphan continuation", fr(0x80, "a"), "failed 1002 unexpected_continuation", 1},
        {"an orphan continuation without FIN", fr(0x00, "a"), "failed 1002 unexpected_continuation", 1},
        {"a continuation after a whole message", cat({fr(0x81, "a"), fr(0x80, "b")}),
         R"([text"a"] failed 1002 unexpected_continuation)", 4},
        {"a continuation after a fragmented message", cat({fr(0x01, "a"), fr(0x80, "b"), fr(0x80, "c")}),
         R"([text"ab"] failed 1002 unexpected_continuation)", 7},
        {"text inside a fragmented text", cat({fr(0x01, "a"), fr(0x81, "b")}), "failed 1002 expected_continuation", 4},
        {"binary inside a fragmented text", cat({fr(0x01, "a"), fr(0x02, "b")}), "failed 1002 expected_continuation",
         4},
        {"text inside after a ping", cat({fr(0x01, "a"), fr(0x89, ""), fr(0x01, "b")}),
         R"([text"a" ping"" failed 1002 expected_continuation)", 6},
        {"a new message after the last fragment", cat({fr(0x02, "a"), fr(0x80, "b"), fr(0x81, "c")}),
         R"([binary"ab"] [text"c"])"},
    };
    for (const auto& r : rows) check(r);
}

// RFC 6455 5.5.1 and 7.4: a close frame has no payload, or a code and a UTF-8 reason; codes
// 0-999, 1004-1006, 1014-2999 may not be sent. Decided when the whole frame is in.
BOOST_AUTO_TEST_CASE(close_frames)
{
    const row rows[] = {
        {"no payload: reported as 1005", fr(0x88, ""), R"(close 1005"")", 2},
        {"one byte", fr(0x88, "\x03"), "failed 1002 bad_close_payload", 3},
        {"a code and a reason", fr(0x88, close_payload(1000, "bye")), R"(close 1000"bye")", 7},
        {"a multi-byte reason", fr(0x88, close_payload(1001, "\xc3\xa9t\xc3\xa9")), R"(close 1001"\xc3\xa9t\xc3\xa9")",
         9},
        {"a reason that is not UTF-8", fr(0x88, close_payload(1000, "a\xff")), "failed 1002 bad_close_payload", 6},
        {"a reason cut mid-character", fr(0x88, close_payload(1000, "\xc3")), "failed 1002 bad_close_payload", 5},
        {"a reason with an overlong NUL", fr(0x88, close_payload(1000, "\xc0\x80")), "failed 1002 bad_close_payload",
         6},
        {"a reason with a surrogate", fr(0x88, close_payload(1000, "\xed\xa0\x80")), "failed 1002 bad_close_payload",
         7},
        {"a bad code wins over a bad reason", fr(0x88, close_payload(999, "\xff")), "failed 1002 bad_close_code", 5},
    };
    for (const auto& r : rows) check(r);

    struct code_row {
        std::uint16_t code;
        bool valid;
    };
    const code_row codes[] = {
        {0, false},    {999, false},  {1000, true},  {1001, true},  {1002, true},  {1003, true},  {1004, false},
        {1005, false}, {1006, false}, {1007, true},  {1008, true},  {1009, true},  {1010, true},  {1011, true},
        {1012, true},  {1013, true},  {1014, false}, {1015, false}, {1016, false}, {1100, false}, {2000, false},
        {2999, false}, {3000, true},  {3999, true},  {4000, true},  {4999, true},  {5000, true},  {65535, true},
    };
    for (const auto& c : codes) {
        BOOST_TEST_CONTEXT("close code " << c.code)
        {
            check({"empty reason", fr(0x88, close_payload(c.code)),
                   c.valid ? "close " + std::to_string(c.code) + "\"\"" : "failed 1002 bad_close_code", 4});
            check({"with a reason", fr(0x88, close_payload(c.code, "r")),
                   c.valid ? "close " + std::to_string(c.code) + "\"r\"" : "failed 1002 bad_close_code", 5});
        }
    }
}

// After a close or a failure every further byte is consumed and ignored, whatever it is.
BOOST_AUTO_TEST_CASE(everything_after_the_end_is_ignored)
{
    const row rows[] = {
        {"a message after a close", cat({fr(0x88, ""), fr(0x81, "a")}), R"(close 1005"")", 2},
        {"garbage after a close", cat({fr(0x88, close_payload(1000)), {0xFF, 0xFF, 0xFF}}), R"(close 1000"")", 4},
        {"a second close", cat({fr(0x88, close_payload(1000)), fr(0x88, close_payload(1001))}), R"(close 1000"")", 4},
        {"a message after a failure", cat({fr(0xC1, ""), fr(0x81, "a")}), "failed 1002 reserved_bits", 1},
        {"a ping after a UTF-8 failure", cat({fr(0x81, "a\xff"), fr(0x89, "")}), "failed 1007 invalid_utf8", 4},
        {"the rest of a frame after a UTF-8 failure", fr(0x81, "\xff and more"), "failed 1007 invalid_utf8", 3},
        {"a close after a failure", cat({fr(0x80, ""), fr(0x88, "")}), "failed 1002 unexpected_continuation", 1},
    };
    for (const auto& r : rows) check(r);
}

// RFC 6455 8.1: text is UTF-8, checked as it arrives (across fragments, control frames between)
// and failing at the first byte that no valid text could have; a message that ends inside a
// character fails at its last byte. Binary is never checked.
BOOST_AUTO_TEST_CASE(utf8_of_text_messages)
{
    const row rows[] = {
        {"a 2-byte character", fr(0x81, "\xc3\xa9"), R"([text"\xc3\xa9"])"},
        {"a 4-byte character", fr(0x81, "\xf0\x9f\x98\x80"), R"([text"\xf0\x9f\x98\x80"])"},
        {"a character split across fragments", cat({fr(0x01, "\xc3"), fr(0x80, "\xa9")}), R"([text"\xc3\xa9"])"},
        {"a character split three ways, a ping between",
         cat({fr(0x01, "\xe2"), fr(0x89, ""), fr(0x00, "\x82"), fr(0x80, "\xac")}),
         R"([text"\xe2" ping"" text"\x82\xac"])"},
        {"a bad byte in a first fragment fails before the rest arrives",
         cat({fr(0x01, "a\xff"
                       "b"),
              fr(0x80, "c")}),
         "failed 1007 invalid_utf8", 4},
        {"a stray continuation byte first", fr(0x81, "\x80"), "failed 1007 invalid_utf8", 3},
        {"an overlong lead, C0", fr(0x81, "\xc0\x80"), "failed 1007 invalid_utf8", 3},
        {"an overlong 3-byte form, at its second byte", fr(0x81, "\xe0\x80\x80"), "failed 1007 invalid_utf8", 4},
        {"a surrogate, at its second byte", fr(0x81, "\xed\xa0\x80"), "failed 1007 invalid_utf8", 4},
        {"above U+10FFFF, at its second byte", fr(0x81, "\xf4\x90\x80\x80"), "failed 1007 invalid_utf8", 4},
        {"F5", fr(0x81, "\xf5\x80\x80\x80"), "failed 1007 invalid_utf8", 3},
        {"FE in a continuation", cat({fr(0x01, "ok"), fr(0x80, "\xfe")}), "failed 1007 invalid_utf8", 7},
        {"a bad continuation of a character begun in the first fragment", cat({fr(0x01, "\xe2\x82"), fr(0x80, "a")}),
         "failed 1007 invalid_utf8", 7},
        {"a message that ends mid-character", fr(0x81, "a\xc3"), "failed 1007 invalid_utf8", 4},
        {"a fragmented message that ends mid-character", cat({fr(0x01, "a\xe2\x82"), fr(0x80, "")}),
         "failed 1007 invalid_utf8", 7},
        {"a character cut by the end of the message, continued by the next", cat({fr(0x81, "\xc3"), fr(0x81, "\xa9")}),
         "failed 1007 invalid_utf8", 3},
        {"binary is not UTF-8 checked", fr(0x82, "\xff\xc0\x80\xed\xa0\x80"), R"([binary"\xff\xc0\x80\xed\xa0\x80"])"},
        {"fragmented binary ending mid-character", cat({fr(0x02, "a"), fr(0x80, "\xc3")}), R"([binary"a\xc3"])"},
        {"text after binary that ended mid-character", cat({fr(0x82, "\xc3"), fr(0x81, "\xa9")}),
         R"([binary"\xc3"] failed 1007 invalid_utf8)", 6},
        {"a long ASCII run then a bad byte", fr(0x81, pattern(100) + "\xff"), "failed 1007 invalid_utf8", 103},
    };
    for (const auto& r : rows) check(r);
}

// The length's top bit without an effective size limit.
BOOST_AUTO_TEST_CASE(top_bit_whatever_the_limit)
{
    const row rows[] = {
        // RFC 6455 5.2: "the most significant bit MUST be 0", refused as too big (1009, as Beast
        // does) even when max_message_size, only required to be positive, is SIZE_MAX.
        {"the top bit set, no effective limit", cat({{0x82, 0x7F}, len64(std::uint64_t(1) << 63)}),
         "failed 1009 message_too_big", 10, limit(std::numeric_limits<std::size_t>::max())},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            BOOST_TEST(feed(r.input, r.options, whole(r.input)).summary == r.expected);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// --- stepped by hand: each event, with its consumed count and the decoder's state ----------------------

BOOST_AUTO_TEST_SUITE(wire_decoder_stepped)

// A fragmented message with control frames between, all in one read.
BOOST_AUTO_TEST_CASE(fragments_and_control_frames_in_one_read)
{
    const bytes in = cat({fr(0x01, "ab"), fr(0x89, "p"), fr(0x80, "c")});
    decoder dec;
    std::span<const unsigned char> rest(in);

    decoded d = dec.next(rest);
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == 4u);
    BOOST_TEST(text_of(d.payload) == "ab");
    BOOST_TEST((d.kind == message_kind::text));
    BOOST_TEST(d.message_begins);
    BOOST_TEST(!d.message_ends);
    BOOST_TEST(!d.compressed);
    BOOST_TEST(dec.in_message());
    BOOST_TEST(dec.payload_remaining() == 0u);
    rest = rest.subspan(d.consumed);

    d = dec.next(rest);
    BOOST_TEST((d.event == frame_event::ping));
    BOOST_TEST(d.consumed == 3u);
    BOOST_TEST(text_of(d.payload) == "p");
    BOOST_TEST(dec.in_message());  // a control frame does not end the message
    rest = rest.subspan(d.consumed);

    d = dec.next(rest);
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == 3u);
    BOOST_TEST(text_of(d.payload) == "c");
    BOOST_TEST(!d.message_begins);
    BOOST_TEST(d.message_ends);
    BOOST_TEST(!dec.in_message());
    rest = rest.subspan(d.consumed);
    BOOST_TEST(rest.empty());

    d = dec.next(rest);
    BOOST_TEST((d.event == frame_event::need_more));
    BOOST_TEST(d.consumed == 0u);
    BOOST_TEST(!dec.finished());
}

// A header arriving a byte at a time is not consumed until it is whole; then the header alone is
// consumed, and the payload comes out in the pieces it arrives in.
BOOST_AUTO_TEST_CASE(a_large_frame_in_pieces)
{
    const std::string payload = pattern(300);
    const bytes in = cat({hdr(0x82, 300), payload});
    decoder dec;
    for (std::size_t n = 0; n < 4; ++n) {
        BOOST_TEST_CONTEXT(n << " bytes of the header")
        {
            const decoded d = dec.next({in.data(), n});
            BOOST_TEST((d.event == frame_event::need_more));
            BOOST_TEST(d.consumed == 0u);
            BOOST_TEST(!dec.in_message());
        }
    }
    decoded d = dec.next({in.data(), 4});
    BOOST_TEST((d.event == frame_event::need_more));
    BOOST_TEST(d.consumed == 4u);  // the header, so the caller can drop it
    BOOST_TEST(dec.in_message());
    BOOST_TEST(dec.payload_remaining() == 300u);
    BOOST_TEST(dec.message_size_announced() == 300u);

    d = dec.next({in.data() + 4, 100});
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == 100u);
    BOOST_TEST(text_of(d.payload) == payload.substr(0, 100));
    BOOST_TEST(d.message_begins);
    BOOST_TEST(!d.message_ends);
    BOOST_TEST(dec.payload_remaining() == 200u);
    BOOST_TEST(dec.message_size_announced() == 300u);

    d = dec.next({in.data() + 104, 0});
    BOOST_TEST((d.event == frame_event::need_more));
    BOOST_TEST(d.consumed == 0u);

    // More than the frame: the rest of its payload only.
    bytes tail(in.begin() + 104, in.end());
    tail.insert(tail.end(), {0x89, 0x00});
    d = dec.next(tail);
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == 200u);
    BOOST_TEST(text_of(d.payload) == payload.substr(100));
    BOOST_TEST(!d.message_begins);
    BOOST_TEST(d.message_ends);
    BOOST_TEST(dec.payload_remaining() == 0u);
    BOOST_TEST(!dec.in_message());

    d = dec.next(std::span<const unsigned char>(tail).subspan(200));
    BOOST_TEST((d.event == frame_event::ping));
    BOOST_TEST(d.consumed == 2u);
}

// message_size_announced: what the message has had so far plus what the current frame announces.
BOOST_AUTO_TEST_CASE(message_size_announced_across_fragments)
{
    decoder dec;
    const bytes first = fr(0x01, "abcd");
    decoded d = dec.next(first);
    BOOST_TEST(d.consumed == first.size());
    BOOST_TEST(dec.message_size_announced() == 4u);

    const bytes second = cat({hdr(0x80, 10), "01234"});
    d = dec.next(second);
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == second.size());
    BOOST_TEST(!d.message_ends);
    BOOST_TEST(dec.payload_remaining() == 5u);
    BOOST_TEST(dec.message_size_announced() == 14u);
}

// An empty frame is an event of its own, complete at its header.
BOOST_AUTO_TEST_CASE(empty_frames)
{
    decoder dec;
    const bytes in = cat({fr(0x01, ""), fr(0x80, "")});
    decoded d = dec.next({in.data(), 1});
    BOOST_TEST((d.event == frame_event::need_more));
    BOOST_TEST(d.consumed == 0u);
    d = dec.next(in);
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == 2u);
    BOOST_TEST(d.payload.empty());
    BOOST_TEST(d.message_begins);
    BOOST_TEST(!d.message_ends);
    d = dec.next(std::span<const unsigned char>(in).subspan(2));
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == 2u);
    BOOST_TEST(!d.message_begins);
    BOOST_TEST(d.message_ends);
}

// What a failure consumes: nothing of a bad header, the header of a frame whose payload is bad,
// the whole of a bad close frame. Then everything, as need_more, for good.
BOOST_AUTO_TEST_CASE(consumed_by_failures_and_after_them)
{
    struct row {
        const char* what;
        bytes input;
        std::size_t consumed;
        std::uint16_t code;
    };
    const row rows[] = {
        {"a bad first byte", fr(0xC1, "a"), 0, 1002},
        {"a bad second byte", {0x81, 0x81, 0, 0, 0, 0, 'a'}, 0, 1002},
        {"a bad 16-bit length", {0x81, 0x7E, 0x00, 0x01, 'a'}, 0, 1002},
        {"too big at the header", fr(0x82, pattern(20)), 0, 1009},
        {"bad UTF-8: the header only", fr(0x81, "ab\xff"), 2, 1007},
        {"bad UTF-8 at the end: the header only", fr(0x81, "ab\xc3"), 2, 1007},
        {"a bad close code: the frame", fr(0x88, close_payload(1005, "x")), 5, 1002},
        {"a one-byte close: the frame", fr(0x88, "x"), 3, 1002},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            decoder dec({.max_message_size = 10});
            bytes in = r.input;
            in.insert(in.end(), {0x89, 0x00});
            decoded d = dec.next(in);
            BOOST_TEST((d.event == frame_event::failed));
            BOOST_TEST(d.consumed == r.consumed);
            BOOST_TEST(d.close_code == r.code);
            BOOST_TEST(!!d.error);
            BOOST_TEST(dec.finished());
            d = dec.next(std::span<const unsigned char>(in).subspan(d.consumed));
            BOOST_TEST((d.event == frame_event::need_more));
            BOOST_TEST(d.consumed == in.size() - r.consumed);
            d = dec.next({});
            BOOST_TEST((d.event == frame_event::need_more));
            BOOST_TEST(d.consumed == 0u);
        }
    }
}

// A UTF-8 failure in a frame whose header was consumed earlier consumes nothing.
BOOST_AUTO_TEST_CASE(utf8_failure_in_a_later_piece)
{
    decoder dec;
    const bytes in = fr(0x81, "abc\xff");
    decoded d = dec.next({in.data(), 4});
    BOOST_TEST((d.event == frame_event::data));
    BOOST_TEST(d.consumed == 4u);
    BOOST_TEST(text_of(d.payload) == "ab");
    d = dec.next({in.data() + 4, 2});
    BOOST_TEST((d.event == frame_event::failed));
    BOOST_TEST(d.consumed == 0u);
    BOOST_TEST(d.close_code == 1007);
    BOOST_TEST((d.error == protocol_error::invalid_utf8));
}

// A close frame: its code, its reason (a view into the input), and the end.
BOOST_AUTO_TEST_CASE(a_close_frame)
{
    decoder dec;
    const bytes in = cat({fr(0x88, close_payload(4001, "gone")), fr(0x81, "late")});
    decoded d = dec.next(in);
    BOOST_TEST((d.event == frame_event::close));
    BOOST_TEST(d.consumed == 8u);
    BOOST_TEST(d.close_code == 4001u);
    BOOST_TEST(text_of(d.payload) == "gone");
    BOOST_TEST(d.payload.data() == in.data() + 4);
    BOOST_TEST(!d.error);
    BOOST_TEST(dec.finished());
    d = dec.next(std::span<const unsigned char>(in).subspan(8));
    BOOST_TEST((d.event == frame_event::need_more));
    BOOST_TEST(d.consumed == 6u);
}

// A failure's error code: a protocol_error for protocol violations, error::message_too_big for
// the limit; every failure is also a Beast protocol violation or a tether error a policy knows.
BOOST_AUTO_TEST_CASE(failure_errors)
{
    struct row {
        const char* what;
        bytes input;
        tether::error_code error;
    };
    const row rows[] = {
        {"reserved bits", fr(0xC1, ""), protocol_error::reserved_bits},
        {"reserved opcode", fr(0x83, ""), protocol_error::reserved_opcode},
        {"masked", {0x81, 0x80, 0, 0, 0, 0}, protocol_error::masked_frame},
        {"fragmented control", fr(0x09, ""), protocol_error::fragmented_control},
        {"control too big", cat({hdr(0x89, 126), p126}), protocol_error::control_too_big},
        {"orphan continuation", fr(0x80, ""), protocol_error::unexpected_continuation},
        {"expected continuation", cat({fr(0x01, ""), fr(0x01, "")}), protocol_error::expected_continuation},
        {"non-canonical", {0x81, 0x7E, 0x00, 0x05}, protocol_error::non_canonical_length},
        {"close payload", fr(0x88, "x"), protocol_error::bad_close_payload},
        {"close code", fr(0x88, close_payload(1006)), protocol_error::bad_close_code},
        {"UTF-8", fr(0x81, "\xff"), protocol_error::invalid_utf8},
        {"too big", fr(0x81, "01234567890"), tether::error::message_too_big},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            decoder dec({.max_message_size = 10});
            std::span<const unsigned char> rest(r.input);
            decoded d;
            do {
                d = dec.next(rest);
                rest = rest.subspan(d.consumed);
            } while (d.event != frame_event::failed && d.event != frame_event::need_more);
            BOOST_TEST((d.event == frame_event::failed));
            BOOST_TEST((d.error == r.error));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
