// Internal: permessage-deflate (RFC 7692): the offer, the server's answer, and the compression
// state of one connection, on Beast's port of zlib (no extra dependency, and the same inflater
// Beast used before tether framed messages itself).
#ifndef TETHER_LIB_WIRE_DEFLATE_HPP
#define TETHER_LIB_WIRE_DEFLATE_HPP

#include <tether/error.hpp>

#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/beast/zlib/inflate_stream.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tether::wire {

/// What tether offers: compression both ways, any window size the server wants for our side.
inline constexpr std::string_view deflate_offer = "permessage-deflate; client_max_window_bits";

/// The parameters the server accepted (RFC 7692 7.1).
struct deflate_params {
    bool server_no_context_takeover = false;  ///< the server resets its compressor after each message
    bool client_no_context_takeover = false;  ///< so must we
    int server_max_window_bits = 15;
    int client_max_window_bits = 15;  ///< our compressor's window may not exceed this
};

/// Reads the server's `Sec-WebSocket-Extensions` answer to `deflate_offer` (empty when it sent
/// none). No error and nothing in `accepted`: the server declined, messages go uncompressed. An
/// error (`protocol_error::bad_extension`): it named an extension or a parameter that was not
/// offered, repeated one, or gave a value out of range; the client must fail the connection.
error_code parse_deflate_answer(std::string_view header, std::optional<deflate_params>& accepted);

/// The compression state of one connection.
class deflate_codec {
public:
    explicit deflate_codec(const deflate_params& params);

    /// Inflates `in`, the next compressed bytes of a message, appending the output to `out`; at
    /// `message_end` the message's missing tail (00 00 FF FF) is added and the inflater flushed.
    /// Fails with `error::message_too_big` as soon as `out` would grow past `limit`, and with
    /// `protocol_error::bad_compression` on data that does not inflate.
    error_code inflate(std::span<const unsigned char> in, bool message_end, std::string& out, std::size_t limit);

    /// True when outbound messages are compressed. A server that limits our window to 8 bits gets
    /// them uncompressed: zlib cannot compress into a 256-byte window, and RFC 7692 lets a sender
    /// leave any message uncompressed.
    bool compresses() const noexcept { return compress_; }

    /// Compresses one whole message; the deflated bytes (without the 00 00 FF FF tail) are valid
    /// until the next call.
    std::span<const unsigned char> deflate(std::span<const unsigned char> in);

private:
    deflate_params params_;
    bool compress_ = true;
    bool stream_ended_ = false;  // the current message's compressed stream had its final block
    bool failed_ = false;        // the inflater met data that does not inflate
    std::string deflated_;
    boost::beast::zlib::inflate_stream inflater_;
    boost::beast::zlib::deflate_stream deflater_;
};

}  // namespace tether::wire

#endif
