// tether: error codes, their category, and what recovery each one means.
#ifndef TETHER_ERROR_HPP
#define TETHER_ERROR_HPP

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
    client_closed,      ///< the client was closed (or destroyed); the operation cannot complete.
    send_queue_full,    ///< `send_queue_capacity` messages are already waiting.
    connection_lost,    ///< the link died while this message was being written; it may be lost.
    reconnect_gave_up,  ///< the policy stopped on a disconnect that carried no error of its own.
    request_timeout,    ///< no matching response arrived within the request's timeout.
    // Why the server's certificate was refused (wss://); all permanent.
    tls_untrusted,      ///< its issuer is unknown: self-signed, or a CA not in the trust store.
    tls_host_mismatch,  ///< it is valid, but for another host name or address.
    tls_expired,        ///< it has expired, or is not valid yet.
    tls_invalid,        ///< another verification failure (revoked, bad signature, wrong purpose...).
    // The HTTP proxy.
    proxy_auth_required,  ///< the proxy answered CONNECT with 407 (or 401): credentials missing or wrong.
    proxy_failed,         ///< the proxy refused CONNECT with another status or did not speak HTTP.
};

/// Error conditions that say what recovery means, independent of the category.
enum class condition {
    transient = 1,  ///< retrying later may succeed (network failures, timeouts, server restarts).
    permanent,      ///< retrying will not help without a change (credentials, configuration).
};

/// The category of `tether::error`. Its name is "tether".
const boost::system::error_category& error_category() noexcept;

/// The category of `tether::condition`.
const boost::system::error_category& condition_category() noexcept;

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
bool is_permanent(const error_code& ec) noexcept;

}  // namespace tether

namespace boost::system {
template <>
struct is_error_code_enum<tether::error> : std::true_type {
};
template <>
struct is_error_condition_enum<tether::condition> : std::true_type {
};
}  // namespace boost::system

#endif
