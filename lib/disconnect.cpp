#include <tether/disconnect.hpp>

#include <openssl/x509_vfy.h>

#include <charconv>

namespace tether {

disconnect close_frame_disconnect(std::uint16_t code, std::string reason)
{
    error e = error::closed_by_peer;
    if (code == 4003) e = error::unauthorized;
    if (code == 4001) e = error::session_not_found;
    if (code == 1009) e = error::message_too_big;
    return {.kind = disconnect_kind::close_frame, .error = e, .close_code = code, .reason = std::move(reason)};
}

disconnect http_status_disconnect(unsigned status, std::string_view retry_after)
{
    // Three digits that are no status (RFC 9110 15: 1xx to 5xx): the server does not speak HTTP.
    if (status < 100 || status > 599)
        return {.kind = disconnect_kind::protocol,
                .error = protocol_error::bad_upgrade,
                .reason = "upgrade answered with " + std::to_string(status) + ", not an HTTP status"};
    error e = error::upgrade_rejected;
    if (status == 401 || status == 403) e = error::unauthorized;
    if (status == 404) e = error::session_not_found;
    return {.kind = disconnect_kind::http_status,
            .error = e,
            .http_status = status,
            .retry_after = parse_retry_after(retry_after),
            .reason = "HTTP " + std::to_string(status)};
}

disconnect proxy_status_disconnect(unsigned status)
{
    return {.kind = disconnect_kind::proxy,
            // tinyproxy answers wrong credentials with 401, missing ones with 407.
            .error = status == 401 || status == 407 ? error::proxy_auth_required : error::proxy_failed,
            .http_status = status,
            .reason = "proxy answered CONNECT with HTTP " + std::to_string(status)};
}

disconnect tls_verify_disconnect(long verify_result)
{
    error e = error::tls_invalid;
    switch (verify_result) {
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED: e = error::tls_untrusted; break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: e = error::tls_host_mismatch; break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: e = error::tls_expired; break;
    default: break;
    }
    return {.kind = disconnect_kind::tls, .error = e, .reason = X509_verify_cert_error_string(verify_result)};
}

disconnect error_disconnect(disconnect_kind kind, error_code ec)
{
    return {.kind = kind, .error = ec, .reason = ec.message()};
}

failure_class classify(const disconnect& d) noexcept
{
    switch (d.kind) {
    case disconnect_kind::user: return failure_class::user;
    case disconnect_kind::proxy:
        if (d.http_status == 401 || d.http_status == 403 || d.http_status == 407) return failure_class::permanent;
        return failure_class::transient;
    case disconnect_kind::close_frame:
        if (d.close_code == 4003) return failure_class::permanent;
        if (d.close_code == 4001) return failure_class::not_found;
        return failure_class::transient;
    case disconnect_kind::http_status:
        if (d.http_status == 401 || d.http_status == 403) return failure_class::permanent;
        if (d.http_status == 404) return failure_class::not_found;
        if (d.http_status == 429 || d.http_status == 503) return failure_class::throttled;
        return failure_class::transient;
    default: return is_permanent(d.error) ? failure_class::permanent : failure_class::transient;
    }
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) noexcept
{
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    std::uint32_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(seconds);
}

std::string describe(const disconnect& d)
{
    switch (d.kind) {
    case disconnect_kind::close_frame: {
        std::string s = "close " + std::to_string(d.close_code);
        if (!d.reason.empty()) s += " (" + d.reason + ")";
        return s;
    }
    case disconnect_kind::http_status: {
        std::string s = "HTTP " + std::to_string(d.http_status) + " on upgrade";
        if (d.retry_after) s += ", Retry-After " + std::to_string(d.retry_after->count() / 1000) + " s";
        return s;
    }
    case disconnect_kind::user: return "closed by the application";
    case disconnect_kind::tls:
        if (d.error.category() == error_category()) return "tls: " + d.error.message() + " (" + d.reason + ")";
        return "tls: " + d.error.message();
    case disconnect_kind::proxy:
        if (d.http_status != 0) return d.reason;
        return "proxy: " + (d.error ? d.error.message() : d.reason);
    default: {
        std::string s(to_string(d.kind));
        if (d.error) s += ": " + d.error.message();
        return s;
    }
    }
}

std::string_view to_string(disconnect_kind kind) noexcept
{
    switch (kind) {
    case disconnect_kind::resolve: return "resolve";
    case disconnect_kind::connect: return "connect";
    case disconnect_kind::proxy: return "proxy";
    case disconnect_kind::tls: return "tls";
    case disconnect_kind::http_status: return "http_status";
    case disconnect_kind::close_frame: return "close_frame";
    case disconnect_kind::transport: return "transport";
    case disconnect_kind::heartbeat_timeout: return "heartbeat_timeout";
    case disconnect_kind::message_too_big: return "message_too_big";
    case disconnect_kind::protocol: return "protocol";
    case disconnect_kind::token: return "token";
    case disconnect_kind::timeout: return "timeout";
    case disconnect_kind::user: return "user";
    }
    return "unknown";
}

std::string_view to_string(failure_class c) noexcept
{
    switch (c) {
    case failure_class::transient: return "transient";
    case failure_class::not_found: return "not_found";
    case failure_class::throttled: return "throttled";
    case failure_class::permanent: return "permanent";
    case failure_class::user: return "user";
    }
    return "unknown";
}

}  // namespace tether
