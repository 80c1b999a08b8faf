// tether: why a connection ended, as a typed value the reconnect policy can decide on.
#ifndef TETHER_DISCONNECT_HPP
#define TETHER_DISCONNECT_HPP

#include <tether/export.hpp>

#include <tether/error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether {

/// The stage or event that ended a connection attempt or a live connection.
enum class disconnect_kind {
    resolve,            ///< the host name could not be resolved.
    connect,            ///< TCP connect failed (refused, unreachable, timed out).
    proxy,              ///< the HTTP proxy could not be reached or refused the tunnel.
    tls,                ///< the TLS handshake failed (`error` says why the certificate was refused).
    http_status,        ///< the server answered the upgrade with a non-101 status.
    close_frame,        ///< the server sent a WebSocket close frame.
    transport,          ///< an established link broke without a close frame (EOF, reset).
    heartbeat_timeout,  ///< no frame arrived within the pong timeout after a ping.
    message_too_big,    ///< an inbound message exceeded the configured limit.
    protocol,           ///< the peer violated the WebSocket protocol.
    token,              ///< the token provider failed.
    timeout,            ///< a connect or handshake deadline passed.
    user,               ///< the application closed the client or asked to reconnect.
};

/// How a reconnect policy should treat a disconnect; see `classify`.
enum class failure_class {
    transient,  ///< network trouble, restarts, timeouts: retry with the ordinary budget.
    not_found,  ///< close 4001 / HTTP 404: the session is briefly unknown, e.g. during compaction.
    throttled,  ///< HTTP 429 / 503: retry, honouring Retry-After.
    permanent,  ///< close 4003, HTTP 401/403, unverifiable peer: never retry.
    user,       ///< the application ended the connection: never retry.
};

inline constexpr std::size_t failure_class_count = 5;

/// Why a connection ended. Built by the client from what the stack reported; plain data so that
/// policies and tests can construct it freely.
struct disconnect {
    disconnect_kind kind = disconnect_kind::transport;
    /// The error that best describes it: a `tether::error` for close frames, HTTP statuses and
    /// timeouts; the underlying Asio/Beast/SSL error for network failures.
    error_code error;
    /// The HTTP status of a rejected upgrade (kind `http_status`) or CONNECT (kind `proxy`), else 0.
    unsigned http_status = 0;
    /// The server's Retry-After on a rejected upgrade (delta-seconds, or an HTTP-date as the wait
    /// until then), when it sent one.
    std::optional<std::chrono::milliseconds> retry_after;
    /// The close code of a close frame (kind `close_frame`), else 0.
    std::uint16_t close_code = 0;
    /// The close frame's reason, or a short human description of the failure.
    std::string reason;
};

/// A disconnect caused by a close frame from the server.
TETHER_API disconnect close_frame_disconnect(std::uint16_t code, std::string reason);

/// A disconnect caused by an upgrade answered with `status`; `retry_after` is the raw header value.
/// A status outside 100-599 is no HTTP status: a protocol failure (`protocol_error::bad_upgrade`).
TETHER_API disconnect http_status_disconnect(unsigned status, std::string_view retry_after = {});

/// A disconnect caused by a proxy answering CONNECT with `status` (407, or 401 as some proxies
/// answer wrong credentials: `proxy_auth_required`; else `proxy_failed`).
TETHER_API disconnect proxy_status_disconnect(unsigned status);

/// A TLS handshake that failed because the server's certificate did not verify; `verify_result`
/// is OpenSSL's `X509_V_ERR_*` value. The error says which check failed: `tls_untrusted`,
/// `tls_host_mismatch`, `tls_expired` or `tls_invalid`; the reason is OpenSSL's description.
TETHER_API disconnect tls_verify_disconnect(long verify_result);

/// A disconnect caused by a failure of the stack (`kind` says which stage).
TETHER_API disconnect error_disconnect(disconnect_kind kind, error_code ec);

/// The class a policy decides on: 4003/401/403 permanent, 4001/404 not_found, 429/503 throttled,
/// `user` for user, a proxy's 403/407 permanent, permanent errors (per `is_permanent`, e.g. a
/// refused certificate) permanent, everything else transient.
TETHER_API failure_class classify(const disconnect& d) noexcept;

/// True when the server refused the token: HTTP 401, or close 4003. (HTTP 403 refuses the
/// request, whatever the token: not this.)
TETHER_API bool is_token_refusal(const disconnect& d) noexcept;

/// Parses a Retry-After value (RFC 9110 10.2.3): delta-seconds ("120"), or an HTTP-date, as the
/// wait from `now` until then (zero when it has passed). Garbage yields nothing.
TETHER_API std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) noexcept;
/// The same, from the system clock's now.
TETHER_API std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) noexcept;

/// Parses an HTTP-date in any of the three forms a recipient must accept (RFC 9110 5.6.7):
/// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and
/// asctime ("Sun Nov  6 08:49:37 1994").
TETHER_API std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view value) noexcept;

/// A one-line description for logs and events, e.g. "close 4001 (session not found)".
TETHER_API std::string describe(const disconnect& d);

/// The name of a kind, e.g. "close_frame".
TETHER_API std::string_view to_string(disconnect_kind kind) noexcept;

/// The name of a class, e.g. "not_found".
TETHER_API std::string_view to_string(failure_class c) noexcept;

}  // namespace tether

#endif
