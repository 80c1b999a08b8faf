// The case table. Payloads that must be delivered are JSON objects with a string "type" (what the
// client hands to the application); everything else is raw bytes. Where RFC 6455 leaves the
// client a choice, the comment says which one tether (through Beast) makes.
#include "cases.hpp"

#include "frames.hpp"

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

// `s` as a fragmented text message: one frame per piece of `n` bytes.
std::string fragmented(const std::string& s, std::size_t n)
{
    const auto parts = pieces(s, n);
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const bool fin = i + 1 == parts.size();
        out += i == 0 ? text_frame(parts[i], fin) : cont_frame(parts[i], fin);
    }
    return out;
}

std::string repeat(const std::string& s, std::size_t n)
{
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

conformance_case echo(std::string id, std::string description, std::vector<std::string> script,
                      std::vector<std::string> messages, std::vector<std::string> pongs = {})
{
    return {.id = std::move(id),
            .description = std::move(description),
            .script = std::move(script),
            .expect = outcome::echoed,
            .messages = std::move(messages),
            .pongs = std::move(pongs)};
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
                       .messages = std::move(messages),
                       .pongs = std::move(pongs),
                       .client_close = code,
                       .kind = code == 1009 ? disconnect_kind::message_too_big : disconnect_kind::protocol,
                       .peer_code = 0};
    if (code == 1009) c.tether_error = error::message_too_big;
    return c;
}

// The server's close frame with `code` ends it; the client answers with `answer`.
conformance_case closes(std::string id, std::string description, std::vector<std::string> script,
                        std::uint16_t code, std::uint16_t answer, std::vector<std::string> messages = {})
{
    return {.id = std::move(id),
            .description = std::move(description),
            .script = std::move(script),
            .expect = outcome::closed,
            .messages = std::move(messages),
            .client_close = answer,
            .kind = disconnect_kind::close_frame,
            .peer_code = code};
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
    t.push_back(rejected("0.1", "401: unauthorized", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", k::http_status,
                         error::unauthorized, 401));
    t.push_back(rejected("0.2", "403 with a body: unauthorized",
                         "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden", k::http_status,
                         error::unauthorized, 403));
    t.push_back(rejected("0.3", "404: session not found", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", k::http_status,
                         error::session_not_found, 404));
    {
        auto c = rejected("0.4", "429 with Retry-After: 7", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
                          k::http_status, error::upgrade_rejected, 429);
        c.retry_after = std::chrono::seconds(7);
        t.push_back(c);
    }
    t.push_back(rejected("0.5", "503 with Retry-After as an HTTP date (not used)",
                         "HTTP/1.1 503 Service Unavailable\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n",
                         k::http_status, error::upgrade_rejected, 503));
    t.push_back(rejected("0.6", "HTTP/1.0 302 redirect", "HTTP/1.0 302 Found\r\nLocation: /elsewhere\r\n\r\n", k::http_status,
                         error::upgrade_rejected, 302));
    t.push_back(rejected("0.7", "a real 200 with a body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", k::http_status,
                         error::upgrade_rejected, 200));
    t.push_back(rejected("0.8", "101 with a wrong Sec-WebSocket-Accept",
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                         k::protocol));
    t.push_back(rejected("0.9", "101 without Upgrade: websocket",
                         "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n",
                         k::protocol));
    {
        auto c = rejected("0.10", "the server hangs up without answering", "", k::transport);
        t.push_back(c);
    }
    {
        auto c = rejected("0.11", "the server hangs up in the middle of the status line", "HTTP/1.1 101 Swi", k::protocol);
        t.push_back(c);
    }
    {
        auto c = rejected("0.12", "no answer within handshake_timeout (200 ms)", "", k::timeout, error::handshake_timeout);
        c.hold = true;
        c.handshake_timeout = std::chrono::milliseconds(200);
        t.push_back(c);
    }
    {
        auto c = echo("0.13", "101 and two messages in the same write", {ok_101 + text_frame(msg(1)) + text_frame(msg(2))},
                      {msg(1), msg(2)});
        c.upgrade = false;
        t.push_back(c);
    }
    {
        auto c = echo("0.14", "101 written 1 byte at a time, then a message", {ok_101, text_frame(msg(1))}, {msg(1)});
        c.upgrade = false;
        c.chop = 1;
        t.push_back(c);
    }
    return t;
}

