#include "deflate.hpp"

#include <boost/beast/zlib/error.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace tether::wire {
namespace {

namespace zlib = boost::beast::zlib;

constexpr unsigned char empty_block[4] = {0x00, 0x00, 0xFF, 0xFF};

std::string_view trim(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

// A window size parameter's value: "8" to "15", bare or quoted.
std::optional<int> window_bits(std::string_view v) noexcept
{
    v = trim(v);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty() || v.front() == '0') return std::nullopt;  // RFC 7692 7.1.2: no leading zeros
    int bits = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), bits);
    if (ec != std::errc{} || end != v.data() + v.size() || bits < 8 || bits > 15) return std::nullopt;
    return bits;
}

}  // namespace

error_code parse_deflate_answer(std::string_view header, std::optional<deflate_params>& accepted)
{
    accepted.reset();
    header = trim(header);
    if (header.empty()) return {};
    const error_code bad = protocol_error::bad_extension;
    if (header.find(',') != std::string_view::npos) return bad;  // one extension was offered

    deflate_params p;
    bool seen[4] = {};
    bool first = true;
    while (!header.empty()) {
        const auto semi = header.find(';');
        const std::string_view item = trim(header.substr(0, semi));
        header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
        if (first) {
            if (!iequals(item, "permessage-deflate")) return bad;
            first = false;
            continue;
        }
        const auto eq = item.find('=');
        const std::string_view name = trim(item.substr(0, eq));
        const std::optional<std::string_view> value =
            eq == std::string_view::npos ? std::nullopt : std::optional(item.substr(eq + 1));
        int which = -1;
        if (iequals(name, "server_no_context_takeover") && !value) {
            which = 0;
            p.server_no_context_takeover = true;
        } else if (iequals(name, "client_no_context_takeover") && !value) {
            which = 1;
            p.client_no_context_takeover = true;
        } else if (iequals(name, "server_max_window_bits") && value) {
            which = 2;
            const auto bits = window_bits(*value);
            if (!bits) return bad;
            p.server_max_window_bits = *bits;
        } else if (iequals(name, "client_max_window_bits") && value) {
            which = 3;
            const auto bits = window_bits(*value);
            if (!bits) return bad;
            p.client_max_window_bits = *bits;
        }
        if (which < 0 || seen[which]) return bad;
        seen[which] = true;
    }
    accepted = p;
    return {};
}

deflate_codec::deflate_codec(const deflate_params& params) : params_(params)
{
    // The inflater's window is always the largest: it must hold whatever the server refers back to.
    inflater_.reset(15);
    compress_ = params.client_max_window_bits > 8;
    if (compress_) deflater_.reset(8, params.client_max_window_bits, 4, zlib::Strategy::normal);
}

error_code deflate_codec::inflate(std::span<const unsigned char> in, bool message_end, std::string& out,
                                  std::size_t limit)
{
    // A failed inflater stays failed: Beast's makes no progress after an error.
    if (failed_) return protocol_error::bad_compression;
    // One byte past the limit shows that the message passed it (no limit: SIZE_MAX, not 0).
    const std::size_t cap = limit == std::numeric_limits<std::size_t>::max() ? limit : limit + 1;
    auto run = [&](const unsigned char* data, std::size_t size) -> error_code {
        zlib::z_params zs;
        zs.next_in = data;
        zs.avail_in = size;
        for (;;) {
            // Grow the output in steps, never past the limit plus one byte (to detect passing
            // it), and reserve exactly, so that a bomb cannot make the string double past it.
            const std::size_t used = out.size();
            const std::size_t room = std::min<std::size_t>(std::max<std::size_t>(used, 4096), cap - used);
            if (out.capacity() < used + room) {
                // std::string's own growth would double past the limit: a fresh one, sized exactly.
                std::string bigger;
                bigger.reserve(std::min(std::max(2 * out.capacity(), used + room), cap));
                bigger.append(out);
                out.swap(bigger);
            }
            out.resize(used + room);
            zs.next_out = out.data() + used;
            zs.avail_out = room;
            const std::size_t before_in = zs.avail_in;
            error_code ec;
            inflater_.write(zs, zlib::Flush::sync, ec);
            out.resize(used + (room - zs.avail_out));
            if (out.size() > limit) return error::message_too_big;
            if (ec == zlib::error::end_of_stream) {
                // A final block (RFC 7692 7.2.3.4): the rest of this message is padding, and the
                // next message starts a new stream.
                stream_ended_ = true;
                inflater_.reset();
                return {};
            }
            if (ec && ec != zlib::error::need_buffers) return protocol_error::bad_compression;
            // Done when the input is used up and the inflater had room to spare.
            if (zs.avail_in == 0 && zs.avail_out != 0) return {};
            if (zs.avail_in == before_in && zs.avail_out == room) return protocol_error::bad_compression;  // stuck
        }
    };
    error_code ec;
    if (!stream_ended_) ec = run(in.data(), in.size());
    if (!ec && message_end) {
        if (!stream_ended_) ec = run(empty_block, sizeof empty_block);
        stream_ended_ = false;
        if (!ec && params_.server_no_context_takeover) inflater_.reset();
    }
    failed_ = ec == protocol_error::bad_compression;
    return ec;
}

std::span<const unsigned char> deflate_codec::deflate(std::span<const unsigned char> in)
{
    deflated_.clear();
    zlib::z_params zs;
    zs.next_in = in.data();
    zs.avail_in = in.size();
    for (;;) {
        const std::size_t used = deflated_.size();
        const std::size_t room = std::max<std::size_t>(deflater_.upper_bound(zs.avail_in) + 16, 256);
        deflated_.resize(used + room);
        zs.next_out = deflated_.data() + used;
        zs.avail_out = room;
        error_code ec;
        deflater_.write(zs, zlib::Flush::sync, ec);
        deflated_.resize(used + (room - zs.avail_out));
        // A sync flush is complete when it had room to spare.
        if (zs.avail_in == 0 && zs.avail_out != 0) break;
    }
    // The flush ends with an empty stored block, 00 00 FF FF, which RFC 7692 7.2.1 drops. A flush
    // with nothing new emits nothing at all (an empty message after another): its compressed form
    // is then the single byte 00, which with the tail the receiver appends is an empty stored block.
    constexpr char tail[4] = {0x00, 0x00, char(0xFF), char(0xFF)};
    if (deflated_.size() >= 4 && deflated_.compare(deflated_.size() - 4, 4, tail, 4) == 0)
        deflated_.resize(deflated_.size() - 4);
    if (deflated_.empty()) deflated_.push_back('\0');
    if (params_.client_no_context_takeover) deflater_.reset();
    return {reinterpret_cast<const unsigned char*>(deflated_.data()), deflated_.size()};
}

}  // namespace tether::wire
