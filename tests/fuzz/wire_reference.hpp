// The shared part of the fuzz targets that drive tether's WebSocket codec (lib/wire/) directly, with
// no sockets: plain reference implementations to compare it with, and a checked driver of the
// frame decoder that feeds it a byte stream in chunks and writes down what it decoded.
#ifndef TETHER_TESTS_FUZZ_WIRE_REFERENCE_HPP
#define TETHER_TESTS_FUZZ_WIRE_REFERENCE_HPP

#include "wire/decoder.hpp"
#include "wire/deflate.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tether::fuzz {

using bytes_view = std::span<const unsigned char>;

/// Aborts with `what` when `ok` is false (a crash for libFuzzer).
inline void check(bool ok, const char* what)
{
    if (ok) return;
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
}

inline bytes_view as_bytes(std::string_view s)
{
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// --- UTF-8, by its definition (RFC 3629 3, Unicode 3.9) -------------------------------------------
// Written from the definition, not from the library's state table: a lead byte says how long the
// sequence is and gives the top bits of the code point; the code points that the bytes seen so far
// can still complete to are an interval, which must meet [the shortest form's lowest code point,
// U+10FFFF] outside the surrogates.

/// How long a sequence starting with `lead` is; 0 when `lead` cannot start one.
inline std::size_t utf8_sequence_length(unsigned char lead)
{
    if (lead < 0x80) return 1;
    if (lead >= 0xC0 && lead < 0xE0) return 2;
    if (lead >= 0xE0 && lead < 0xF0) return 3;
    if (lead >= 0xF0 && lead < 0xF8) return 4;
    return 0;
}

/// Whether the first `have` bytes of a `len`-byte sequence at `p` can be completed to a valid one.
inline bool utf8_completable(const unsigned char* p, std::size_t have, std::size_t len)
{
    if (len == 1) return true;
    const unsigned char lead_bits[] = {0, 0, 0x1F, 0x0F, 0x07};
    std::uint32_t lo = p[0] & lead_bits[len], hi = lo;
    for (std::size_t j = 1; j < len; ++j) {
        if (j < have) {
            if ((p[j] & 0xC0) != 0x80) return false;
            lo = (lo << 6) | (p[j] & 0x3Fu);
            hi = (hi << 6) | (p[j] & 0x3Fu);
        } else {
            lo <<= 6;
            hi = (hi << 6) | 0x3Fu;
        }
    }
    const std::uint32_t lowest[] = {0, 0, 0x80, 0x800, 0x10000};
    const std::uint32_t a = std::max(lo, lowest[len]), b = std::min<std::uint32_t>(hi, 0x10FFFF);
    return a <= b && !(a >= 0xD800 && b <= 0xDFFF);
}

/// UTF-8 facts about `s`: the length of its shortest prefix that nothing can make valid (none:
/// `s.size() + 1`), and, when `boundaries` is given, for each k <= s.size() whether the first k
/// bytes end on a character boundary.
inline std::size_t utf8_first_bad(bytes_view s, std::vector<bool>* boundaries = nullptr)
{
    if (boundaries) boundaries->assign(s.size() + 1, false);
    std::size_t i = 0;
    while (i < s.size()) {
        if (boundaries) (*boundaries)[i] = true;
        const std::size_t len = utf8_sequence_length(s[i]);
        if (len == 0) return i + 1;
        for (std::size_t have = 1; have <= len; ++have) {
            if (i + have > s.size()) return s.size() + 1;  // cut short, and completable so far
            if (!utf8_completable(s.data() + i, have, len)) return i + have;
        }
        i += len;
    }
    if (boundaries) (*boundaries)[s.size()] = true;
    return s.size() + 1;
}

/// True when `s` is one whole, valid UTF-8 text.
inline bool utf8_valid(bytes_view s)
{
    std::vector<bool> boundaries;
    return utf8_first_bad(s, &boundaries) > s.size() && boundaries[s.size()];
}

/// The close codes a peer may send (RFC 6455 7.4.1 and 7.4.2, and the IANA registry as of RFC
/// 6455: 1000-1003 and 1007-1013 defined for use, 1004-1006 and 1014-2999 reserved, 3000-4999
/// registered or private; Beast, and so tether, accept everything from 3000 up).
inline bool close_code_allowed(std::uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013) || code >= 3000;
}

// --- the decoder, fed in chunks and checked on every event ---------------------------------------

/// The most bytes deflate can make of `n` (zlib's deflateBound: stored blocks add 5 bytes per
/// 16 KiB, and a little more), saturating instead of wrapping.
inline std::uint64_t deflate_bound(std::uint64_t n)
{
    const std::uint64_t extra = (n >> 12) + (n >> 14) + (n >> 25) + 13;
    return n > UINT64_MAX - extra ? UINT64_MAX : n + extra;
}

