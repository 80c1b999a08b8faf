// Fuzz target: tether's frame decoder against Beast's. The same server bytes go through
// tether::wire::decoder (fed whole, checked as in fuzz_decoder) and through a client-role
// boost::beast::websocket::stream over Beast's in-memory test stream, after an opening handshake
// completed by hand, reading one message at a time (read(), see B) until an error. The two must
// agree on the messages (the same kinds and bytes, in order) and on the verdict:
//   - a close frame: the same code (1005 when it had none) and reason;
//   - a failure: the same close code class, 1002 (protocol), 1007 (bad UTF-8) or 1009 (too big);
//   - the end of the input (Beast: EOF; tether: need more) on both.
// Beast's error is mapped to the close code it fails the connection with, and that code is checked
// against the close frame Beast actually wrote. No compression: Beast's inflater state would have
// to match tether's, message for message.
//
// Known differences, each handled explicitly below (search for "Known difference"):
//   1. tether fails faster. It applies each header rule as soon as the byte it needs is in, so a
//      frame with, say, a reserved opcode fails on its first byte; Beast parses nothing until the
//      whole header (extended length and masking key included) is in. When the input ends inside
//      such a header, Beast says EOF and tether failed: Beast is then given the header completed
//      (an unmasked zero length if only the first byte was there, 0xFF for missing length and key
//      bytes, which tether never looked at) and must fail with the same class.
//   2. tether enforces max_message_size from the header, before any payload arrives. So does
//      Beast 1.81 for uncompressed messages (in parse_fh, with the same sum), so with compression
//      off no exception is needed, and none is made: a 1009 on one side only is a finding. (With
//      compression, Beast counts inflated bytes as they come out, after the payload arrived.)
//   3. A 64-bit length with the top bit set (RFC 6455 5.2 forbids it): tether refuses it with
//      1009 whatever max_message_size is; Beast refuses it only when it exceeds read_message_max,
//      else reads on into a payload that never ends (EOF, or 1007 on bad UTF-8 in a text
//      message's payload). Accepted when the limit is that large (SIZE_MAX here).
// Beast quirks, whose inputs are skipped (return early):
//   A. A text message whose last frame is empty: Beast checks UTF-8 only on payload bytes, so it
//      never calls finish() for that message, and delivers it even when it ends inside a
//      character (e.g. 01 02 E2 82 | 80 00); its validator also keeps the partial character for
//      the next message. tether fails it with 1007, as RFC 6455 8.1 requires.
//   B. Not skipped but worked around: read() sizes each step by what the frame header announces
//      (read_size_hint: the rest of a continuation frame's payload, in one allocation), so with
//      read_message_max = SIZE_MAX a header can make it allocate 2^60 bytes before any payload
//      arrives. Messages are read with read_some(buffer, 64 KiB) until is_message_done(), which
//      is read() with bounded steps.
//
// Input layout:
//   byte 0  bits 0-1: max_message_size (= Beast's read_message_max): 0 = 1 + byte 1 (1 to 256;
//                     Beast reads 0 as no limit), 1 = 65535 + byte 1, 2 = 16 MiB, 3 = SIZE_MAX
//           bits 2-4: how many bytes each of Beast's reads from the test stream gets: all, or
//                     1, 2, 3, 5, 8, 13, 64 (so its fail-fast paths see partial frames)
//   byte 1  see above
//   then the server's bytes after the upgrade
#include "wire_reference.hpp"

#include "wire/handshake.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace tether::fuzz;
using tether::message_kind;
using tether::wire::frame_event;

enum class ending { eof, close, failed };

struct outcome {
    std::vector<tether::message> messages;
    ending how = ending::eof;
    std::uint16_t code = 0;  ///< close: the peer's code (1005: none); failed: the class
    std::string reason;      ///< close
};

// --- Beast's side --------------------------------------------------------------------------------

// The close code Beast fails the connection with for `ec` (read.hpp: message_too_big -> 1009, a
// data frame's bad UTF-8 -> 1007, every other frame or close-payload error -> 1002).
std::uint16_t beast_failure_code(const beast::error_code& ec)
{
    using websocket::error;
    if (ec == error::message_too_big) return 1009;
    if (ec == error::bad_frame_payload) return 1007;
    for (auto e :
         {error::bad_opcode, error::bad_data_frame, error::bad_continuation, error::bad_reserved_bits,
          error::bad_control_fragment, error::bad_control_size, error::bad_unmasked_frame, error::bad_masked_frame,
          error::bad_size, error::bad_close_code, error::bad_close_size, error::bad_close_payload})
        if (ec == e) return 1002;
    std::fprintf(stderr, "Beast failed with an unexpected error: %s\n", ec.message().c_str());
    check(false, "Beast failed with an error the target does not know");
    return 0;
}