std::vector<conformance_case> framing()
{
    std::vector<conformance_case> t;
    const std::size_t sizes[] = {125, 126, 127, 65535, 65536, 1024 * kib};
    const char* what[] = {"largest 7-bit length", "smallest 16-bit length", "16-bit length",
                          "largest 16-bit length", "smallest 64-bit length", "64-bit length, 1 MiB"};
    for (std::size_t i = 0; i < std::size(sizes); ++i) {
        const std::string m = sized_message(sizes[i]);
        t.push_back(echo("1.1." + std::to_string(i + 1),
                         "text of " + std::to_string(sizes[i]) + " bytes (" + what[i] + ")", {text_frame(m)}, {m}));
    }
    t.push_back(chopped(echo("1.1.7", "text of 300 bytes, written 1 byte at a time (16-bit header split)",
                             {text_frame(sized_message(300))}, {sized_message(300)}),
                        1));
    t.push_back(echo("1.1.8", "three messages in one TCP write", {text_frame(msg(1)) + text_frame(msg(2)) + text_frame(msg(3))},
                     {msg(1), msg(2), msg(3)}));
    t.push_back(echo("1.2.1", "empty binary message: not delivered, the link stays up", {binary_frame(""), text_frame(msg(1))},
                     {msg(1)}));
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
    t.push_back(fail("1.3.4", "a masked ping after a good message", {text_frame(msg(1)), encode({.op = opcode::ping, .payload = "x", .mask = 1u})},
                     1002, {msg(1)}));
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
    t.push_back(echo("2.3", "ping with 125 bytes of binary payload: pong with the same bytes", {ping_frame(binary125)}, {},
                     {binary125}));
    t.push_back(fail("2.4", "ping with 126 bytes of payload: control frames are limited to 125",
                     {ping_frame(std::string(126, 'p'))}));
    t.push_back(echo("2.5", "unsolicited pong without payload: ignored", {pong_frame(""), text_frame(msg(1))}, {msg(1)}));
    t.push_back(echo("2.6", "unsolicited pong, then a ping: only the ping is answered", {pong_frame("unsolicited"), ping_frame("solicited")},
                     {}, {"solicited"}));
    std::string ten;
    std::vector<std::string> ten_pongs;
    for (int i = 0; i < 10; ++i) {
        ten += ping_frame("payload-" + std::to_string(i));
        ten_pongs.push_back("payload-" + std::to_string(i));
    }
    t.push_back(echo("2.7", "ten pings in one write: ten pongs, in order", {ten}, {}, ten_pongs));
    t.push_back(chopped(echo("2.8", "ping written 1 byte at a time", {ping_frame("chopped ping")}, {}, {"chopped ping"}), 1));
    t.push_back(fail("2.9", "ping with FIN clear: control frames must not be fragmented",
                     {encode({.op = opcode::ping, .fin = false, .payload = "x"})}));
    t.push_back(echo("2.10", "ping between two messages", {text_frame(msg(1)), ping_frame("between"), text_frame(msg(2))},
                     {msg(1), msg(2)}, {"between"}));
    return t;
}

