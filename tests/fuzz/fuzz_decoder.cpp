// Fuzz target: the frame decoder (lib/wire/decoder.hpp), driven directly, without sockets. The
// input's first four bytes pick the options and a split point; the rest is the server's byte
// stream after the upgrade, decoded three ways: whole, in two pieces cut at the split point, and
// one byte at a time. On every event (checked_decoder in wire_reference.hpp):
//   - `consumed` never exceeds the input; an event other than a failure consumes something, and
//     need_more means that asked again on the same bytes the decoder does nothing;
//   - payloads are the input's bytes right before `consumed` (so within the input);
//   - a message's bytes never exceed max_message_size, nor does what its headers announce;
//   - a text message that completes without a failure is UTF-8 (by a reference check written
//     from the definition, not the library's validator); close frames carry an allowed code and
//     a UTF-8 reason; a failure's close code matches its error;
//   - after a close or a failure, everything is consumed and ignored (more bytes too).
// And the three ways give the same transcript: the same messages (kinds, compression, bytes
// merged per message), pings, pongs, close code and reason, failure code and error, and the
// same open message at the end (unless it failed: where a frame fails depends on what arrived).
// With compression on, compressed messages are also inflated as the link does (deflate_codec,
// limited to max_message_size): the same inflated bytes every way, or a failure every way.
//
// Input layout:
//   byte 0  bit 0: permessage-deflate negotiated (RSV1 allowed on a message's first frame)
//           bits 1-2: max_message_size: 0 = byte 1 (0 to 255), 1 = 65535 + byte 1 (around the
//                     16-bit length form), 2 = 16 MiB (the default), 3 = SIZE_MAX
//           bit 3: server_no_context_takeover for the inflater
//   byte 1  see above
//   bytes 2-3  the split point (big-endian), modulo the stream's length + 1
#include "wire_reference.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>

namespace {

using namespace tether::fuzz;
using tether::wire::decoder_options;

struct run {
    std::vector<decoded_item> items;
    std::optional<decoded_item> open;
    bool ended = false;
};

run decode(const decoder_options& o, const std::optional<tether::wire::deflate_params>& inflate, bytes_view stream,
           std::size_t piece)
{
    checked_decoder d(o, inflate, o.max_message_size);  // as the link passes it
    for (std::size_t at = 0; at < stream.size(); at += piece)
        d.feed(stream.subspan(at, std::min(piece, stream.size() - at)));
    if (stream.empty()) d.feed({});
    const bool failed = !d.items().empty() && d.items().back().event == tether::wire::frame_event::failed;
    return {d.items(), failed ? std::nullopt : d.open_message(), d.ended()};
}

run decode_split(const decoder_options& o, const std::optional<tether::wire::deflate_params>& inflate,
                 bytes_view stream, std::size_t split)
{
    checked_decoder d(o, inflate, o.max_message_size);  // as the link passes it
    d.feed(stream.first(split));
    d.feed(stream.subspan(split));
    const bool failed = !d.items().empty() && d.items().back().event == tether::wire::frame_event::failed;
    return {d.items(), failed ? std::nullopt : d.open_message(), d.ended()};
}

void same(const run& a, const run& b, const char* what)
{
    check(a.items == b.items, what);
    check(a.open == b.open, what);
    check(a.ended == b.ended, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 4) return 0;
    const std::uint8_t flags = data[0];
    decoder_options o;
    o.compression = (flags & 1) != 0;
    switch ((flags >> 1) & 3) {
    case 0: o.max_message_size = data[1]; break;
    case 1: o.max_message_size = 65535 + std::size_t(data[1]); break;
    case 2: o.max_message_size = 16 * 1024 * 1024; break;
    default: o.max_message_size = std::numeric_limits<std::size_t>::max(); break;
    }
    std::optional<tether::wire::deflate_params> inflate;
    if (o.compression) inflate = tether::wire::deflate_params{.server_no_context_takeover = (flags & 8) != 0};
    const bytes_view stream(data + 4, size - 4);
    const std::size_t split = ((std::size_t(data[2]) << 8) | data[3]) % (stream.size() + 1);

    const run whole = decode(o, inflate, stream, std::max<std::size_t>(stream.size(), 1));
    const run halves = decode_split(o, inflate, stream, split);
    const run bytewise = decode(o, inflate, stream, 1);
    same(whole, halves, "decoding whole and in two pieces gave different events");
    same(whole, bytewise, "decoding whole and one byte at a time gave different events");
    return 0;
}