/// One entry of what the decoder made of a byte stream, with data events merged per message (how
/// a message was cut into events depends on how its bytes arrived; the message may not).
struct decoded_item {
    wire::frame_event event = wire::frame_event::need_more;  ///< data: a whole message
    message_kind kind = message_kind::text;                  ///< data
    bool compressed = false;                                 ///< data
    std::string payload;           ///< data: the message; ping, pong: the payload; close: the reason
    std::uint16_t close_code = 0;  ///< close, failed
    error_code error;              ///< failed
    std::string inflated;          ///< data, compressed: the message inflated (see `inflate`)
    bool inflate_failed = false;   ///< data, compressed: inflating it failed

    bool operator==(const decoded_item&) const = default;
};

/// A decoder and the bytes it has not consumed yet. `feed` appends bytes and decodes every event
/// they complete, checking each against the rules below; `items` is the transcript.
class checked_decoder {
public:
    /// With `inflate`, compressed messages also go through a `deflate_codec` with those
    /// parameters, as the link does, limited to `inflate_limit` inflated bytes (the link passes
    /// max_message_size).
    explicit checked_decoder(wire::decoder_options options, std::optional<wire::deflate_params> inflate = {},
                             std::size_t inflate_limit = 0)
        : options_(options), decoder_(options), inflate_limit_(inflate_limit ? inflate_limit : options.max_message_size)
    {
        if (inflate) codec_.emplace(*inflate);
    }

    void feed(bytes_view chunk)
    {
        pending_.insert(pending_.end(), chunk.begin(), chunk.end());
        while (step()) {
        }
    }

    /// The transcript so far.
    const std::vector<decoded_item>& items() const noexcept { return items_; }
    /// True once a close or a failure was decoded.
    bool ended() const noexcept { return ended_; }
    /// The message still open at the end of the input: its kind and the bytes returned so far.
    std::optional<decoded_item> open_message() const
    {
        if (!in_message_) return std::nullopt;
        decoded_item m;
        m.kind = kind_;
        m.compressed = compressed_;
        m.payload = message_;
        return m;
    }
    /// Bytes consumed in all.
    std::size_t consumed() const noexcept { return offset_; }
    /// Where the frame of the last event started (the failing one, after a failure), and whether
    /// the failure came at the header (nothing of it consumed).
    std::size_t frame_start() const noexcept { return frame_start_; }
    bool failed_at_header() const noexcept { return failed_at_header_; }
    /// The message size the decoder counted before the failing frame (for continuations).
    std::uint64_t message_size_before_failure() const noexcept { return size_before_failure_; }

private:
    // Decodes one event from the pending bytes; false when it asked for more (or all is ignored).
    bool step()
    {
        using wire::frame_event;
        const bytes_view in(pending_);
        const bool at_header = decoder_.payload_remaining() == 0;
        const std::uint64_t size_before = decoder_.message_size_announced();
        const wire::decoded d = decoder_.next(in);
        check(d.consumed <= in.size(), "the decoder consumed more than its input");
        if (ended_) {
            // After a close or a failure, everything is consumed and ignored.
            check(d.event == frame_event::need_more && d.consumed == in.size(),
                  "bytes after a close or a failure were not consumed and ignored");
            check(decoder_.finished(), "the decoder forgot that it finished");
            drop(d.consumed);
            return false;
        }
        if (at_header) frame_start_ = offset_;
        // Every payload ends where the event's bytes end: it lies within the input, right after
        // its header (a close frame's reason after its code).
        const bool has_payload = d.event == frame_event::data || !d.payload.empty();
        if (has_payload)
            check(d.payload.data() >= in.data() && d.payload.data() + d.payload.size() == in.data() + d.consumed,
                  "an event's payload is not the input's bytes right before `consumed`");
        switch (d.event) {
        case frame_event::need_more: {
            drop(d.consumed);
            // Asking for more means that the rest cannot make an event: asked again, the decoder
            // must neither consume nor report anything.
            const wire::decoded again = decoder_.next(bytes_view(pending_));
            check(again.event == frame_event::need_more && again.consumed == 0,
                  "need_more, but the decoder made progress on the same bytes");
            return false;
        }
        case frame_event::data: on_data(d); break;
        case frame_event::ping:
        case frame_event::pong:
            check(d.consumed > 0, "a control frame consumed nothing");
            check(d.payload.size() <= wire::max_control_payload, "a control frame's payload is over 125 bytes");
            items_.push_back({.event = d.event, .payload = std::string(d.payload.begin(), d.payload.end())});
            break;
        case frame_event::close:
            check(d.consumed > 0, "a close frame consumed nothing");
            check(d.close_code == 1005 ? d.payload.empty() : close_code_allowed(d.close_code),
                  "a close frame with a code no peer may send was accepted");
            check(utf8_valid(d.payload), "a close frame whose reason is not UTF-8 was accepted");
            items_.push_back({.event = d.event,
                              .payload = std::string(d.payload.begin(), d.payload.end()),
                              .close_code = d.close_code});
            end();
            break;
        case frame_event::failed:
            check(d.error == error::message_too_big         ? d.close_code == 1009
                  : d.error == protocol_error::invalid_utf8 ? d.close_code == 1007
                                                            : d.close_code == 1002,
                  "a failure's close code does not match its error");
            check(d.error.category() == protocol_category() || d.error == error::message_too_big,
                  "a failure with an error that is no protocol error");
            failed_at_header_ = at_header && d.consumed == 0;
            size_before_failure_ = size_before;
            items_.push_back({.event = d.event, .close_code = d.close_code, .error = d.error});
            end();
            break;
        }
        drop(d.consumed);
        return true;
    }

