// The case table. Payloads that must be delivered are JSON objects with a string "type" (what the
// client hands to the application) unless the case runs its application on the raw API; everything
// else is raw bytes. Where RFC 6455 (or RFC 7692) leaves the client a choice, the comment says which
// one tether makes.
#include "cases.hpp"

#include "compression.hpp"
#include "frames.hpp"

#include <algorithm>
#include <cctype>

namespace tether::conformance {

namespace {

constexpr std::size_t kib = 1024;
constexpr std::size_t limit = 64 * kib;  // max_message_size of the section 9 cases

std::string msg(int seq)
{
    return R"({"type":"m","seq":)" + std::to_string(seq) + "}";
}

// A delivered message carrying `text` (which needs no JSON escaping) as a string.
std::string utf8_msg(const std::string& text)
{
    return R"({"type":"m","text":")" + text + R"("})";
}

// `s` cut into pieces of `n` bytes (the last may be shorter).
std::vector<std::string> pieces(const std::string& s, std::size_t n)
{
    std::vector<std::string> out;
    for (std::size_t at = 0; at < s.size(); at += n) out.push_back(s.substr(at, n));
    return out;
}

// `s` as a fragmented message (text unless `op` says otherwise): one frame per piece of `n` bytes;
// `rsv` on the first frame only.
std::string fragmented(const std::string& s, std::size_t n, std::uint8_t op = opcode::text, std::uint8_t rsv = 0)
{
    const auto parts = pieces(s, n);
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const bool fin = i + 1 == parts.size();
        out += i == 0 ? encode({.op = op, .fin = fin, .rsv = rsv, .payload = parts[i]}) : cont_frame(parts[i], fin);
    }
    return out;
}

// `n` bytes running through every byte value (so that masking is seen on all of them).
std::string bytes(std::size_t n, unsigned seed = 0)
{
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 31 + seed * 7 + (i >> 8)) & 0xFF);
    return out;
}

// `n` letters and digits from a fixed pseudo-random sequence: text that compresses, but not to nothing.
std::string noise(std::size_t n, std::uint32_t seed)
{
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    std::string out(n, ' ');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& ch : out) {
        x = x * 1664525u + 1013904223u;
        ch = alphabet[x >> 26];
    }
    return out;
}

