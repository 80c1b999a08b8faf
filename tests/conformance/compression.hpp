// permessage-deflate (RFC 7692 7.2) for the conformance server, on Beast's port of zlib: the
// server's compressed messages, built when the table is, and the inflater that reads the client's
// compressed echoes back. Raw DEFLATE (no zlib header), as the extension uses it.
#ifndef TETHER_TESTS_CONFORMANCE_COMPRESSION_HPP
#define TETHER_TESTS_CONFORMANCE_COMPRESSION_HPP

#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/beast/zlib/error.hpp>
#include <boost/beast/zlib/inflate_stream.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace tether::conformance {

/// The server's compressor. Messages share one LZ77 window (each may refer back into the ones before
/// it) unless `no_context_takeover`, as RFC 7692 7.2.1 describes.
class deflater {
public:
    explicit deflater(int window_bits = 15, bool no_context_takeover = false)
        : window_bits_(window_bits), no_context_takeover_(no_context_takeover)
    {
        reset();
    }

    /// One message: its bytes, then a sync flush, without the 00 00 FF FF the flush ends with.
    std::string compress(std::string_view message)
    {
        std::string out = run(message, boost::beast::zlib::Flush::sync);
        if (out.size() >= 4 && out.compare(out.size() - 4, 4, std::string_view("\x00\x00\xFF\xFF", 4)) == 0)
            out.resize(out.size() - 4);
        if (out.empty()) out.push_back('\0');  // nothing new to flush: an empty stored block's first byte
        if (no_context_takeover_) reset();
        return out;
    }

    /// A part of a message that more parts follow, as a server compressing fragment by fragment
    /// sends it: sync flushed, its 00 00 FF FF kept (only a message's end drops them).
    std::string compress_part(std::string_view part) { return run(part, boost::beast::zlib::Flush::sync); }

    /// One message ended by a final block (BFINAL, RFC 7692 7.2.3.4) rather than a sync flush. The
    /// stream ends with it: the next message starts a new one, with an empty window.
    std::string compress_final(std::string_view message)
    {
        std::string out = run(message, boost::beast::zlib::Flush::finish);
        reset();
        return out;
    }

private:
    void reset() { stream_.reset(6, window_bits_, 8, boost::beast::zlib::Strategy::normal); }

    std::string run(std::string_view in, boost::beast::zlib::Flush flush)
    {
        namespace zlib = boost::beast::zlib;
        std::string out;
        zlib::z_params zs;
        zs.next_in = in.data();
        zs.avail_in = in.size();
        for (;;) {
            const std::size_t used = out.size();
            const std::size_t room = stream_.upper_bound(zs.avail_in) + 64;
            out.resize(used + room);
            zs.next_out = out.data() + used;
            zs.avail_out = room;
            boost::system::error_code ec;
            stream_.write(zs, flush, ec);
            out.resize(used + (room - zs.avail_out));
            if (ec == zlib::error::end_of_stream) break;
            // A flush is complete when it had room to spare.
            if (flush != zlib::Flush::finish && zs.avail_in == 0 && zs.avail_out != 0) break;
        }
        return out;
    }

    int window_bits_;
    bool no_context_takeover_;
    boost::beast::zlib::deflate_stream stream_;
};

/// The server's decompressor for the client's messages: each message's payload with the 00 00 FF FF
/// tail appended (RFC 7692 7.2.2), through one sliding window of 2^`window_bits` bytes (what the
/// client was allowed: a reference further back fails) unless `no_context_takeover`.
class inflater {
public:
    explicit inflater(int window_bits = 15, bool no_context_takeover = false)
        : window_bits_(window_bits), no_context_takeover_(no_context_takeover)
    {
        stream_.reset(window_bits_);
    }

    /// The message, or nothing when its payload does not inflate (or inflates past `limit`).
    std::optional<std::string> inflate(std::string_view payload, std::size_t limit = 64 * 1024 * 1024)
    {
        namespace zlib = boost::beast::zlib;
        std::string in(payload);
        in.append("\x00\x00\xFF\xFF", 4);
        std::string out;
        zlib::z_params zs;
        zs.next_in = in.data();
        zs.avail_in = in.size();
        for (;;) {
            const std::size_t used = out.size();
            const std::size_t room = std::max<std::size_t>(4 * in.size(), 4096);
            out.resize(used + room);
            zs.next_out = out.data() + used;
            zs.avail_out = room;
            const std::size_t before_in = zs.avail_in;
            boost::system::error_code ec;
            stream_.write(zs, zlib::Flush::sync, ec);
            out.resize(used + (room - zs.avail_out));
            if (ec == zlib::error::end_of_stream) {
                stream_.reset(window_bits_);  // a final block: the next message starts a new stream
                break;
            }
            if (ec && ec != zlib::error::need_buffers) return std::nullopt;
            if (out.size() > limit) return std::nullopt;
            if (zs.avail_in == 0 && zs.avail_out != 0) break;
            if (zs.avail_in == before_in && zs.avail_out == room) return std::nullopt;  // stuck: truncated
        }
        if (no_context_takeover_) stream_.reset(window_bits_);
        return out;
    }

private:
    int window_bits_;
    bool no_context_takeover_;
    boost::beast::zlib::inflate_stream stream_;
};

}  // namespace tether::conformance

#endif
