#include <tether/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

namespace tether {
namespace {

class tether_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "tether"; }

    std::string message(int ev) const override
    {
        switch (static_cast<error>(ev)) {
        case error::unauthorized: return "unauthorized (close 4003 or HTTP 401/403)";
        case error::session_not_found: return "session not found (close 4001 or HTTP 404)";
        case error::upgrade_rejected: return "the server rejected the WebSocket upgrade";
        case error::closed_by_peer: return "the server closed the connection";
        case error::heartbeat_timeout: return "no frame arrived within the pong timeout";
        case error::message_too_big: return "an inbound message exceeded max_message_size";
        case error::connect_timeout: return "connect timed out";
        case error::handshake_timeout: return "WebSocket handshake timed out";
        case error::token_failed: return "the token provider failed";
        case error::client_closed: return "the client is closed";
        case error::send_queue_full: return "the send queue is full";
        case error::connection_lost: return "the connection was lost while the message was in flight";
        case error::reconnect_gave_up: return "the reconnect policy gave up";
        case error::request_timeout: return "no matching response within the timeout";
        case error::retained_buffer_full: return "the buffer of unacknowledged messages is full";
        case error::unidentified_message: return "the message carries no id to be acknowledged by";
        case error::tls_untrusted: return "the server certificate is not trusted (unknown issuer)";
        case error::tls_host_mismatch: return "the server certificate does not match the host";
        case error::tls_expired: return "the server certificate has expired or is not yet valid";
        case error::tls_invalid: return "the server certificate failed verification";
        case error::proxy_auth_required: return "the proxy requires authentication (HTTP 407)";
        case error::proxy_failed: return "the proxy refused the tunnel";
        case error::binary_message_skipped:
            return "a binary message that is not a JSON object with a string \"type\" was skipped";
        }
        return "unknown tether error";
    }

    boost::system::error_condition default_error_condition(int ev) const noexcept override
    {
        return make_error_condition(is_permanent(error_code(ev, *this)) ? condition::permanent : condition::transient);
    }
};

class condition_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "tether.condition"; }

    std::string message(int ev) const override
    {
        switch (static_cast<condition>(ev)) {
        case condition::transient: return "transient: retrying later may succeed";
        case condition::permanent: return "permanent: retrying will not help";
        }
        return "unknown condition";
    }

    bool equivalent(const error_code& ec, int cv) const noexcept override
    {
        if (!ec) return false;
        return is_permanent(ec) == (static_cast<condition>(cv) == condition::permanent);
    }
};

class protocol_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "tether.protocol"; }

    std::string message(int ev) const override
    {
        switch (static_cast<protocol_error>(ev)) {
        case protocol_error::reserved_bits: return "a frame with reserved bits set";
        case protocol_error::reserved_opcode: return "a frame with a reserved opcode";
        case protocol_error::masked_frame: return "a masked frame from the server";
        case protocol_error::fragmented_control: return "a fragmented control frame";
        case protocol_error::control_too_big: return "a control frame over 125 bytes";
        case protocol_error::unexpected_continuation: return "a continuation frame with no message started";
        case protocol_error::expected_continuation: return "a new message while a fragmented one is open";
        case protocol_error::non_canonical_length: return "a frame length not in its shortest form";
        case protocol_error::bad_close_payload: return "a malformed close frame";
        case protocol_error::bad_close_code: return "a close frame with an invalid code";
        case protocol_error::invalid_utf8: return "a text message that is not valid UTF-8";
        case protocol_error::bad_compression: return "a compressed message that does not inflate";
        case protocol_error::bad_upgrade: return "the 101 response is not a WebSocket upgrade";
        case protocol_error::bad_accept: return "the 101 response has the wrong Sec-WebSocket-Accept";
        case protocol_error::bad_subprotocol: return "the server chose a subprotocol that was not offered";
        case protocol_error::bad_extension: return "the server chose an extension that was not offered";
        }
        return "unknown protocol error";
    }

    boost::system::error_condition default_error_condition(int) const noexcept override
    {
        return make_error_condition(condition::transient);
    }

    // Code that checked Beast's condition before tether framed messages itself still works.
    bool equivalent(int code, const boost::system::error_condition& cond) const noexcept override
    {
        return default_error_condition(code) == cond || cond == boost::beast::websocket::condition::protocol_violation;
    }
};

}  // namespace

const boost::system::error_category& protocol_category() noexcept
{
    static const protocol_category_impl c;
    return c;
}

const boost::system::error_category& error_category() noexcept
{
    static const tether_category c;
    return c;
}

const boost::system::error_category& condition_category() noexcept
{
    static const condition_category_impl c;
    return c;
}

bool is_permanent(const error_code& ec) noexcept
{
    if (!ec) return false;
    if (ec.category() == error_category()) {
        switch (static_cast<error>(ec.value())) {
        case error::unauthorized:
        case error::tls_untrusted:
        case error::tls_host_mismatch:
        case error::tls_expired:
        case error::tls_invalid:
        case error::proxy_auth_required:
        case error::client_closed:
        case error::reconnect_gave_up: return true;
        default: return false;
        }
    }
    // A peer whose certificate cannot be verified will not become trustworthy by retrying.
    if (ec.category() == boost::asio::error::get_ssl_category()) {
        return ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
    }
    return ec == boost::asio::error::host_not_found || ec == boost::asio::error::invalid_argument;
}

}  // namespace tether