std::string repeat(const std::string& s, std::size_t n)
{
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

// JSON texts as the text messages the application receives.
std::vector<message> texts(std::vector<std::string> v)
{
    std::vector<message> out;
    for (auto& s : v) out.push_back({message_kind::text, std::move(s)});
    return out;
}

message text(std::string s)
{
    return {message_kind::text, std::move(s)};
}

message binary(std::string s)
{
    return {message_kind::binary, std::move(s)};
}

conformance_case echo(std::string id, std::string description, std::vector<std::string> script,
                      std::vector<std::string> messages, std::vector<std::string> pongs = {})
{
    return {.id = std::move(id),
            .description = std::move(description),
            .script = std::move(script),
            .expect = outcome::echoed,
            .messages = texts(std::move(messages)),
            .pongs = std::move(pongs)};
}

// The application on the raw API: `messages` (text or binary) are delivered and echoed unchanged.
conformance_case raw_echo(std::string id, std::string description, std::vector<std::string> script,
                          std::vector<message> messages, std::vector<std::string> pongs = {})
{
    return {.id = std::move(id),
            .description = std::move(description),
            .script = std::move(script),
            .expect = outcome::echoed,
            .messages = std::move(messages),
            .pongs = std::move(pongs),
            .raw = true};
}

conformance_case raw(conformance_case c)
{
    c.raw = true;
    return c;
}

// The client must fail the connection with `code`; 1009 is classified message_too_big, the
// rest protocol.
conformance_case fail(std::string id, std::string description, std::vector<std::string> script,
                      std::uint16_t code = 1002, std::vector<std::string> messages = {},
                      std::vector<std::string> pongs = {})
{
    conformance_case c{.id = std::move(id),
                       .description = std::move(description),
                       .script = std::move(script),
                       .expect = outcome::failed,
                       .messages = texts(std::move(messages)),
                       .pongs = std::move(pongs),
                       .client_close = code,
                       .kind = code == 1009 ? disconnect_kind::message_too_big : disconnect_kind::protocol,
                       .peer_code = 0};
    if (code == 1009) c.tether_error = error::message_too_big;
    return c;
}

// The server's close frame with `code` ends it; the client answers with `answer`.
conformance_case closes(std::string id, std::string description, std::vector<std::string> script, std::uint16_t code,
                        std::uint16_t answer, std::vector<std::string> messages = {})
{
    return {.id = std::move(id),
            .description = std::move(description),
            .script = std::move(script),
            .expect = outcome::closed,
            .messages = texts(std::move(messages)),
            .client_close = answer,
            .kind = disconnect_kind::close_frame,
            .peer_code = code};
}

// Marks a case that shows a known library bug (reported XFAIL until `fix` lands). None does today;
// the helper stays for the next one.
[[maybe_unused]] conformance_case known_bug(conformance_case c, const std::string& fix)
{
    c.known_bug = fix;
    return c;
}

conformance_case chopped(conformance_case c, std::size_t n)
{
    c.chop = n;
    return c;
}

conformance_case limited(conformance_case c)
{
    c.max_message_size = limit;
    return c;
}

const std::string ok_101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n";

// The server answers the upgrade with `response`; the client must report `kind`.
conformance_case rejected(std::string id, std::string description, std::string response, disconnect_kind kind,
                          std::optional<error> e = std::nullopt, unsigned status = 0)
{
    return {.id = std::move(id),
            .description = std::move(description),
            .script = {std::move(response)},
            .upgrade = false,
            .expect = outcome::rejected,
            .client_close = 0,
            .kind = kind,
            .peer_code = 0,
            .tether_error = e,
            .http_status = status};
}

std::vector<conformance_case> upgrade_responses()
{
    using k = disconnect_kind;
    std::vector<conformance_case> t;
    t.push_back(rejected("0.1", "401: unauthorized", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
                         k::http_status, error::unauthorized, 401));
    t.push_back(rejected("0.2", "403 with a body: unauthorized",
                         "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden",
                         k::http_status, error::unauthorized, 403));
    t.push_back(rejected("0.3", "404: session not found", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                         k::http_status, error::session_not_found, 404));
    {
        auto c = rejected("0.4", "429 with Retry-After: 7",
                          "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
                          k::http_status, error::upgrade_rejected, 429);
        c.retry_after = std::chrono::seconds(7);
        t.push_back(c);
    }
    {
        auto c = rejected("0.5", "503 with Retry-After as an HTTP date already past: no wait",
                          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n"
                          "Content-Length: 0\r\n\r\n",
                          k::http_status, error::upgrade_rejected, 503);
        c.retry_after = std::chrono::milliseconds::zero();
        t.push_back(c);
    }
    t.push_back(rejected("0.6", "HTTP/1.0 302 redirect", "HTTP/1.0 302 Found\r\nLocation: /elsewhere\r\n\r\n",
                         k::http_status, error::upgrade_rejected, 302));
    t.push_back(rejected("0.7", "a real 200 with a body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                         k::http_status, error::upgrade_rejected, 200));
    t.push_back(rejected("0.8", "101 with a wrong Sec-WebSocket-Accept",
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                         k::protocol));
    t.push_back(
        rejected("0.9", "101 without Upgrade: websocket",
                 "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n",
                 k::protocol));
    {
        auto c = rejected("0.10", "the server hangs up without answering", "", k::transport);
        t.push_back(c);
    }
    {
        auto c =
            rejected("0.11", "the server hangs up in the middle of the status line", "HTTP/1.1 101 Swi", k::protocol);
        t.push_back(c);
    }
    {
        auto c =
            rejected("0.12", "no answer within handshake_timeout (200 ms)", "", k::timeout, error::handshake_timeout);
        c.hold = true;
        c.handshake_timeout = std::chrono::milliseconds(200);
        t.push_back(c);
    }
    {
        auto c = echo("0.13", "101 and two messages in the same write",
                      {ok_101 + text_frame(msg(1)) + text_frame(msg(2))}, {msg(1), msg(2)});
        c.upgrade = false;
        t.push_back(c);
    }
    {
        auto c = echo("0.14", "101 written 1 byte at a time, then a message", {ok_101, text_frame(msg(1))}, {msg(1)});
        c.upgrade = false;
        c.chop = 1;
        t.push_back(c);
    }
    {
        // RFC 6455 9.1: a server must not answer with an extension the client did not offer.
        auto c = rejected("0.15", "101 accepting permessage-deflate, which was not offered",
                          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                          k::protocol);
        c.offer_deflate = false;
        c.protocol = protocol_error::bad_extension;
        t.push_back(c);
    }
    return t;
}

std::vector<conformance_case> framing()
{
    std::vector<conformance_case> t;
    const std::size_t sizes[] = {125, 126, 127, 65535, 65536, 1024 * kib};
    const char* what[] = {"largest 7-bit length",  "smallest 16-bit length", "16-bit length",
                          "largest 16-bit length", "smallest 64-bit length", "64-bit length, 1 MiB"};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        const std::string m = sized_message(sizes[i]);
        t.push_back(echo("1.1." + std::to_string(i + 1),
                         "text of " + std::to_string(sizes[i]) + " bytes (" + what[i] + ")", {text_frame(m)}, {m}));
    }
    t.push_back(chopped(echo("1.1.7", "text of 300 bytes, written 1 byte at a time (16-bit header split)",
                             {text_frame(sized_message(300))}, {sized_message(300)}),
                        1));
    t.push_back(echo("1.1.8", "three messages in one TCP write",
                     {text_frame(msg(1)) + text_frame(msg(2)) + text_frame(msg(3))}, {msg(1), msg(2), msg(3)}));
    t.push_back(echo("1.2.1", "empty binary message: not delivered, the link stays up",
                     {binary_frame(""), text_frame(msg(1))}, {msg(1)}));
    t.push_back(echo("1.2.2", "binary of 126 bytes: not delivered, the link stays up",
                     {binary_frame(std::string(126, '\xAB')), text_frame(msg(1))}, {msg(1)}));
    t.push_back(echo("1.2.3", "binary of 65536 bytes: not delivered, the link stays up",
                     {binary_frame(std::string(65536, '\x01')), text_frame(msg(1))}, {msg(1)}));
    t.push_back(echo("1.2.4", "empty text and non-JSON text: skipped (malformed), the link stays up",
                     {text_frame(""), text_frame("not json"), text_frame(msg(1))}, {msg(1)}));
    // RFC 6455 5.2: "the minimal number of bytes MUST be used to encode the length".
    t.push_back(fail("1.3.1", "5-byte text with its length in the 16-bit form: not canonical",
                     {encode({.payload = "hello", .form = length_form::u16})}));
    t.push_back(fail("1.3.2", "200-byte text with its length in the 64-bit form: not canonical",
                     {encode({.payload = std::string(200, 'x'), .form = length_form::u64})}));
    t.push_back(fail("1.3.3", "a masked frame from the server", {encode({.payload = msg(1), .mask = 0x37FA213Du})}));
    t.push_back(fail("1.3.4", "a masked ping after a good message",
                     {text_frame(msg(1)), encode({.op = opcode::ping, .payload = "x", .mask = 1u})}, 1002, {msg(1)}));

    // The raw API: binary messages are delivered, and echoed as binary (opcode 2) byte for byte;
    // text is passed as it came, not parsed.
    t.push_back(raw_echo("1.4.1", "raw API: empty binary: delivered, echoed empty", {binary_frame("")}, {binary("")}));
    const std::size_t bin_sizes[] = {125, 126, 65535, 65536, 1024 * kib};
    const char* bin_what[] = {"largest 7-bit length", "smallest 16-bit length", "largest 16-bit length",
                              "smallest 64-bit length", "64-bit length, 1 MiB"};
    for (std::size_t i = 0; i < std::size(bin_sizes); ++i) {
        const std::string b = bytes(bin_sizes[i], static_cast<unsigned>(i));
        t.push_back(raw_echo("1.4." + std::to_string(i + 2),
                             "raw API: binary of " + std::to_string(bin_sizes[i]) + " bytes (" + bin_what[i] + ")",
                             {binary_frame(b)}, {binary(b)}));
    }
    {
        // The reader takes the rest of a large frame straight into the message, one read at a time.
        const std::string b = bytes(1024 * kib, 9);
        t.push_back(
            chopped(raw_echo("1.4.7", "raw API: binary of 1 MiB, written in 64 KiB pieces (the last 10 bytes alone)",
                             {binary_frame(b)}, {binary(b)}),
                    64 * kib));
    }
    t.push_back(raw_echo("1.4.8",
                         "raw API: text is not parsed: non-JSON, empty, and spaced-out JSON echoed byte for byte",
                         {text_frame("not json") + text_frame("") + text_frame(R"( { "type" : "m" , "seq" : 1 } )")},
                         {text("not json"), text(""), text(R"( { "type" : "m" , "seq" : 1 } )")}));
    {
        std::string s;
        std::vector<message> m;
        for (int i = 0; i < 6; ++i) {
            m.push_back(i % 2 ? binary(bytes(10 + i, i)) : text("text " + std::to_string(i)));
            s += i % 2 ? binary_frame(m.back().payload) : text_frame(m.back().payload);
        }
        t.push_back(raw_echo("1.4.9",
                             "raw API: text and binary interleaved in one write: echoed in order, each with its opcode",
                             {s}, m));
    }
    t.push_back(raw_echo("1.4.10", "raw API: a JSON text and a binary: both delivered (nothing is skipped)",
                         {text_frame(msg(1)), binary_frame(std::string("\x00\x01", 2))},
                         {text(msg(1)), binary(std::string("\x00\x01", 2))}));
    {
        // The same for text, where misplaced bytes could pass as valid UTF-8.
        const std::string m = sized_message(1024 * kib);
        t.push_back(
            chopped(raw_echo("1.4.11", "raw API: text of 1 MiB, written in 64 KiB pieces (the last 10 bytes alone)",
                             {text_frame(m)}, {text(m)}),
                    64 * kib));
    }
    return t;
}

std::vector<conformance_case> ping_pong()
{
    std::vector<conformance_case> t;
    std::string binary125;
    for (int i = 0; i < 125; ++i) binary125 += static_cast<char>((i * 7 + 0xF0) & 0xFF);
    t.push_back(echo("2.1", "ping without payload: pong without payload", {ping_frame("")}, {}, {""}));
    t.push_back(echo("2.2", "ping with a text payload: pong with the same payload", {ping_frame("Hello, world!")}, {},
                     {"Hello, world!"}));
    t.push_back(echo("2.3", "ping with 125 bytes of binary payload: pong with the same bytes", {ping_frame(binary125)},
                     {}, {binary125}));
    t.push_back(fail("2.4", "ping with 126 bytes of payload: control frames are limited to 125",
                     {ping_frame(std::string(126, 'p'))}));
    t.push_back(
        echo("2.5", "unsolicited pong without payload: ignored", {pong_frame(""), text_frame(msg(1))}, {msg(1)}));
    t.push_back(echo("2.6", "unsolicited pong, then a ping: only the ping is answered",
                     {pong_frame("unsolicited"), ping_frame("solicited")}, {}, {"solicited"}));
    std::string ten;
    std::vector<std::string> ten_pongs;
    for (int i = 0; i < 10; ++i) {
        ten += ping_frame("payload-" + std::to_string(i));
        ten_pongs.push_back("payload-" + std::to_string(i));
    }
    t.push_back(echo("2.7", "ten pings in one write: ten pongs, in order", {ten}, {}, ten_pongs));
    t.push_back(
        chopped(echo("2.8", "ping written 1 byte at a time", {ping_frame("chopped ping")}, {}, {"chopped ping"}), 1));
    t.push_back(fail("2.9", "ping with FIN clear: control frames must not be fragmented",
                     {encode({.op = opcode::ping, .fin = false, .payload = "x"})}));
    t.push_back(echo("2.10", "ping between two messages",
                     {text_frame(msg(1)), ping_frame("between"), text_frame(msg(2))}, {msg(1), msg(2)}, {"between"}));
    return t;
}

std::vector<conformance_case> reserved_bits()
{
    // No extension is negotiated (permessage-deflate is off), so every reserved bit is an error.
    std::vector<conformance_case> t;
    t.push_back(fail("3.1", "text with RSV1", {encode({.rsv = rsv1, .payload = msg(1)})}));
    t.push_back(fail("3.2", "text with RSV2, after a good message",
                     {text_frame(msg(1)), encode({.rsv = rsv2, .payload = msg(2)})}, 1002, {msg(1)}));
    t.push_back(fail("3.3", "text with RSV3, after a ping", {ping_frame("p"), encode({.rsv = rsv3, .payload = msg(1)})},
                     1002, {}, {"p"}));
    t.push_back(
        fail("3.4", "binary with RSV1 and RSV3", {encode({.op = opcode::binary, .rsv = rsv1 | rsv3, .payload = "b"})}));
    t.push_back(
        fail("3.5", "ping with RSV2: not answered", {encode({.op = opcode::ping, .rsv = rsv2, .payload = "p"})}));
    t.push_back(
        fail("3.6", "close with RSV3", {encode({.op = opcode::close, .rsv = rsv3, .payload = close_payload(1000)})}));
    t.push_back(
        fail("3.7", "continuation with RSV1",
             {text_frame(R"({"type":)", false), encode({.op = opcode::cont, .rsv = rsv1, .payload = R"("m"})"})}));
    t.push_back(
        fail("3.8", "text with all three reserved bits", {encode({.rsv = rsv1 | rsv2 | rsv3, .payload = msg(1)})}));
    return t;
}

std::vector<conformance_case> opcodes()
{
    std::vector<conformance_case> t;
    const std::uint8_t data_ops[] = {3, 4, 5, 6, 7};
    for (std::size_t i = 0; i < std::size(data_ops); ++i) {
        const auto op = data_ops[i];
        const std::string id = "4.1." + std::to_string(i + 1);
        const std::string name = "reserved data opcode " + std::to_string(op);
        if (i % 2 == 0)
            t.push_back(fail(id, name + ", after a good message",
                             {text_frame(msg(1)), encode({.op = op, .payload = "reserved"})}, 1002, {msg(1)}));
        else
            t.push_back(fail(id, name + ", empty", {encode({.op = op})}));
    }
    const std::uint8_t control_ops[] = {0xB, 0xC, 0xD, 0xE, 0xF};
    for (std::size_t i = 0; i < std::size(control_ops); ++i) {
        const auto op = control_ops[i];
        const std::string id = "4.2." + std::to_string(i + 1);
        const std::string name = "reserved control opcode " + std::to_string(op);
        if (i % 2 == 0)
            t.push_back(fail(id, name + ", after a ping", {ping_frame("p"), encode({.op = op, .payload = "reserved"})},
                             1002, {}, {"p"}));
        else
            t.push_back(fail(id, name + ", empty", {encode({.op = op})}));
    }
    return t;
}

std::vector<conformance_case> fragmentation()
{
    std::vector<conformance_case> t;
    const std::string m = msg(42);
    const std::string head = m.substr(0, 7), tail = m.substr(7);
    t.push_back(echo("5.1", "text in two fragments", {text_frame(head, false) + cont_frame(tail, true)}, {m}));
    t.push_back(echo("5.2", "text with one byte per fragment", {fragmented(m, 1)}, {m}));
    t.push_back(chopped(echo("5.3", "text in two fragments, written 1 byte at a time",
                             {text_frame(head, false) + cont_frame(tail, true)}, {m}),
                        1));
    t.push_back(echo("5.4", "ping between two fragments: answered before the message completes",
                     {text_frame(head, false), ping_frame("inside"), cont_frame(tail, true)}, {m}, {"inside"}));
    t.push_back(
        chopped(echo("5.5", "ping between two fragments, written 1 byte at a time",
                     {text_frame(head, false) + ping_frame("inside") + cont_frame(tail, true)}, {m}, {"inside"}),
                1));
    {
        const auto parts = pieces(m, 4);
        std::string s;
        std::vector<std::string> pongs;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const bool fin = i + 1 == parts.size();
            s += i == 0 ? text_frame(parts[i], fin) : cont_frame(parts[i], fin);
            if (!fin) {
                s += ping_frame("ping-" + std::to_string(i));
                pongs.push_back("ping-" + std::to_string(i));
            }
        }
        t.push_back(echo("5.6", "a ping after every fragment of a " + std::to_string(parts.size()) + "-fragment text",
                         {s}, {m}, pongs));
    }
    t.push_back(echo("5.7", "unsolicited pong between fragments: ignored",
                     {text_frame(head, false) + pong_frame("stray") + cont_frame(tail, true)}, {m}));
    t.push_back(echo("5.8", "empty first and last fragments around the data",
                     {text_frame("", false) + cont_frame(m, false) + cont_frame("", true)}, {m}));
    t.push_back(fail("5.9", "continuation (FIN set) with no message started", {cont_frame("orphan", true)}));
    t.push_back(fail("5.10", "continuation (FIN clear) with no message started", {cont_frame("orphan", false)}));
    t.push_back(fail("5.11", "continuation after a complete message", {text_frame(msg(1)), cont_frame("late", true)},
                     1002, {msg(1)}));
    t.push_back(fail("5.12", "a new text frame while a fragmented text is open",
                     {text_frame(head, false) + text_frame(tail, true)}));
    t.push_back(fail("5.13", "a binary frame while a fragmented text is open",
                     {text_frame(head, false) + binary_frame("b", true)}));
    t.push_back(
        echo("5.14", "fragmented text, fragmented binary (not delivered), fragmented text",
             {fragmented(msg(1), 5) + binary_frame("bin", false) + cont_frame("ary", true) + fragmented(msg(2), 3)},
             {msg(1), msg(2)}));
    t.push_back(fail(
        "5.15", "a fragmented ping inside a fragmented text",
        {text_frame(head, false), encode({.op = opcode::ping, .fin = false, .payload = "p"}), cont_frame(tail, true)}));
    t.push_back(closes("5.16", "close between fragments: answered, the partial message is not delivered",
                       {text_frame(head, false), close_frame(1000)}, 1000, 1000));
    {
        const std::string big = sized_message(64 * kib + 1);
        t.push_back(echo("5.17", "a 64 KiB text in 65 fragments of 1 KiB", {fragmented(big, kib)}, {big}));
    }
    {
        const std::string a = bytes(40, 1), b = bytes(300, 2), c = bytes(7, 3);
        t.push_back(raw_echo("5.18", "raw API: binary in 3 fragments, a ping and an unsolicited pong between them",
                             {binary_frame(a, false) + ping_frame("inside") + cont_frame(b, false) +
                              pong_frame("stray") + cont_frame(c, true)},
                             {binary(a + b + c)}, {"inside"}));
    }
    {
        const std::string tx = utf8_msg("fragmented text"), bin = bytes(200, 4);
        t.push_back(raw_echo("5.19", "raw API: a fragmented text then a fragmented binary, in one write",
                             {fragmented(tx, 7) + fragmented(bin, 64, opcode::binary)}, {text(tx), binary(bin)}));
    }
    {
        const std::string big = bytes(64 * kib + 1, 5);
        t.push_back(raw_echo("5.20", "raw API: a 64 KiB binary in 65 fragments of 1 KiB",
                             {fragmented(big, kib, opcode::binary)}, {binary(big)}));
    }
    t.push_back(raw_echo("5.21", "raw API: binary with empty first and last fragments",
                         {binary_frame("", false) + cont_frame("\xFF\xFE", false) + cont_frame("", true)},
                         {binary("\xFF\xFE")}));
    t.push_back(raw(fail("5.22", "raw API: a text frame while a fragmented binary is open",
                         {binary_frame("bin", false) + text_frame("text", true)})));
    {
        const std::string b = bytes(12, 6);
        std::string s;
        std::vector<std::string> pongs;
        for (std::size_t i = 0; i < b.size(); i += 4) {
            const bool fin = i + 4 >= b.size();
            s += i == 0 ? binary_frame(b.substr(i, 4), fin) : cont_frame(b.substr(i, 4), fin);
            if (!fin) {
                s += ping_frame("p" + std::to_string(i));
                pongs.push_back("p" + std::to_string(i));
            }
        }
        t.push_back(chopped(raw_echo("5.23", "raw API: fragmented binary with pings between, written 1 byte at a time",
                                     {s}, {binary(b)}, pongs),
                            1));
    }
    return t;
}

std::vector<conformance_case> utf8()
{
    std::vector<conformance_case> t;
    const std::string greek = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";       // κόσμε
    const std::string three = "\xE2\x82\xAC \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";  // € 日本語
    const std::string four = "\xF0\x9D\x84\x9E\xF0\x9F\x98\x80";                    // 𝄞 😀
    // U+0080, U+07FF, U+0800, U+FFFD, U+FFFF, U+10000, U+10FFFF
    const std::string edges = "\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBD\xEF\xBF\xBF\xF0\x90\x80\x80\xF4\x8F\xBF\xBF";
    t.push_back(echo("6.1", "valid 2-byte sequences (Greek)", {text_frame(utf8_msg(greek))}, {utf8_msg(greek)}));
    t.push_back(echo("6.2", "valid 3-byte sequences", {text_frame(utf8_msg(three))}, {utf8_msg(three)}));
    t.push_back(echo("6.3", "valid 4-byte sequences", {text_frame(utf8_msg(four))}, {utf8_msg(four)}));
    t.push_back(echo("6.4", "boundary code points U+0080 U+07FF U+0800 U+FFFD U+FFFF U+10000 U+10FFFF",
                     {text_frame(utf8_msg(edges))}, {utf8_msg(edges)}));
    {
        const std::string m = utf8_msg(four);
        const std::size_t cut = m.find('\xF0') + 2;  // inside the first 4-byte sequence
        t.push_back(echo("6.5", "a fragment boundary inside a 4-byte sequence",
                         {text_frame(m.substr(0, cut), false) + cont_frame(m.substr(cut), true)}, {m}));
        t.push_back(echo("6.6", "one byte per fragment through 2-, 3- and 4-byte sequences",
                         {fragmented(utf8_msg(greek + three + four), 1)}, {utf8_msg(greek + three + four)}));
        t.push_back(chopped(echo("6.7", "multi-byte text written 1 byte at a time",
                                 {text_frame(utf8_msg(greek + four))}, {utf8_msg(greek + four)}),
                            1));
    }
    struct bad {
        const char* name;
        std::string bytes;
    };
    const bad invalid[] = {
        {"a lone continuation byte 0x80", "\x80"},
        {"overlong 2-byte '/' (C0 AF)", "\xC0\xAF"},
        {"overlong 3-byte '/' (E0 80 AF)", "\xE0\x80\xAF"},
        {"overlong 4-byte '/' (F0 80 80 AF)", "\xF0\x80\x80\xAF"},
        {"a UTF-16 surrogate U+D800 (ED A0 80)", "\xED\xA0\x80"},
        {"a code point above U+10FFFF (F4 90 80 80)", "\xF4\x90\x80\x80"},
        {"the bytes FE and FF", "\xFE\xFF"},
    };
    int n = 8;
    for (const auto& b : invalid)
        t.push_back(fail("6." + std::to_string(n++), std::string("invalid: ") + b.name,
                         {text_frame(utf8_msg("ok" + b.bytes + "ok"))}, 1007));
    // n == 15
    t.push_back(
        fail("6.15", "a message that ends inside a 2-byte sequence", {text_frame(utf8_msg(greek) + "\xCE")}, 1007));
    t.push_back(fail("6.16", "a fragmented message whose last fragment ends inside a sequence",
                     {text_frame(R"({"type":"m",)", false) + cont_frame("\"text\":\"\xF0\x9D\x84", true)}, 1007));
    t.push_back(fail("6.17", "valid first fragment, invalid second",
                     {text_frame(R"({"type":"m","text":")", false) + cont_frame("\xED\xA0\x80\"}", true)}, 1007));
    // Fail fast: the server sends no more after the bad bytes and waits; the client must not.
    t.push_back(fail("6.18", "fail fast: invalid bytes in the first fragment of a message that never completes",
                     {text_frame(R"({"type":"m","text":")"
                                 "\xC0\xAF",
                                 false)},
                     1007));
    t.push_back(fail("6.19", "fail fast: invalid bytes early in a frame whose other 1000 bytes never come",
                     {encode({.payload = R"({"t":")"
                                         "\xFE",
                              .declared_length = 1007})},
                     1007));
    t.push_back(echo("6.20", "invalid UTF-8 inside a binary message is not checked",
                     {binary_frame("\xC0\xAF\xFE\xFF"), text_frame(msg(1))}, {msg(1)}));
    t.push_back(fail("6.21", "a valid message, then an invalid one",
                     {text_frame(utf8_msg(greek)), text_frame(utf8_msg("\xFF"))}, 1007, {utf8_msg(greek)}));
    {
        const std::string junk = "\xC0\xAF\xFE\xFF\xED\xA0\x80\xF4\x90\x80\x80";
        t.push_back(raw_echo(
            "6.22", "raw API: invalid UTF-8 inside a binary message is not checked: delivered and echoed unchanged",
            {binary_frame(junk)}, {binary(junk)}));
        t.push_back(
            raw_echo("6.23", "raw API: a fragmented binary split inside what would be a 4-byte sequence",
                     {binary_frame("\xF0\x9D", false) + cont_frame("\x84", false) + cont_frame("\x9E\xFF", true)},
                     {binary("\xF0\x9D\x84\x9E\xFF")}));
    }
    t.push_back(raw(fail("6.24", "raw API: a text that is not UTF-8 still fails the connection",
                         {text_frame("ok\xC0\xAFok")}, 1007)));
    return t;
}

