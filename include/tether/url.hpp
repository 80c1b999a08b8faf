// tether: WebSocket URLs, parsed once at construction.
#ifndef TETHER_URL_HPP
#define TETHER_URL_HPP

#include <tether/export.hpp>

#include <string>
#include <string_view>

namespace tether {

/// A `ws://` or `wss://` URL split into what the connect steps need.
struct ws_url {
    bool secure = false;      ///< `wss://`
    std::string host;         ///< for the resolver, SNI and certificate check; IPv6 without brackets
    std::string port;         ///< explicit, or "80" / "443"
    std::string target;       ///< path and query, at least "/"
    std::string host_header;  ///< the Host header: host (bracketed if IPv6) and a non-default port

    bool operator==(const ws_url&) const = default;
};

/// Parses `ws://` and `wss://` URLs. Throws `std::invalid_argument` starting with `field` ("url")
/// when the scheme is another, the host is missing, the port is not a number, or a fragment or
/// user-info is present.
TETHER_API ws_url parse_ws_url(std::string_view url, std::string_view field = "url");

/// Percent-encodes everything except RFC 3986 unreserved characters, so the result is safe as one
/// path segment or one query value.
TETHER_API std::string percent_encode(std::string_view s);

/// The remote-sessions subscribe URL:
/// `{base}/v1/sessions/ws/{session_id}/subscribe?organization_uuid={org}`, with `https://` turned
/// into `wss://` (and `http://` into `ws://`), a trailing slash of `base` dropped, and the id and
/// organisation percent-encoded. Throws `std::invalid_argument` naming the field when one is empty.
TETHER_API std::string sessions_url(std::string_view base, std::string_view session_id, std::string_view organization_id);

/// True when `host` is a loopback name or address (localhost, 127.0.0.0/8, ::1).
TETHER_API bool is_loopback_host(std::string_view host) noexcept;

}  // namespace tether

#endif