// The code of the last close frame in `written`, the client's (masked) frames; 0 when none.
std::uint16_t last_close_code(std::string_view written)
{
    std::uint16_t code = 0;
    std::size_t at = 0;
    while (written.size() - at >= 2) {
        const auto b0 = static_cast<unsigned char>(written[at]), b1 = static_cast<unsigned char>(written[at + 1]);
        check((b1 & 0x80) != 0, "Beast wrote an unmasked frame");
        std::uint64_t len = b1 & 0x7F;
        std::size_t header = 2;
        if (len >= 126) {
            const std::size_t n = len == 126 ? 2 : 8;
            check(written.size() - at >= 2 + n, "Beast wrote a cut frame header");
            len = 0;
            for (std::size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<unsigned char>(written[at + 2 + i]);
            header += n;
        }
        check(written.size() - at >= header + 4 + len, "Beast wrote a cut frame");
        const auto* key = reinterpret_cast<const unsigned char*>(written.data() + at + header);
        const auto* payload = key + 4;
        if ((b0 & 0x0F) == 0x8 && len >= 2)
            code = static_cast<std::uint16_t>(((payload[0] ^ key[0]) << 8) | (payload[1] ^ key[1]));
        at += header + 4 + len;
    }
    return code;
}

outcome run_beast(bytes_view input, std::size_t max, std::size_t read_size)
{
    static asio::io_context ioc;
    websocket::stream<beast::test::stream> ws(ioc);
    beast::test::stream server(ioc);
    ws.next_layer().connect(server);
    ws.auto_fragment(false);
    ws.read_message_max(max);
    ws.secure_prng(false);

    // The opening handshake, by hand: let Beast write its request, answer it with a valid 101.
    bool shaken = false;
    beast::error_code handshake_error;
    ws.async_handshake("localhost", "/", [&](beast::error_code ec) {
        shaken = true;
        handshake_error = ec;
    });
    ioc.restart();
    ioc.poll();
    const std::string request = server.str();
    server.clear();
    const std::string_view field = "Sec-WebSocket-Key: ";
    const auto at = request.find(field);
    check(at != std::string::npos, "Beast's upgrade request has no Sec-WebSocket-Key");
    const auto key = std::string_view(request).substr(at + field.size(), request.find("\r\n", at) - at - field.size());
    // Written from the server's end, which wakes Beast's pending read (append() would not).
    const std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Accept: " +
                                 tether::wire::accept_for(key) + "\r\n\r\n";
    asio::write(server, asio::buffer(response));
    for (int i = 0; i < 100 && !shaken; ++i) {
        ioc.restart();
        ioc.poll();
    }
    check(shaken && !handshake_error, "Beast's handshake did not complete");

    // The server's bytes, then EOF (close_remote: Beast can still write its pongs and close).
    if (read_size) ws.next_layer().read_size(read_size);
    ws.next_layer().append(std::string_view(reinterpret_cast<const char*>(input.data()), input.size()));
    ws.next_layer().close_remote();

    outcome out;
    for (;;) {
        // read(), in steps of at most 64 KiB (Beast quirk B).
        beast::flat_buffer buffer;
        beast::error_code ec;
        do ws.read_some(buffer, 64 * 1024, ec);
        while (!ec && !ws.is_message_done());
        if (!ec) {
            out.messages.push_back(
                {ws.got_text() ? message_kind::text : message_kind::binary, beast::buffers_to_string(buffer.data())});
            continue;
        }
        if (ec == asio::error::eof) {
            out.how = ending::eof;
        } else if (ec == websocket::error::closed) {
            out.how = ending::close;
            out.code = ws.reason().code == websocket::close_code::none ? 1005 : ws.reason().code;
            out.reason.assign(ws.reason().reason.data(), ws.reason().reason.size());
        } else {
            out.how = ending::failed;
            out.code = beast_failure_code(ec);
            check(last_close_code(server.str()) == out.code,
                  "Beast's close frame does not carry the code the target maps its error to");
        }
        return out;
    }
}

// --- tether's side -------------------------------------------------------------------------------

outcome to_outcome(const checked_decoder& d)
{
    outcome out;
    for (const auto& item : d.items()) {
        if (item.event == frame_event::data) out.messages.push_back({item.kind, item.payload});
        if (item.event == frame_event::close) {
            out.how = ending::close;
            out.code = item.close_code;
            out.reason = item.payload;
        }
        if (item.event == frame_event::failed) {
            out.how = ending::failed;
            out.code = item.close_code;
        }
    }
    return out;
}

// Prints `o` (TETHER_FUZZ_VERBOSE=1: to see both sides of a reproduced input).
void describe(const char* who, const outcome& o)
{
    std::fprintf(stderr, "%s: %zu messages;", who, o.messages.size());
    for (const auto& m : o.messages)
        std::fprintf(stderr, " %s(%zu)", m.kind == message_kind::text ? "text" : "binary", m.payload.size());
    const char* how = o.how == ending::eof ? "end of input" : o.how == ending::close ? "close" : "failed";
    std::fprintf(stderr, "; %s %u %s\n", how, unsigned(o.code), o.reason.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 2) return 0;
    const std::uint8_t flags = data[0];
    tether::wire::decoder_options o;
    switch (flags & 3) {
    case 0: o.max_message_size = 1 + std::size_t(data[1]); break;
    case 1: o.max_message_size = 65535 + std::size_t(data[1]); break;
    case 2: o.max_message_size = 16 * 1024 * 1024; break;
    default: o.max_message_size = std::numeric_limits<std::size_t>::max(); break;
    }
    constexpr std::size_t read_sizes[] = {0, 1, 2, 3, 5, 8, 13, 64};
    const std::size_t read_size = read_sizes[(flags >> 2) & 7];
    const bytes_view input(data + 2, size - 2);

    checked_decoder decoder(o);
    decoder.feed(input);
    const outcome t = to_outcome(decoder);
    const std::size_t start = decoder.frame_start();  // of the failing frame, after a failure
    const auto at = [&](std::size_t i) { return start + i < input.size() ? input[start + i] : -1; };

    // Beast quirk A: a text message ending in an empty frame is not UTF-8-checked at its end.
    if (t.how == ending::failed && t.code == 1007 && (at(0) & 0x80) && (at(1) & 0x7F) == 0) return 0;

    outcome b = run_beast(input, o.max_message_size, read_size);

    if (t.how == ending::failed && decoder.failed_at_header()) {
        // The header as Beast reads it: 2 bytes, the extended length, the masking key.
        const int b1 = at(1) < 0 ? 0x00 : at(1);
        const std::size_t len7 = b1 & 0x7F;
        const std::size_t beast_header = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
        const bool cut = input.size() - start < beast_header;
        if (cut && b.how == ending::eof) {
            // Known difference 1: the input ends inside a header tether already refused. Complete
            // the header with bytes tether never looked at; Beast must then refuse it too.
            std::vector<unsigned char> completed(input.begin(), input.end());
            if (at(1) < 0) completed.push_back(0x00);
            while (completed.size() - start < beast_header) completed.push_back(0xFF);
            b = run_beast(completed, o.max_message_size, read_size);
            check(b.how == ending::failed, "tether refused a cut header that Beast accepts once completed");
        } else if (!cut && len7 == 127 && (at(2) & 0x80) && t.code == 1009 &&
                   !(b.how == ending::failed && b.code == 1009)) {
            // Known difference 3: a length with the top bit set. Unless the message would exceed
            // read_message_max by Beast's own sum, Beast takes the header and reads on into a
            // payload that cannot be complete: it ends at the end of the input, or with 1007 on
            // bad UTF-8 in the payload of a text message.
            std::uint64_t len = 0;
            for (std::size_t i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned>(at(i));
            const bool continuation = (at(0) & 0x0F) == 0;
            const std::uint64_t so_far = continuation ? decoder.message_size_before_failure() : 0;
            const bool beast_refuses = len > o.max_message_size || so_far > o.max_message_size - len;
            check(!beast_refuses, "Beast should have refused this length too");
            check(b.how == ending::eof || (b.how == ending::failed && b.code == 1007),
                  "Beast took a length with the top bit and then failed for another reason than UTF-8");
            b.how = ending::failed;
            b.code = 1009;
        }
    }

    if (std::getenv("TETHER_FUZZ_VERBOSE")) {
        describe("tether", t);
        describe("Beast ", b);
    }
    check(t.messages == b.messages, "tether and Beast delivered different messages");
    check(t.how == b.how, "tether and Beast ended differently (close / failure / end of input)");
    if (t.how == ending::failed) check(t.code == b.code, "tether and Beast failed with different close codes");
    if (t.how == ending::close) {
        check(t.code == b.code, "tether and Beast read different close codes");
        check(t.reason == b.reason, "tether and Beast read different close reasons");
    }
    return 0;
}