std::vector<conformance_case> closing()
{
    std::vector<conformance_case> t;
    t.push_back(closes("7.1.1", "close 1000 without a reason", {close_frame(1000)}, 1000, 1000));
    // An empty close carries no code; Beast answers with 1000, which RFC 6455 allows.
    t.push_back(closes("7.1.2", "close with an empty payload", {encode({.op = opcode::close})}, 0, 1000));
    t.push_back(fail("7.1.3", "close with a 1-byte payload", {encode({.op = opcode::close, .payload = "\x03"})}));
    {
        const std::string reason = "bye \xE2\x80\x94 \xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";  // bye — κόσμε
        auto c = closes("7.1.4", "close 1000 with a UTF-8 reason: the client reports the reason",
                        {close_frame(1000, reason)}, 1000, 1000);
        c.peer_reason = reason;
        t.push_back(c);
    }
    {
        auto c = closes("7.1.5", "close with a 123-byte reason (a 125-byte payload)",
                        {close_frame(1001, std::string(123, 'r'))}, 1001, 1001);
        c.peer_reason = std::string(123, 'r');
        t.push_back(c);
    }
    t.push_back(
        fail("7.1.6", "close with a 124-byte reason (a 126-byte payload)", {close_frame(1000, std::string(124, 'r'))}));
    // Autobahn accepts 1002 or 1007 here; Beast answers 1002.
    t.push_back(fail("7.1.7", "close with an invalid UTF-8 reason", {close_frame(1000, "bad \xC0\xAF reason")}));
    t.push_back(closes("7.1.8", "close then ping: the ping is not answered",
                       {close_frame(1000) + ping_frame("after close")}, 1000, 1000));
    t.push_back(closes("7.1.9", "close then text: the text is not delivered", {close_frame(1000) + text_frame(msg(1))},
                       1000, 1000));
    t.push_back(chopped(
        closes("7.1.10", "close with a reason, written 1 byte at a time", {close_frame(1000, "chopped")}, 1000, 1000),
        1));
    t.push_back(fail("7.1.11", "close with FIN clear",
                     {encode({.op = opcode::close, .fin = false, .payload = close_payload(1000)})}));
    t.push_back(closes("7.1.12", "a message, then close: delivered, then answered",
                       {text_frame(msg(1)) + close_frame(1000)}, 1000, 1000, {msg(1)}));

    // Valid codes are echoed back; 4001 and 4003 carry tether's own meaning.
    const std::uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   1012, 1013, 3000, 3999, 4000, 4001, 4003, 4999};
    int n = 1;
    for (const auto code : valid) {
        auto c = closes("7.2." + std::to_string(n++), "valid close code " + std::to_string(code),
                        {close_frame(code, "x")}, code, code);
        if (code == 4001) c.tether_error = error::session_not_found;
        if (code == 4003) c.tether_error = error::unauthorized;
        if (code == 1009) c.tether_error = error::message_too_big;
        if (code == 1000) c.tether_error = error::closed_by_peer;
        t.push_back(c);
    }
    const std::uint16_t invalid[] = {0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1100, 2000, 2999};
    n = 1;
    for (const auto code : invalid)
        t.push_back(
            fail("7.3." + std::to_string(n++), "invalid close code " + std::to_string(code), {close_frame(code)}));
    return t;
}

