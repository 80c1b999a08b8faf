#include <tether/config.hpp>
#include <tether/url.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>

namespace tether {
namespace {

void require(bool ok, const std::string& field, const char* rule)
{
    if (!ok) throw std::invalid_argument(field + ": " + rule);
}

bool has_crlf(std::string_view s)
{
    return s.find_first_of("\r\n") != std::string_view::npos;
}

bool is_token_char(unsigned char c)
{
    // RFC 9110 tchar: header names are tokens.
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Fields the opening handshake sets itself: a second copy would break it.
bool is_handshake_field(std::string_view name)
{
    for (std::string_view reserved : {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                                      "Sec-WebSocket-Extensions", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol"})
        if (boost::beast::iequals(name, reserved)) return true;
    return false;
}

}  // namespace

void client_config::validate() const
{
    require(!url.empty(), "url", "must not be empty");
    const ws_url target = parse_ws_url(url, "url");

    for (std::size_t i = 0; i < headers.size(); ++i) {
        const std::string field = "headers[" + std::to_string(i) + "]";
        require(!headers[i].name.empty(), field + ".name", "must not be empty");
        for (unsigned char c : headers[i].name) require(is_token_char(c), field + ".name", "must be an HTTP token");
        require(!has_crlf(headers[i].value), field + ".value", "must not contain CR or LF");
        require(!is_handshake_field(headers[i].name), field + ".name", "is set by the WebSocket handshake itself");
    }
    require(!has_crlf(user_agent), "user_agent", "must not contain CR or LF");

    const bool sends_credentials =
        token_provider || async_token_provider || token_source ||
        std::any_of(headers.begin(), headers.end(), [](const header& h) {
            return boost::beast::iequals(h.name, "Authorization") || boost::beast::iequals(h.name, "Cookie");
        });
    if (sends_credentials && !target.secure && !is_loopback_host(target.host) && !allow_plaintext_token)
        throw std::invalid_argument("url: credentials would travel in plaintext over ws:// to '" + target.host +
                                    "'; use wss://, or set allow_plaintext_token to accept the risk");

    require(tls.certificate_file.empty() == tls.key_file.empty(),
            tls.certificate_file.empty() ? "tls.certificate_file" : "tls.key_file",
            "a client certificate needs both certificate_file and key_file");
    if (!proxy.url.empty()) parse_proxy_url(proxy.url, "proxy.url");

    using std::chrono::milliseconds;
    require(connect_timeout > milliseconds::zero(), "connect_timeout", "must be positive");
    require(handshake_timeout > milliseconds::zero(), "handshake_timeout", "must be positive");
    require(ping_interval >= milliseconds::zero(), "ping_interval", "must not be negative (zero turns it off)");
    require(ping_interval == milliseconds::zero() || pong_timeout > milliseconds::zero(), "pong_timeout",
            "must be positive when ping_interval is set");
    require(pong_timeout_floor >= milliseconds::zero(), "pong_timeout_floor",
            "must not be negative (zero: no adaptation)");
    require(suspend_pong_timeout > milliseconds::zero(), "suspend_pong_timeout", "must be positive");
    require(max_message_size > 0, "max_message_size", "must be positive");
    require(receive_buffer_capacity > 0, "receive_buffer_capacity", "must be positive");
    require(send_queue_capacity > 0, "send_queue_capacity", "must be positive");
    require(manual_reconnect_delay >= milliseconds::zero(), "manual_reconnect_delay", "must not be negative");
    require(close_timeout > milliseconds::zero(), "close_timeout", "must be positive");

    const acknowledged_sends& out = resume.sends;
    if (out.enabled) {
        // The stamp is written into JSON text as it is: a key that needs no escaping.
        require(
            out.stamp_field.find_first_of("\"\\") == std::string::npos &&
                std::none_of(out.stamp_field.begin(), out.stamp_field.end(), [](unsigned char c) { return c < 0x20; }),
            "resume.sends.stamp_field", "must not contain quotes, backslashes or control characters");
        require(out.stamp_field.size() <= 64, "resume.sends.stamp_field", "must be at most 64 characters long");
        require(out.style != ack_style::cumulative || !out.stamp_field.empty(), "resume.sends.stamp_field",
                "cumulative acknowledgements count stamped sequence numbers: it must not be empty");
        require(out.max_messages > 0, "resume.sends.max_messages", "must be positive");
        require(out.max_bytes > 0, "resume.sends.max_bytes", "must be positive");
    }
    const resumable_receives& in = resume.receives;
    if (in.enabled) {
        require(in.position_of || !in.position_field.empty(), "resume.receives.position_field",
                "must not be empty unless position_of is set");
        if (!in.resume_header.empty()) {
            for (unsigned char c : in.resume_header)
                require(is_token_char(c), "resume.receives.resume_header", "must be an HTTP token");
            require(!is_handshake_field(in.resume_header), "resume.receives.resume_header",
                    "is set by the WebSocket handshake itself");
        }
        require(!in.send_acks || in.ack_every > 0, "resume.receives.ack_every",
                "must be positive when send_acks is set");
        require(!in.send_acks || in.ack_delay > milliseconds::zero(), "resume.receives.ack_delay",
                "must be positive when send_acks is set");
    }
}

std::string_view to_string(token_reason r) noexcept
{
    switch (r) {
    case token_reason::first_connect: return "first_connect";
    case token_reason::reconnect: return "reconnect";
    case token_reason::refused: return "refused";
    }
    return "unknown";
}

}  // namespace tether
