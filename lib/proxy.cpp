#include <tether/proxy.hpp>

#include "authority.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace tether {
namespace {

using detail::lower;
using detail::reject;

std::string_view trim(std::string_view s)
{
    constexpr std::string_view space = " \t";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

std::string_view strip_brackets(std::string_view host)
{
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
    return host;
}

bool has_control(std::string_view s)
{
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

std::string proxy_endpoint::display() const
{
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + port;
}

std::optional<std::string> process_environment(std::string_view name)
{
    const char* value = std::getenv(std::string(name).c_str());
    if (!value || !*value) return std::nullopt;
    return std::string(value);
}

proxy_endpoint parse_proxy_url(std::string_view text, std::string_view field)
{
    // Never echo the text: it may carry a password.
    const std::string with_scheme =
        text.find("://") == std::string_view::npos ? "http://" + std::string(text) : std::string(text);
    auto parsed = boost::urls::parse_uri(with_scheme);
    if (!parsed) reject(field, "not a valid proxy URL");
    const boost::urls::url_view& u = *parsed;
    if (lower(u.scheme()) != "http")
        reject(field, "only http:// proxies are supported, not " + lower(u.scheme()) + "://");

    const bool ipv6 = u.host_type() == boost::urls::host_type::ipv6;
    proxy_endpoint p;
    p.host = ipv6 ? std::string(u.host_address()) : lower(std::string(u.host()));
    if (p.host.empty()) reject(field, "the proxy host is missing");
    p.port = detail::explicit_port(with_scheme, ipv6, field);
    if (p.port.empty()) p.port = "1080";
    if (u.has_userinfo()) {
        const std::string user = u.user();
        const std::string password = u.password();
        if (has_control(user) || has_control(password)) reject(field, "the proxy credentials contain CR, LF or NUL");
        p.authorization = "Basic " + base64_encode(user + ":" + password);
    }
    p.source = std::string(field);
    return p;
}

bool no_proxy_matches(std::string_view list, std::string_view host)
{
    const std::string h = lower(strip_brackets(host));
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view entry = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (entry == "*") return true;
        if (!entry.empty() && entry.front() == '[') {
            entry = entry.substr(0, entry.find(']') + 1);  // [v6]:port
        } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
            entry = entry.substr(0, entry.find(':'));  // name:port or v4:port; bare v6 has more colons
        }
        while (!entry.empty() && entry.front() == '.') entry.remove_prefix(1);
        const std::string e = lower(strip_brackets(entry));
        if (e.empty()) continue;
        if (h == e) return true;
        if (h.size() > e.size() && h.ends_with(e) && h[h.size() - e.size() - 1] == '.') return true;
    }
    return false;
}

std::optional<proxy_endpoint> select_proxy(const ws_url& target, const proxy_config& config,
                                           const environment_lookup& env)
{
    if (!config.url.empty()) {
        proxy_endpoint p = parse_proxy_url(config.url, "proxy.url");
        if (no_proxy_matches(config.no_proxy, target.host)) return std::nullopt;
        return p;
    }
    if (!config.use_environment || !env) return std::nullopt;

    // Lower case first, as curl does; HTTP_PROXY is never read (see proxy_config).
    std::string_view name = target.secure ? "https_proxy" : "http_proxy";
    std::optional<std::string> value = env(name);
    if (!value && target.secure) value = env(name = "HTTPS_PROXY");
    if (!value) return std::nullopt;
    auto no_proxy = env("no_proxy");
    if (!no_proxy) no_proxy = env("NO_PROXY");
    if (no_proxy && no_proxy_matches(*no_proxy, target.host)) return std::nullopt;
    return parse_proxy_url(*value, name);
}

std::string connect_request(const ws_url& target, const proxy_endpoint& proxy)
{
    const bool ipv6 = target.host.find(':') != std::string::npos;
    const std::string authority = (ipv6 ? "[" + target.host + "]" : target.host) + ":" + target.port;
    std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!proxy.authorization.empty()) req += "Proxy-Authorization: " + proxy.authorization + "\r\n";
    req += "\r\n";
    return req;
}

std::string base64_encode(std::string_view data)
{
    // OpenSSL's encoder, linked for TLS anyway: four characters per three bytes, padded, and a
    // NUL after them.
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

}  // namespace tether