std::vector<conformance_case> limits()
{
    std::vector<conformance_case> t;
    const std::string at_limit = sized_message(limit);
    t.push_back(limited(
        echo("9.1", "a text of exactly max_message_size (64 KiB) in one frame", {text_frame(at_limit)}, {at_limit})));
    t.push_back(limited(
        fail("9.2", "a text of max_message_size + 1 in one frame", {text_frame(sized_message(limit + 1))}, 1009)));
    // These send the header alone: the client must decide before reading (or allocating) a byte.
    t.push_back(limited(fail("9.3", "a header declaring max_message_size + 1, no payload sent",
                             {encode({.declared_length = limit + 1})}, 1009)));
    t.push_back(limited(fail("9.4", "a header declaring 2^62 bytes, no payload sent",
                             {encode({.declared_length = 1ull << 62})}, 1009)));
    // RFC 6455 requires the top bit of a 64-bit length to be 0; tether/Beast fail it as too big.
    t.push_back(limited(fail("9.5", "a header declaring 2^63 + 5 bytes (top bit set)",
                             {encode({.declared_length = (1ull << 63) + 5})}, 1009)));
    t.push_back(limited(fail("9.6", "a header declaring 2^64 - 1 bytes", {encode({.declared_length = ~0ull})}, 1009)));
    t.push_back(limited(fail("9.7", "64 fragments of 1 KiB and a 1-byte last fragment: one byte over the limit",
                             {repeat(text_frame(std::string(kib, ' '), false), 1) +
                              repeat(cont_frame(std::string(kib, ' '), false), 63) + cont_frame(" ", true)},
                             1009)));
    t.push_back(limited(fail(
        "9.8", "endless continuation fragments (1000 of 1 KiB, never final)",
        {text_frame(std::string(kib, ' '), false) + repeat(cont_frame(std::string(kib, ' '), false), 999)}, 1009)));
    t.push_back(limited(fail("9.9", "a 64 KiB + 1 message after a good one: the good one is delivered",
                             {text_frame(msg(1)) + text_frame(sized_message(limit + 1))}, 1009, {msg(1)})));
    {
        std::string flood;
        std::vector<std::string> pongs;
        for (int i = 0; i < 500; ++i) {
            std::string payload = std::to_string(i) + std::string(120, 'f');
            flood += ping_frame(payload);
            pongs.push_back(payload);
        }
        t.push_back(echo("9.10", "500 pings of about 123 bytes in one write: 500 pongs, in order", {flood}, {}, pongs));
    }
    {
        std::string burst;
        std::vector<std::string> msgs;
        for (int i = 0; i < 1000; ++i) {
            burst += text_frame(msg(i));
            msgs.push_back(msg(i));
        }
        t.push_back(echo("9.11", "1000 small messages in one write: all delivered in order", {burst}, msgs));
    }
    return t;
}

