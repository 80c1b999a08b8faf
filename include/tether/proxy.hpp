// tether: reaching the server through an HTTP proxy with a CONNECT tunnel.
#ifndef TETHER_PROXY_HPP
#define TETHER_PROXY_HPP

#include <tether/export.hpp>

#include <tether/url.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tether {

/// Which HTTP proxy the client tunnels through. An explicit `url` wins over the environment.
struct proxy_config {
    /// `http://[user:password@]host[:port]` (the port defaults to 1080, as in curl). When set it
    /// is used for every connection whose host `no_proxy` does not name, whatever the environment
    /// says. User and password are percent-decoded and sent as `Proxy-Authorization: Basic`.
    std::string url;
    /// With `url`: hosts reached directly, a comma-separated list in `NO_PROXY` syntax.
    std::string no_proxy;
    /// With `url` empty: take the proxy from the environment as curl does: `https_proxy` or
    /// `HTTPS_PROXY` for `wss://`, `http_proxy` for `ws://` (never `HTTP_PROXY`, which CGI
    /// servers let clients set), and skip hosts named in `no_proxy` or `NO_PROXY`. The
    /// environment is read when the client is constructed. `false`: always connect directly.
    bool use_environment = true;
};

/// A proxy chosen for one server.
struct TETHER_API proxy_endpoint {
    std::string host;           ///< IPv6 without brackets
    std::string port;           ///< explicit or "1080"
    std::string authorization;  ///< the `Proxy-Authorization` value ("Basic ..."), or empty
    std::string source;         ///< where it came from: "proxy.url" or the environment variable's name

    /// `host:port` for messages and events. Never contains the credentials.
    std::string display() const;
};

/// Reads one environment variable; empty or unset yields nothing.
using environment_lookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment (`getenv`).
TETHER_API std::optional<std::string> process_environment(std::string_view name);

/// Parses a proxy URL (`http://[user:password@]host[:port]`, or `host:port`, which means
/// `http://`). Throws `std::invalid_argument` starting with `field` when it is not a URL, the
/// scheme is not http, the host is missing, the port is not a number, or the credentials contain
/// CR, LF or NUL once decoded.
TETHER_API proxy_endpoint parse_proxy_url(std::string_view url, std::string_view field);

/// True when `host` is named by a `NO_PROXY` list: `*` names every host; an entry names itself
/// and its subdomains (a leading dot is ignored); IPv6 may be bracketed; case does not matter.
/// An entry's `:port` suffix, if any, is ignored.
TETHER_API bool no_proxy_matches(std::string_view list, std::string_view host);

/// The proxy to tunnel through to `target`, or nothing for a direct connection. Throws
/// `std::invalid_argument` naming `proxy.url` or the environment variable that is invalid.
TETHER_API std::optional<proxy_endpoint> select_proxy(const ws_url& target, const proxy_config& config,
                                           const environment_lookup& env = process_environment);

/// The CONNECT request that opens the tunnel to `target` (authority form, Host header, and the
/// proxy's credentials when it has some).
TETHER_API std::string connect_request(const ws_url& target, const proxy_endpoint& proxy);

/// Standard base64 with padding (RFC 4648), as Basic authentication wants.
TETHER_API std::string base64_encode(std::string_view data);

}  // namespace tether

#endif
