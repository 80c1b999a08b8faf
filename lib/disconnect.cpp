#include <tether/disconnect.hpp>

#include "disconnect.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <openssl/x509_vfy.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

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

bool is_token_refusal(const disconnect& d) noexcept
{
    return (d.kind == disconnect_kind::http_status && d.http_status == 401) ||
           (d.kind == disconnect_kind::close_frame && d.close_code == 4003);
}

namespace {

std::string_view trim_space(std::string_view v) noexcept
{
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

// Reads `n` digits at `at` into `out`; false unless all are digits.
bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) noexcept
{
    if (at + n > s.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

int month_of(std::string_view m) noexcept
{
    constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; ++i)
        if (m == months[i]) return i + 1;
    return 0;
}

// "08:49:37"
bool time_of_day(std::string_view s, std::size_t at, int& h, int& m, int& sec) noexcept
{
    return at + 8 <= s.size() && digits(s, at, 2, h) && s[at + 2] == ':' && digits(s, at + 3, 2, m) &&
           s[at + 5] == ':' && digits(s, at + 6, 2, sec) && h < 24 && m < 60 && sec <= 60;
}

}  // namespace

std::optional<std::chrono::sys_seconds> parse_http_date(std::string_view value) noexcept
{
    value = trim_space(value);
    int day = 0, month = 0, year = 0, h = 0, m = 0, sec = 0;
    const auto comma = value.find(',');
    if (comma == 3) {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        const std::string_view v = value;
        if (v.size() != 29 || v[4] != ' ' || !digits(v, 5, 2, day) || v[7] != ' ' ||
            !(month = month_of(v.substr(8, 3))) || v[11] != ' ' || !digits(v, 12, 4, year) || v[16] != ' ' ||
            !time_of_day(v, 17, h, m, sec) || v.substr(25) != " GMT")
            return std::nullopt;
    } else if (comma != std::string_view::npos && comma > 3) {
        // Obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; a two-digit year within the last
        // 50 years or the next 49, as RFC 9110 5.6.7 asks; read as 19xx/20xx around 1970-2069.
        const std::string_view v = value.substr(comma + 1);
        if (v.size() != 23 || v[0] != ' ' || !digits(v, 1, 2, day) || v[3] != '-' ||
            !(month = month_of(v.substr(4, 3))) || v[7] != '-' || !digits(v, 8, 2, year) || v[10] != ' ' ||
            !time_of_day(v, 11, h, m, sec) || v.substr(19) != " GMT")
            return std::nullopt;
        year += year < 70 ? 2000 : 1900;
    } else {
        // asctime: "Sun Nov  6 08:49:37 1994"
        const std::string_view v = value;
        if (v.size() != 24 || v[3] != ' ' || !(month = month_of(v.substr(4, 3))) || v[7] != ' ') return std::nullopt;
        if (v[8] == ' ') {
            if (!digits(v, 9, 1, day)) return std::nullopt;
        } else if (!digits(v, 8, 2, day)) {
            return std::nullopt;
        }
        if (v[10] != ' ' || !time_of_day(v, 11, h, m, sec) || v[19] != ' ' || !digits(v, 20, 4, year))
            return std::nullopt;
    }
    using namespace std::chrono;
    const year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                              std::chrono::day(static_cast<unsigned>(day))};
    if (!date.ok()) return std::nullopt;
    // In seconds: any four-digit year fits (the system clock's nanoseconds span only 1678-2262).
    return sys_days(date) + hours(h) + minutes(m) + seconds(sec);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) noexcept
{
    value = trim_space(value);
    if (value.empty()) return std::nullopt;
    if (value.front() >= '0' && value.front() <= '9') {
        std::uint32_t seconds = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        if (ec != std::errc{} || end != value.data() + value.size()) return std::nullopt;
        return std::chrono::seconds(seconds);
    }
    const auto date = parse_http_date(value);
    if (!date) return std::nullopt;
    // A date already past asks for no wait; one far away is capped like delta-seconds are.
    const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
    if (*date <= now_s) return std::chrono::milliseconds::zero();
    const auto wait = *date - now_s;
    return std::chrono::seconds(std::min<std::chrono::seconds::rep>(wait.count(), UINT32_MAX));
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) noexcept
{
    return parse_retry_after(value, std::chrono::system_clock::now());
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

namespace detail {

disconnect timed_out(disconnect_kind stage)
{
    return {.kind = disconnect_kind::timeout,
            .error = error::connect_timeout,
            .reason = std::string(to_string(stage)) + " exceeded connect_timeout"};
}

disconnect step_failure(disconnect_kind stage, const error_code& ec)
{
    if (ec == boost::beast::error::timeout) return timed_out(stage);
    return error_disconnect(stage, ec);
}

disconnect upgrade_failure(const error_code& ec)
{
    namespace http = boost::beast::http;
    if (ec == boost::beast::error::timeout)
        return {.kind = disconnect_kind::timeout,
                .error = error::handshake_timeout,
                .reason = "upgrade exceeded handshake_timeout"};
    if (ec.category() == boost::asio::error::get_ssl_category()) return error_disconnect(disconnect_kind::tls, ec);
    // An answer that is not HTTP breaks the protocol; the connection ending before the answer
    // began (EOF, reset) is the transport.
    const bool malformed =
        ec.category() == make_error_code(http::error::partial_message).category() && ec != http::error::end_of_stream;
    return error_disconnect(malformed ? disconnect_kind::protocol : disconnect_kind::transport, ec);
}

}  // namespace detail

}  // namespace tether