std::vector<conformance_case> coalescing()
{
    // The raw-API application echoes each message as it is delivered, so every message of one read
    // is queued at once, and the writer sends what is queued together, in one write: the control
    // frames first, then the messages. On the wire each echo must still be one final frame of its
    // own with its own masking key, in order; each pong one frame with its ping's payload, in order;
    // one close frame, last.
    std::vector<conformance_case> t;
    {
        std::string burst;
        std::vector<message> m;
        for (int i = 0; i < 1000; ++i) {
            m.push_back(text("m" + std::to_string(i)));
            burst += text_frame(m.back().payload);
        }
        t.push_back(raw_echo(
            "10.1", "raw API: 1000 small texts in one write: 1000 echoes, one frame and one key each, in order",
            {burst}, m));
    }
    {
        std::string burst;
        std::vector<message> m;
        std::vector<std::string> pongs;
        for (int i = 0; i < 1000; ++i) {
            m.push_back(text("m" + std::to_string(i)));
            burst += text_frame(m.back().payload);
            if (i % 10 == 9) {
                pongs.push_back("ping after " + std::to_string(i));
                burst += ping_frame(pongs.back());
            }
        }
        t.push_back(raw_echo("10.2",
                             "raw API: 1000 small texts and a ping after every 10th, in one write: 100 pongs, in order",
                             {burst}, m, pongs));
    }
    {
        std::string burst;
        std::vector<message> m;
        for (int i = 0; i < 500; ++i) {
            const std::size_t size = static_cast<std::size_t>(i * 37 % 301);
            m.push_back(i % 2 ? binary(bytes(size, static_cast<unsigned>(i)))
                              : text(noise(size, static_cast<unsigned>(i))));
            burst += i % 2 ? binary_frame(m.back().payload) : text_frame(m.back().payload);
        }
        t.push_back(raw_echo("10.3", "raw API: 500 texts and binaries of 0 to 300 bytes alternating, in one write",
                             {burst}, m));
    }
    {
        // Payloads over 16 KiB are masked where they are and go as buffers of their own in the
        // writer's gather write, between runs of small frames.
        std::string burst;
        std::vector<message> m;
        std::vector<std::string> pongs;
        for (int i = 0; i < 300; ++i) {
            const bool large = i % 30 == 29;
            m.push_back(large ? binary(bytes(20 * kib + static_cast<std::size_t>(i), static_cast<unsigned>(i)))
                              : text("small " + std::to_string(i)));
            burst += large ? binary_frame(m.back().payload) : text_frame(m.back().payload);
            if (i % 25 == 24) {
                pongs.push_back(std::to_string(i) + std::string(100, 'p'));
                burst += ping_frame(pongs.back());
            }
        }
        t.push_back(raw_echo("10.4",
                             "raw API: 300 messages, every 30th of 20 KiB (a gather write), a ping after every 25th",
                             {burst}, m, pongs));
    }
    {
        // 640 KiB: more than one write's worth (256 KiB of payload): order holds across writes.
        std::string burst;
        std::vector<message> m;
        for (int i = 0; i < 64; ++i) {
            m.push_back(binary(bytes(10 * kib, static_cast<unsigned>(i))));
            burst += binary_frame(m.back().payload);
        }
        t.push_back(raw_echo("10.5", "raw API: 64 binaries of 10 KiB in one write (more than one write of echoes)",
                             {burst}, m));
    }
    {
        // 1000 pongs of 125 bytes back up past the 64 KiB the reader lets wait for the writer: it
        // stops reading until they are written.
        std::string burst;
        std::vector<message> m;
        std::vector<std::string> pongs;
        for (int i = 0; i < 1000; ++i) {
            m.push_back(text("m" + std::to_string(i)));
            burst += text_frame(m.back().payload);
            std::string p = std::to_string(i);
            pongs.push_back(p + std::string(125 - p.size(), 'q'));
            burst += ping_frame(pongs.back());
        }
        t.push_back(raw_echo("10.6", "raw API: 1000 messages each followed by a 125-byte ping, in one write", {burst},
                             m, pongs));
    }
    {
        std::string burst;
        std::vector<std::string> msgs, pongs;
        for (int i = 0; i < 1000; ++i) {
            msgs.push_back(msg(i));
            burst += text_frame(msgs.back());
            if (i % 100 == 99) {
                pongs.push_back("json " + std::to_string(i));
                burst += ping_frame(pongs.back());
            }
        }
        t.push_back(echo("10.7",
                         "1000 JSON messages and a ping after every 100th, in one write: the JSON application's echoes",
                         {burst}, msgs, pongs));
    }
    return t;
}