std::vector<conformance_case> reserved_bits()
{
    // No extension is negotiated (permessage-deflate is off), so every reserved bit is an error.
    std::vector<conformance_case> t;
    t.push_back(fail("3.1", "text with RSV1", {encode({.rsv = rsv1, .payload = msg(1)})}));
    t.push_back(fail("3.2", "text with RSV2, after a good message", {text_frame(msg(1)), encode({.rsv = rsv2, .payload = msg(2)})},
                     1002, {msg(1)}));
    t.push_back(fail("3.3", "text with RSV3, after a ping", {ping_frame("p"), encode({.rsv = rsv3, .payload = msg(1)})}, 1002, {},
                     {"p"}));
    t.push_back(fail("3.4", "binary with RSV1 and RSV3", {encode({.op = opcode::binary, .rsv = rsv1 | rsv3, .payload = "b"})}));
    t.push_back(fail("3.5", "ping with RSV2: not answered", {encode({.op = opcode::ping, .rsv = rsv2, .payload = "p"})}));
    t.push_back(fail("3.6", "close with RSV3", {encode({.op = opcode::close, .rsv = rsv3, .payload = close_payload(1000)})}));
    t.push_back(fail("3.7", "continuation with RSV1",
                     {text_frame(R"({"type":)", false), encode({.op = opcode::cont, .rsv = rsv1, .payload = R"("m"})"})}));
    t.push_back(fail("3.8", "text with all three reserved bits", {encode({.rsv = rsv1 | rsv2 | rsv3, .payload = msg(1)})}));
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
            t.push_back(fail(id, name + ", after a good message", {text_frame(msg(1)), encode({.op = op, .payload = "reserved"})},
                             1002, {msg(1)}));
        else
            t.push_back(fail(id, name + ", empty", {encode({.op = op})}));
    }
    const std::uint8_t control_ops[] = {0xB, 0xC, 0xD, 0xE, 0xF};
    for (std::size_t i = 0; i < std::size(control_ops); ++i) {
        const auto op = control_ops[i];
        const std::string id = "4.2." + std::to_string(i + 1);
        const std::string name = "reserved control opcode " + std::to_string(op);
        if (i % 2 == 0)
            t.push_back(fail(id, name + ", after a ping", {ping_frame("p"), encode({.op = op, .payload = "reserved"})}, 1002, {},
                             {"p"}));
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
    t.push_back(chopped(echo("5.3", "text in two fragments, written 1 byte at a time", {text_frame(head, false) + cont_frame(tail, true)},
                             {m}),
                        1));
    t.push_back(echo("5.4", "ping between two fragments: answered before the message completes",
                     {text_frame(head, false), ping_frame("inside"), cont_frame(tail, true)}, {m}, {"inside"}));
    t.push_back(chopped(echo("5.5", "ping between two fragments, written 1 byte at a time",
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
        t.push_back(echo("5.6", "a ping after every fragment of a " + std::to_string(parts.size()) + "-fragment text", {s}, {m},
                         pongs));
    }
    t.push_back(echo("5.7", "unsolicited pong between fragments: ignored",
                     {text_frame(head, false) + pong_frame("stray") + cont_frame(tail, true)}, {m}));
    t.push_back(echo("5.8", "empty first and last fragments around the data",
                     {text_frame("", false) + cont_frame(m, false) + cont_frame("", true)}, {m}));
    t.push_back(fail("5.9", "continuation (FIN set) with no message started", {cont_frame("orphan", true)}));
    t.push_back(fail("5.10", "continuation (FIN clear) with no message started", {cont_frame("orphan", false)}));
    t.push_back(fail("5.11", "continuation after a complete message", {text_frame(msg(1)), cont_frame("late", true)}, 1002, {msg(1)}));
    t.push_back(fail("5.12", "a new text frame while a fragmented text is open", {text_frame(head, false) + text_frame(tail, true)}));
    t.push_back(fail("5.13", "a binary frame while a fragmented text is open", {text_frame(head, false) + binary_frame("b", true)}));
    t.push_back(echo("5.14", "fragmented text, fragmented binary (not delivered), fragmented text",
                     {fragmented(msg(1), 5) + binary_frame("bin", false) + cont_frame("ary", true) + fragmented(msg(2), 3)},
                     {msg(1), msg(2)}));
    t.push_back(fail("5.15", "a fragmented ping inside a fragmented text",
                     {text_frame(head, false), encode({.op = opcode::ping, .fin = false, .payload = "p"}), cont_frame(tail, true)}));
    t.push_back(closes("5.16", "close between fragments: answered, the partial message is not delivered",
                       {text_frame(head, false), close_frame(1000)}, 1000, 1000));
    {
        const std::string big = sized_message(64 * kib + 1);
        t.push_back(echo("5.17", "a 64 KiB text in 65 fragments of 1 KiB", {fragmented(big, kib)}, {big}));
    }
    return t;
}

std::vector<conformance_case> utf8()
{
    std::vector<conformance_case> t;
    const std::string greek = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";  // κόσμε
    const std::string three = "\xE2\x82\xAC \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";  // € 日本語
    const std::string four = "\xF0\x9D\x84\x9E\xF0\x9F\x98\x80";  // 𝄞 😀
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
        t.push_back(chopped(echo("6.7", "multi-byte text written 1 byte at a time", {text_frame(utf8_msg(greek + four))},
                                 {utf8_msg(greek + four)}),
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
        t.push_back(fail("6." + std::to_string(n++), std::string("invalid: ") + b.name, {text_frame(utf8_msg("ok" + b.bytes + "ok"))},
                         1007));
    // n == 15
    t.push_back(fail("6.15", "a message that ends inside a 2-byte sequence", {text_frame(utf8_msg(greek) + "\xCE")}, 1007));
    t.push_back(fail("6.16", "a fragmented message whose last fragment ends inside a sequence",
                     {text_frame(R"({"type":"m",)", false) + cont_frame("\"text\":\"\xF0\x9D\x84", true)}, 1007));
    t.push_back(fail("6.17", "valid first fragment, invalid second",
                     {text_frame(R"({"type":"m","text":")", false) + cont_frame("\xED\xA0\x80\"}", true)}, 1007));
    // Fail fast: the server sends no more after the bad bytes and waits; the client must not.
    t.push_back(fail("6.18", "fail fast: invalid bytes in the first fragment of a message that never completes",
                     {text_frame(R"({"type":"m","text":")" "\xC0\xAF", false)}, 1007));
    t.push_back(fail("6.19", "fail fast: invalid bytes early in a frame whose other 1000 bytes never come",
                     {encode({.payload = R"({"t":")" "\xFE", .declared_length = 1007})}, 1007));
    t.push_back(echo("6.20", "invalid UTF-8 inside a binary message is not checked",
                     {binary_frame("\xC0\xAF\xFE\xFF"), text_frame(msg(1))}, {msg(1)}));
    t.push_back(fail("6.21", "a valid message, then an invalid one", {text_frame(utf8_msg(greek)), text_frame(utf8_msg("\xFF"))}, 1007,
                     {utf8_msg(greek)}));
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
        auto c = closes("7.1.4", "close 1000 with a UTF-8 reason: the client reports the reason", {close_frame(1000, reason)}, 1000,
                        1000);
        c.peer_reason = reason;
        t.push_back(c);
    }
    {
        auto c = closes("7.1.5", "close with a 123-byte reason (a 125-byte payload)", {close_frame(1001, std::string(123, 'r'))}, 1001,
                        1001);
        c.peer_reason = std::string(123, 'r');
        t.push_back(c);
    }
    t.push_back(fail("7.1.6", "close with a 124-byte reason (a 126-byte payload)", {close_frame(1000, std::string(124, 'r'))}));
    // Autobahn accepts 1002 or 1007 here; Beast answers 1002.
    t.push_back(fail("7.1.7", "close with an invalid UTF-8 reason", {close_frame(1000, "bad \xC0\xAF reason")}));
    t.push_back(closes("7.1.8", "close then ping: the ping is not answered", {close_frame(1000) + ping_frame("after close")}, 1000, 1000));
    t.push_back(closes("7.1.9", "close then text: the text is not delivered", {close_frame(1000) + text_frame(msg(1))}, 1000, 1000));
    t.push_back(chopped(closes("7.1.10", "close with a reason, written 1 byte at a time", {close_frame(1000, "chopped")}, 1000, 1000), 1));
    t.push_back(fail("7.1.11", "close with FIN clear", {encode({.op = opcode::close, .fin = false, .payload = close_payload(1000)})}));
    t.push_back(closes("7.1.12", "a message, then close: delivered, then answered", {text_frame(msg(1)) + close_frame(1000)}, 1000, 1000,
                       {msg(1)}));

    // Valid codes are echoed back; 4001 and 4003 carry tether's own meaning.
    const std::uint16_t valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   1012, 1013, 3000, 3999, 4000, 4001, 4003, 4999};
    int n = 1;
    for (const auto code : valid) {
        auto c = closes("7.2." + std::to_string(n++), "valid close code " + std::to_string(code), {close_frame(code, "x")}, code, code);
        if (code == 4001) c.tether_error = error::session_not_found;
        if (code == 4003) c.tether_error = error::unauthorized;
        if (code == 1009) c.tether_error = error::message_too_big;
        if (code == 1000) c.tether_error = error::closed_by_peer;
        t.push_back(c);
    }
    const std::uint16_t invalid[] = {0, 999, 1004, 1005, 1006, 1014, 1015, 1016, 1100, 2000, 2999};
    n = 1;
    for (const auto code : invalid)
        t.push_back(fail("7.3." + std::to_string(n++), "invalid close code " + std::to_string(code), {close_frame(code)}));
    return t;
}

std::vector<conformance_case> limits()
{
    std::vector<conformance_case> t;
    const std::string at_limit = sized_message(limit);
    t.push_back(limited(echo("9.1", "a text of exactly max_message_size (64 KiB) in one frame", {text_frame(at_limit)}, {at_limit})));
    t.push_back(limited(fail("9.2", "a text of max_message_size + 1 in one frame", {text_frame(sized_message(limit + 1))}, 1009)));
    // These send the header alone: the client must decide before reading (or allocating) a byte.
    t.push_back(limited(fail("9.3", "a header declaring max_message_size + 1, no payload sent",
                             {encode({.declared_length = limit + 1})}, 1009)));
    t.push_back(limited(fail("9.4", "a header declaring 2^62 bytes, no payload sent", {encode({.declared_length = 1ull << 62})}, 1009)));
    // RFC 6455 requires the top bit of a 64-bit length to be 0; tether/Beast fail it as too big.
    t.push_back(limited(fail("9.5", "a header declaring 2^63 + 5 bytes (top bit set)",
                             {encode({.declared_length = (1ull << 63) + 5})}, 1009)));
    t.push_back(limited(fail("9.6", "a header declaring 2^64 - 1 bytes", {encode({.declared_length = ~0ull})}, 1009)));
    t.push_back(limited(fail("9.7", "64 fragments of 1 KiB and a 1-byte last fragment: one byte over the limit",
                             {repeat(text_frame(std::string(kib, ' '), false), 1) + repeat(cont_frame(std::string(kib, ' '), false), 63) +
                              cont_frame(" ", true)},
                             1009)));
    t.push_back(limited(fail("9.8", "endless continuation fragments (1000 of 1 KiB, never final)",
                             {text_frame(std::string(kib, ' '), false) + repeat(cont_frame(std::string(kib, ' '), false), 999)},
                             1009)));
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

std::vector<conformance_case> make_table()
{
    std::vector<conformance_case> all;
    for (auto section : {upgrade_responses, framing, ping_pong, reserved_bits, opcodes, fragmentation, utf8, closing, limits})
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
