// tether: error codes, their category, and what recovery each one means.
#ifndef TETHER_ERROR_HPP
#define TETHER_ERROR_HPP

#include <tether/export.hpp>

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace tether {

using boost::system::error_code;

/// Runtime failures that tether reports itself. Failures of the layers below (resolver, TCP, TLS,
/// Beast) keep their own categories; `is_permanent` classifies both.
enum class error {
    // How a connection ended (see `disconnect`).
    unauthorized = 1,   ///< close 4003, or HTTP 401/403 on the upgrade: retrying cannot help.
    session_not_found,  ///< close 4001, or HTTP 404 on the upgrade: may be transient (compaction).
    upgrade_rejected,   ///< the server answered the upgrade with another HTTP status.
    closed_by_peer,     ///< the server sent a close frame with any other code.
    heartbeat_timeout,  ///< no frame arrived within the pong timeout after a ping.
    message_too_big,    ///< an inbound message exceeded `max_message_size` (closed with 1009).
    connect_timeout,    ///< resolve, TCP connect or TLS handshake exceeded `connect_timeout`.
    handshake_timeout,  ///< the WebSocket upgrade exceeded `handshake_timeout`.
    token_failed,       ///< the token provider threw or returned an unusable token.
    // How an operation ended.
    client_closed,         ///< the client was closed (or destroyed); the operation cannot complete.
    send_queue_full,       ///< `send_queue_capacity` messages are already waiting.
    connection_lost,       ///< the link died while this message was being written; it may be lost.
    reconnect_gave_up,     ///< the policy stopped on a disconnect that carried no error of its own.
    request_timeout,       ///< no matching response arrived within the request's timeout.
    retained_buffer_full,  ///< acknowledged sends: the buffer of unacknowledged messages is full (`when_full::fail`).
    unidentified_message,  ///< acknowledged sends, per message: the message carries no id to be acknowledged by.
    // Why the server's certificate was refused (wss://); all permanent.
    tls_untrusted,      ///< its issuer is unknown: self-signed, or a CA not in the trust store.
    tls_host_mismatch,  ///< it is valid, but for another host name or address.
    tls_expired,        ///< it has expired, or is not valid yet.
    tls_invalid,        ///< another verification failure (revoked, bad signature, wrong purpose...).
    // The HTTP proxy.
    proxy_auth_required,  ///< the proxy answered CONNECT with 407 (or 401): credentials missing or wrong.
    proxy_failed,         ///< the proxy refused CONNECT with another status or did not speak HTTP.
    // The JSON layer (reported to `on_error`; the link stays up).
    binary_message_skipped,  ///< a binary message that is not a JSON object with a string "type".
};

/// How a server broke the WebSocket protocol (RFC 6455, RFC 7692): the error of a `disconnect` of
/// kind `protocol`. The client failed the connection, closing with 1002 (1007 for `invalid_utf8`
/// and `bad_compression`). All transient: another connection may meet a better-behaved server.
/// They compare equal to Beast's `websocket::condition::protocol_violation`.
enum class protocol_error {
    reserved_bits = 1,        ///< a reserved bit set without an extension that defines it
    reserved_opcode,          ///< an opcode RFC 6455 reserves
    masked_frame,             ///< a masked frame from the server
    fragmented_control,       ///< a control frame without FIN
    control_too_big,          ///< a control frame with more than 125 bytes of payload
    unexpected_continuation,  ///< a continuation frame with no message started
    expected_continuation,    ///< a new data frame while a fragmented message is open
    non_canonical_length,     ///< a payload length not in its shortest form
    bad_close_payload,        ///< a close frame of one byte, or with a reason that is not UTF-8
    bad_close_code,           ///< a close code no endpoint may send
    invalid_utf8,             ///< a text message that is not UTF-8
    bad_compression,          ///< a compressed message that does not inflate
    bad_upgrade,              ///< a 101 without `Upgrade: websocket` or `Connection: upgrade`, or not HTTP/1.1
    bad_accept,               ///< a 101 whose Sec-WebSocket-Accept does not match the key
    bad_subprotocol,          ///< a subprotocol that was not offered
    bad_extension,            ///< an extension or parameter that was not offered
};

/// Error conditions that say what recovery means, independent of the category.
enum class condition {
    transient = 1,  ///< retrying later may succeed (network failures, timeouts, server restarts).
    permanent,      ///< retrying will not help without a change (credentials, configuration).
};

/// The category of `tether::error`. Its name is "tether".
TETHER_API const boost::system::error_category& error_category() noexcept;

/// The category of `tether::condition`.
TETHER_API const boost::system::error_category& condition_category() noexcept;

/// The category of `tether::protocol_error`. Its name is "tether.protocol".
TETHER_API const boost::system::error_category& protocol_category() noexcept;

inline error_code make_error_code(protocol_error e) noexcept
{
    return {static_cast<int>(e), protocol_category()};
}

inline error_code make_error_code(error e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

inline boost::system::error_condition make_error_condition(condition c) noexcept
{
    return {static_cast<int>(c), condition_category()};
}

/// True when retrying cannot succeed without a change by the user: close 4003, HTTP 401/403,
/// invalid URLs, unverifiable certificates. Everything else that reports a failure is transient.
TETHER_API bool is_permanent(const error_code& ec) noexcept;

}  // namespace tether

namespace boost::system {
template <>
struct is_error_code_enum<tether::error> : std::true_type {
};
template <>
struct is_error_code_enum<tether::protocol_error> : std::true_type {
};
template <>
struct is_error_condition_enum<tether::condition> : std::true_type {
};
}  // namespace boost::system

#endif