// --- permessage-deflate (RFC 7692) -------------------------------------------------------------
// A deflater's messages share its window, so each is compressed in its own statement, in order: the
// operands of `+` are evaluated in no fixed order.

// The case against a server whose 101 accepts permessage-deflate with `extensions`; what that
// means for the client's side is read off the answer.
conformance_case deflated(conformance_case c, const std::string& extensions)
{
    deflate_answer a{.extensions = extensions};
    std::string lower = extensions;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
    a.client_no_context_takeover = lower.find("client_no_context_takeover") != std::string::npos;
    if (const auto at = lower.find("client_max_window_bits="); at != std::string::npos) {
        std::string v = lower.substr(at + 23, 3);
        v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
        a.client_window_bits = std::stoi(v);
    }
    // zlib cannot compress into a 256-byte window; RFC 7692 lets a sender leave any message
    // uncompressed, and tether then leaves them all.
    a.client_compresses = a.client_window_bits > 8;
    c.offer_deflate = true;
    c.deflate = a;
    return c;
}

const std::string pmd = "permessage-deflate";

// A compressed message in one frame: RSV1 set.
std::string compressed_frame(std::string payload, std::uint8_t op = opcode::text, bool fin = true)
{
    return encode({.op = op, .fin = fin, .rsv = rsv1, .payload = std::move(payload)});
}

// The server answers the offer with `extensions`, which the client must refuse.
conformance_case bad_answer(std::string id, std::string description, const std::string& extensions)
{
    auto c = rejected(std::move(id), std::move(description),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Extensions: " +
                          extensions + "\r\n\r\n",
                      disconnect_kind::protocol);
    c.offer_deflate = true;
    c.protocol = protocol_error::bad_extension;
    return c;
}

conformance_case with_protocol_error(conformance_case c, protocol_error e)
{
    c.protocol = e;
    return c;
}

std::vector<conformance_case> deflate_negotiation()
{
    std::vector<conformance_case> t;
    // Three equal texts of 2 KiB: the second and third can be back-references into the one before,
    // at a distance of 2 KiB. A client that ignored client_no_context_takeover or a window of 10
    // bits would send such references; the server's inflater, kept to the answer, then fails.
    const std::string r = noise(2 * kib, 77);
    const std::vector<message> three = {text(r), text(r), text(r)};
    const std::string three_frames = text_frame(r) + text_frame(r) + text_frame(r);
    t.push_back(deflated(echo("12.1.1", "accepted without parameters: an uncompressed message, echoed compressed",
                              {text_frame(msg(1))}, {msg(1)}),
                         pmd));
    t.push_back(deflated(raw_echo("12.1.2", "client_max_window_bits=10: the echoes inflate through a 1 KiB window",
                                  {three_frames}, three),
                         pmd + "; client_max_window_bits=10"));
    t.push_back(deflated(
        raw_echo("12.1.3", "client_max_window_bits=\"9\", a quoted value (RFC 7692 7.1.2.2)", {three_frames}, three),
        pmd + "; client_max_window_bits=\"9\""));
    {
        // The server still compresses; tether does not (zlib has no 256-byte window).
        deflater z;
        t.push_back(deflated(echo("12.1.4", "client_max_window_bits=8: the echoes go uncompressed (RSV1 clear)",
                                  {compressed_frame(z.compress(msg(1)))}, {msg(1)}),
                             pmd + "; client_max_window_bits=8"));
    }
    t.push_back(
        deflated(raw_echo("12.1.5", "client_no_context_takeover: each echo inflates alone", {three_frames}, three),
                 pmd + "; client_no_context_takeover"));
    {
        // RFC 7692 7.1.2.1: a server may limit its own window though the offer did not ask.
        deflater z(9);
        std::string s;
        for (int i = 0; i < 3; ++i) s += compressed_frame(z.compress(utf8_msg(noise(1000, 5))));
        t.push_back(deflated(echo("12.1.6", "server_max_window_bits=9, unasked: three messages in a 512-byte window",
                                  {s}, {utf8_msg(noise(1000, 5)), utf8_msg(noise(1000, 5)), utf8_msg(noise(1000, 5))}),
                             pmd + "; server_max_window_bits=9"));
    }
    {
        deflater z(12, true);
        const std::string c1 = z.compress(r);
        const std::string c2 = z.compress(r);
        t.push_back(deflated(raw_echo("12.1.7", "all four parameters, in odd case and spacing",
                                      {compressed_frame(c1) + compressed_frame(c2) + text_frame(r)}, three),
                             "Permessage-Deflate ;server_no_context_takeover;  Client_No_Context_Takeover ; "
                             "server_max_window_bits=12;client_max_window_bits=11"));
    }
    // RFC 7692 5 and 7.1: an answer naming anything not offered, a parameter twice or a value out
    // of range fails the connection before any frame.
    t.push_back(bad_answer("12.1.8", "two permessage-deflate answers (one was offered)", pmd + ", " + pmd));
    t.push_back(bad_answer("12.1.9", "an extension that was not offered", "x-webkit-deflate-frame"));
    t.push_back(bad_answer("12.1.10", "an unknown parameter", pmd + "; mux_window"));
    t.push_back(bad_answer("12.1.11", "an unknown parameter with a value", pmd + "; client_window_size=10"));
    t.push_back(
        bad_answer("12.1.12", "a value on a parameter that takes none", pmd + "; server_no_context_takeover=1"));
    t.push_back(bad_answer("12.1.13", "a duplicate parameter",
                           pmd + "; server_no_context_takeover; server_no_context_takeover"));
    t.push_back(bad_answer("12.1.14", "a duplicate window size, with the same value",
                           pmd + "; server_max_window_bits=10; server_max_window_bits=10"));
    t.push_back(bad_answer("12.1.15", "server_max_window_bits=7 (below 8)", pmd + "; server_max_window_bits=7"));
    t.push_back(bad_answer("12.1.16", "server_max_window_bits=16 (above 15)", pmd + "; server_max_window_bits=16"));
    t.push_back(
        bad_answer("12.1.17", "client_max_window_bits=010 (a leading zero)", pmd + "; client_max_window_bits=010"));
    t.push_back(bad_answer("12.1.18", "client_max_window_bits without a value (a value is required in an answer)",
                           pmd + "; client_max_window_bits"));
    t.push_back(bad_answer("12.1.19", "server_max_window_bits without a value", pmd + "; server_max_window_bits"));
    return t;
}