    void on_data(const wire::decoded& d)
    {
        check(d.consumed > 0, "a data event consumed nothing");
        if (d.message_begins) {
            check(!in_message_, "a message began inside another");
            in_message_ = true;
            kind_ = d.kind;
            compressed_ = d.compressed;
            message_.clear();
            inflated_.clear();
            inflate_error_ = {};
        } else {
            check(in_message_, "data outside a message");
            check(d.kind == kind_ && d.compressed == compressed_, "a message changed its kind or compression");
        }
        check(!d.compressed || options_.compression, "a compressed message without compression negotiated");
        message_.append(d.payload.begin(), d.payload.end());
        // In wire bytes: max_message_size, or for a compressed message at most what deflate can
        // expand a message of that size to (its inflated size is the inflater's to check).
        const std::uint64_t limit = compressed_ ? deflate_bound(options_.max_message_size) : options_.max_message_size;
        check(message_.size() <= limit, "a message grew past max_message_size");
        check(decoder_.message_size_announced() <= limit, "a frame header announced a message past max_message_size");
        check(decoder_.in_message() == !d.message_ends, "in_message() disagrees with message_ends");
        if (compressed_ && codec_ && !inflate_error_) {
            inflate_error_ = codec_->inflate(d.payload, d.message_ends, inflated_, inflate_limit_);
            check(inflated_.size() <= inflate_limit_ || inflate_error_,
                  "an inflated message grew past the limit without an error");
            check(!inflate_error_ || inflate_error_ == error::message_too_big ||
                      inflate_error_ == protocol_error::bad_compression,
                  "inflate failed with an unexpected error");
        }
        if (!d.message_ends) return;
        // Text that completes without a failure is UTF-8 (compressed text is checked after
        // inflating, by the link).
        if (kind_ == message_kind::text && !compressed_)
            check(utf8_valid(as_bytes(message_)), "a text message that is not UTF-8 was accepted");
        decoded_item m{.event = wire::frame_event::data, .kind = kind_, .compressed = compressed_, .payload = message_};
        if (compressed_ && codec_) {
            // When inflating fails, what it wrote before, and even which error it met first (too
            // big, or bad data), depends on where the input was cut: Beast's inflater, given more
            // input at once, can report bad data without writing the output that precedes it (62 01
            // 7E 7B: in one piece "invalid distance code" and nothing out; byte by byte one byte
            // out first, which a limit of 0 refuses). Only that it failed counts then.
            if (!inflate_error_) m.inflated = inflated_;
            m.inflate_failed = bool(inflate_error_);
            // The link fails the connection there; the inflater's state (mid-stream, at a point
            // that depends on the cut) is not used again.
            if (inflate_error_) codec_.reset();
        }
        items_.push_back(std::move(m));
        in_message_ = false;
    }

    void end()
    {
        ended_ = true;
        check(decoder_.finished(), "finished() is false after a close or a failure");
    }

    void drop(std::size_t n)
    {
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
        offset_ += n;
    }

    wire::decoder_options options_;
    wire::decoder decoder_;
    std::optional<wire::deflate_codec> codec_;
    std::size_t inflate_limit_;
    std::vector<unsigned char> pending_;
    std::vector<decoded_item> items_;
    std::size_t offset_ = 0;
    std::size_t frame_start_ = 0;
    bool failed_at_header_ = false;
    std::uint64_t size_before_failure_ = 0;
    bool ended_ = false;
    bool in_message_ = false;
    message_kind kind_ = message_kind::text;
    bool compressed_ = false;
    std::string message_;
    std::string inflated_;
    error_code inflate_error_;
};

}  // namespace tether::fuzz

#endif