std::vector<conformance_case> deflate_messages()
{
    std::vector<conformance_case> t;
    {
        deflater z;
        t.push_back(deflated(
            echo("12.2.1", "a compressed text in one frame", {compressed_frame(z.compress(msg(1)))}, {msg(1)}), pmd));
    }
    const std::string m = utf8_msg(noise(300, 1) + noise(300, 1));
    {
        deflater z;
        const std::string c = z.compress(m);
        const std::size_t third = c.size() / 3;
        t.push_back(deflated(echo("12.2.2", "a compressed text in 3 fragments, RSV1 on the first only",
                                  {fragmented(c, third + 1, opcode::text, rsv1)}, {m}),
                             pmd));
        const auto parts = pieces(c, third + 1);
        t.push_back(deflated(echo("12.2.3", "a compressed text in 3 fragments with a ping between fragments",
                                  {compressed_frame(parts[0], opcode::text, false) + ping_frame("one") +
                                   cont_frame(parts[1], false) + ping_frame("two") + cont_frame(parts[2], true)},
                                  {m}, {"one", "two"}),
                             pmd));
        t.push_back(deflated(echo("12.2.4", "a compressed text, one byte of compressed data per fragment",
                                  {fragmented(c, 1, opcode::text, rsv1)}, {m}),
                             pmd));
        t.push_back(chopped(
            deflated(echo("12.2.5", "a compressed text written 1 byte at a time", {compressed_frame(c)}, {m}), pmd),
            1));
    }
    {
        // Compressed fragment by fragment: each fragment sync flushed, its 00 00 FF FF kept but the last.
        deflater z;
        const std::string a = z.compress_part(m.substr(0, 100));
        const std::string b = z.compress_part(m.substr(100, 300));
        const std::string c = z.compress(m.substr(400));
        t.push_back(
            deflated(echo("12.2.6", "a text compressed fragment by fragment (a flush marker ending each fragment)",
                          {compressed_frame(a, opcode::text, false) + cont_frame(b, false) + cont_frame(c, true)}, {m}),
                     pmd));
    }
    std::vector<std::string> five;
    for (int i = 0; i < 5; ++i)
        five.push_back(R"({"type":"m","text":")" + noise(500, 3) + R"(","seq":)" + std::to_string(i) + "}");
    {
        // Context takeover: after the first, each message is mostly a reference into the one before.
        deflater z;
        std::string s;
        for (const auto& f : five) s += compressed_frame(z.compress(f));
        t.push_back(deflated(
            echo("12.2.7", "five similar messages relying on the shared window, in one write", {s}, five), pmd));
    }
    {
        deflater z(15, true);
        std::string s;
        for (const auto& f : five) s += compressed_frame(z.compress(f));
        t.push_back(deflated(
            echo("12.2.8", "server_no_context_takeover: five similar messages, each compressed alone", {s}, five),
            pmd + "; server_no_context_takeover"));
    }
    {
        // The server broke its promise; tether resets its inflater after each message, as the
        // answer allows, so the reference points at nothing (a client may keep its window instead).
        deflater z;
        const std::string first = z.compress(five[0]);
        const std::string again = z.compress(five[0]);
        t.push_back(with_protocol_error(
            deflated(fail("12.2.9", "server_no_context_takeover answered, yet the second message refers into the first",
                          {compressed_frame(first) + compressed_frame(again)}, 1007, {five[0]}),
                     pmd + "; server_no_context_takeover"),
            protocol_error::bad_compression));
    }
    {
        // Uncompressed messages (RSV1 clear) leave the window as it was.
        deflater z;
        const std::string c0 = z.compress(five[0]);
        const std::string c2 = z.compress(five[2]);
        t.push_back(deflated(echo("12.2.10", "uncompressed messages between compressed ones: the window skips them",
                                  {compressed_frame(c0) + text_frame(five[1]) + compressed_frame(c2) +
                                   text_frame(five[3]) + fragmented(five[4], 100)},
                                  five),
                             pmd));
    }
    {
        deflater z;
        const std::string b = bytes(5000, 8) + bytes(5000, 8);
        t.push_back(deflated(raw_echo("12.2.11", "raw API: a compressed binary, echoed compressed (opcode 2, RSV1)",
                                      {compressed_frame(z.compress(b), opcode::binary)}, {binary(b)}),
                             pmd));
    }
    {
        deflater z;
        const std::string big = noise(1024 * kib, 11);
        t.push_back(deflated(raw_echo("12.2.12", "raw API: a compressed text of 1 MiB in fragments of 64 KiB",
                                      {fragmented(z.compress(big), 64 * kib, opcode::text, rsv1)}, {text(big)}),
                             pmd));
    }
    t.push_back(deflated(raw_echo("12.2.13", "raw API: an empty compressed message (payload 00): delivered empty",
                                  {compressed_frame(std::string(1, '\0'))}, {text("")}),
                         pmd));
    {
        // The empty message's flush adds nothing: its payload is the single byte 00, after a message too.
        deflater z;
        const std::string c1 = z.compress("hello");
        const std::string c2 = z.compress("");
        const std::string c3 = z.compress("hello");
        t.push_back(
            deflated(raw_echo("12.2.14", "raw API: a compressed message, an empty one, the first again (context kept)",
                              {compressed_frame(c1) + compressed_frame(c2) + compressed_frame(c3)},
                              {text("hello"), text(""), text("hello")}),
                     pmd));
    }
    {
        // RFC 7692 7.2.3.4: a message may end its stream with a final block; the next starts a new one.
        deflater z;
        const std::string first = z.compress_final(five[0]);
        t.push_back(
            deflated(echo("12.2.15", "a message ended by a final block (BFINAL), then one in a new stream",
                          {compressed_frame(first) + compressed_frame(z.compress(five[1]))}, {five[0], five[1]}),
                     pmd));
    }
    {
        deflater z;
        t.push_back(deflated(echo("12.2.16", "a compressed text with an empty first fragment (RSV1 on it)",
                                  {compressed_frame("", opcode::text, false) + cont_frame(z.compress(m), true)}, {m}),
                             pmd));
    }
    {
        deflater z;
        const std::string at_limit = sized_message(limit);
        t.push_back(limited(deflated(echo("12.2.17", "a compressed text inflating to exactly max_message_size (64 KiB)",
                                          {compressed_frame(z.compress(at_limit))}, {at_limit}),
                                     pmd)));
    }
    {
        deflater z;
        std::string s;
        std::vector<message> mixed;
        for (int i = 0; i < 8; ++i) {
            const bool bin = i % 2 == 1, compressed = i % 3 != 2;
            mixed.push_back(bin ? binary(bytes(100 + static_cast<std::size_t>(i), 1)) : text(noise(100, 4)));
            const auto op = bin ? opcode::binary : opcode::text;
            s += compressed ? compressed_frame(z.compress(mixed.back().payload), op)
                            : encode({.op = op, .payload = mixed.back().payload});
        }
        t.push_back(deflated(
            raw_echo("12.2.18", "raw API: text and binary, compressed and not, interleaved in one write", {s}, mixed),
            pmd));
    }
    {
        // A compressed frame is never read in place: it inflates as its pieces arrive.
        deflater z;
        const std::string big = noise(1024 * kib, 12);
        t.push_back(chopped(
            deflated(raw_echo("12.2.19", "raw API: a compressed text of 1 MiB in one frame, written in 64 KiB pieces",
                              {compressed_frame(z.compress(big))}, {text(big)}),
                     pmd),
            64 * kib));
    }
    {
        deflater z;
        const std::string c = z.compress(m);
        t.push_back(deflated(echo("12.2.20", "a compressed text whose last fragment is empty",
                                  {compressed_frame(c, opcode::text, false) + cont_frame("", true)}, {m}),
                             pmd));
    }
    {
        // The writer compresses a batch's messages in order through one window, and must write
        // them in that order: the server inflates them as they come.
        deflater z;
        std::string burst;
        std::vector<message> msgs;
        std::vector<std::string> pongs;
        for (int i = 0; i < 1000; ++i) {
            msgs.push_back(i % 4 == 3 ? binary(bytes(30, static_cast<unsigned>(i)))
                                      : text("message " + std::to_string(i % 50)));
            const std::string c = z.compress(msgs.back().payload);
            burst += compressed_frame(c, msgs.back().kind == message_kind::binary ? opcode::binary : opcode::text);
            if (i % 10 == 9) {
                pongs.push_back("p" + std::to_string(i));
                burst += ping_frame(pongs.back());
            }
        }
        t.push_back(deflated(
            raw_echo("12.2.21",
                     "raw API: 1000 compressed messages and 100 pings in one write: the echoes compressed in order",
                     {burst}, msgs, pongs),
            pmd));
    }
    {
        // Each fragment inflates on its own flush, so the validator meets half a character.
        deflater z;
        const std::string head = R"({"type":"m","text":"clef )"
                                 "\xF0\x9D",
                          tail = "\x84\x9E"
                                 R"("})";
        const std::string a = z.compress_part(head);
        const std::string b = z.compress(tail);
        t.push_back(deflated(echo("12.2.22", "a 4-byte character split between two fragments compressed one by one",
                                  {compressed_frame(a, opcode::text, false) + cont_frame(b, true)}, {head + tail}),
                             pmd));
    }
    {
        // Incompressible bytes deflate into stored blocks: a few bytes more on the wire than the
        // message. max_message_size counts the message after decompression (client_config).
        deflater z;
        std::string random(limit, '\0');
        std::uint32_t x = 99;
        for (auto& ch : random) {
            x = x * 1664525u + 1013904223u;
            ch = static_cast<char>(x >> 24);
        }
        const std::string c = z.compress(random);
        // The header of a compressed frame is held to deflate's bound for the limit, not the limit.
        t.push_back(
            limited(deflated(raw_echo("12.2.23",
                                      "raw API: " + std::to_string(limit) + " random bytes (max_message_size), " +
                                          std::to_string(c.size()) + " bytes compressed",
                                      {compressed_frame(c, opcode::binary)}, {binary(random)}),
                             pmd)));
    }
    {
        // The JSON application skips binary, but the window holds it: the text after it refers back.
        deflater z;
        const std::string shared = noise(400, 21);
        const std::string bin = z.compress(shared);
        const std::string txt = utf8_msg(shared);
        const std::string c = z.compress(txt);
        t.push_back(
            deflated(echo("12.2.24", "JSON API: a compressed binary (skipped), then a text that refers back into it",
                          {compressed_frame(bin, opcode::binary) + compressed_frame(c)}, {txt}),
                     pmd));
    }
    return t;
}

std::vector<conformance_case> deflate_failures()
{
    std::vector<conformance_case> t;
    using pe = protocol_error;
    const auto deflate_fail = [](std::string id, std::string description, std::vector<std::string> script,
                                 std::uint16_t code, std::optional<pe> e, std::vector<std::string> messages = {},
                                 std::vector<std::string> pongs = {}) {
        auto c = deflated(
            fail(std::move(id), std::move(description), std::move(script), code, std::move(messages), std::move(pongs)),
            pmd);
        c.protocol = e;
        return c;
    };
    {
        // RFC 7692 6: RSV1 marks a compressed message on its first frame only.
        deflater z;
        const std::string c = z.compress(msg(1));
        t.push_back(deflate_fail("12.3.1", "RSV1 on a continuation frame",
                                 {compressed_frame(c.substr(0, 2), opcode::text, false) +
                                  encode({.op = opcode::cont, .rsv = rsv1, .payload = c.substr(2)})},
                                 1002, pe::reserved_bits));
    }
    t.push_back(deflate_fail("12.3.2", "RSV1 on a ping: not answered",
                             {encode({.op = opcode::ping, .rsv = rsv1, .payload = "p"})}, 1002, pe::reserved_bits));
    t.push_back(deflate_fail("12.3.3", "RSV1 on a close frame",
                             {encode({.op = opcode::close, .rsv = rsv1, .payload = close_payload(1000)})}, 1002,
                             pe::reserved_bits));
    {
        deflater z;
        t.push_back(deflate_fail("12.3.4", "RSV2 on a compressed message (only RSV1 is defined)",
                                 {encode({.rsv = rsv1 | rsv2, .payload = z.compress(msg(1))})}, 1002,
                                 pe::reserved_bits));
    }
    // 0xFF starts a block of the reserved type 3.
    t.push_back(deflate_fail("12.3.5", "corrupt compressed data (a block of the reserved type)",
                             {compressed_frame("\xFF\xFF\xFF\xFF")}, 1007, pe::bad_compression));
    {
        deflater z;
        t.push_back(
            deflate_fail("12.3.6", "a good compressed message, then corrupt data: the good one is delivered",
                         {compressed_frame(z.compress(msg(1))) + compressed_frame(std::string("\xFF\x00\x13\x37", 4))},
                         1007, pe::bad_compression, {msg(1)}));
    }
    {
        deflater z;
        const std::string c = z.compress(utf8_msg(noise(200, 2)));
        // The message's data ends on the header of an empty stored block (its flush, without the
        // 00 00 FF FF): the next four bytes are that block's length and its complement, which must agree.
        t.push_back(
            deflate_fail("12.3.7", "corrupt data in the last of 3 fragments (a stored block's lengths disagree)",
                         {compressed_frame(c.substr(0, 10), opcode::text, false) + cont_frame(c.substr(10), false) +
                          cont_frame(std::string("\x05\x00\x05\x00", 4), true)},
                         1007, pe::bad_compression));
    }
    {
        // A compression bomb: 1 MiB of zeros is about 1 KiB compressed, well under the limit on the
        // wire; inflating must stop at max_message_size.
        deflater z;
        const std::string bomb = z.compress(std::string(1024 * kib, '0'));
        t.push_back(limited(deflate_fail("12.3.8",
                                         "a compression bomb: " + std::to_string(bomb.size()) +
                                             " bytes inflating to 1 MiB, past max_message_size (64 KiB)",
                                         {compressed_frame(bomb)}, 1009, std::nullopt)));
        t.push_back(
            limited(deflate_fail("12.3.9", "fail fast: a bomb in the first fragment of a message that never completes",
                                 {compressed_frame(bomb, opcode::text, false)}, 1009, std::nullopt)));
    }
    {
        deflater z;
        t.push_back(
            limited(deflate_fail("12.3.10", "a compressed text inflating to max_message_size + 1",
                                 {compressed_frame(z.compress(sized_message(limit + 1)))}, 1009, std::nullopt)));
    }
    {
        deflater z;
        t.push_back(deflate_fail("12.3.11", "an inflated text that is not UTF-8",
                                 {compressed_frame(z.compress(utf8_msg("ok\xC0\xAFok")))}, 1007, pe::invalid_utf8));
    }
    {
        deflater z;
        t.push_back(deflate_fail("12.3.12",
                                 "fail fast: invalid UTF-8 in the first compressed fragment, the rest never comes",
                                 {compressed_frame(z.compress(R"({"type":"m","text":")"
                                                              "\xF4\x90\x80\x80"),
                                                   opcode::text, false)},
                                 1007, pe::invalid_utf8));
    }
    {
        deflater z;
        t.push_back(deflate_fail("12.3.13", "an inflated text that ends inside a 3-byte sequence",
                                 {compressed_frame(z.compress(utf8_msg("ok") + "\xE2\x82"))}, 1007, pe::invalid_utf8));
    }
    t.push_back(deflate_fail("12.3.14", "a ping, then corrupt compressed data: the ping is answered first",
                             {ping_frame("before") + compressed_frame("\xFF")}, 1007, pe::bad_compression, {},
                             {"before"}));
    return t;
}

std::vector<conformance_case> make_table()
{
    std::vector<conformance_case> all;
    for (auto section : {upgrade_responses, framing, ping_pong, reserved_bits, opcodes, fragmentation, utf8, closing,
                         limits, coalescing, deflate_negotiation, deflate_messages, deflate_failures})
        for (auto& c : section()) all.push_back(std::move(c));
    return all;
}

}  // namespace

std::string sized_message(std::size_t size)
{
    const std::string head = R"({"type":"m","pad":")", tail = R"("})";
    return head + std::string(size - head.size() - tail.size(), 'a') + tail;
}

const std::vector<conformance_case>& cases()
{
    static const std::vector<conformance_case> table = make_table();
    return table;
}

}  // namespace tether::conformance
