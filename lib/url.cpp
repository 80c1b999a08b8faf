#include <tether/url.hpp>

#include "authority.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace tether {
namespace {

using detail::lower;
using detail::reject;

bool starts_with_ci(std::string_view s, std::string_view prefix)
{
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

}  // namespace

std::string detail::explicit_port(std::string_view url, bool ipv6, std::string_view field)
{
    std::string_view authority = url.substr(url.find("//") + 2);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    authority = authority.substr(authority.rfind('@') == std::string_view::npos ? 0 : authority.rfind('@') + 1);
    const auto host_end = ipv6 ? authority.find(']') : std::string_view::size_type(0);
    const auto colon = authority.find(':', host_end == std::string_view::npos ? 0 : host_end);
    const std::string_view p = colon == std::string_view::npos ? std::string_view() : authority.substr(colon + 1);
    if (p.empty()) return {};
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec != std::errc{} || end != p.data() + p.size() || value == 0 || value > 65535)
        reject(field, "port must be 1 to 65535, not '" + std::string(p) + "'");
    return std::to_string(value);
}

ws_url parse_ws_url(std::string_view text, std::string_view field)
{
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) reject(field, "not a valid URL: '" + std::string(text) + "'");
    const boost::urls::url_view& u = *parsed;

    ws_url out;
    const std::string scheme = lower(u.scheme());
    if (scheme == "wss")
        out.secure = true;
    else if (scheme != "ws")
        reject(field, "scheme must be ws or wss, not '" + scheme + "'");
    if (u.has_userinfo()) reject(field, "user information in the URL is not supported; use headers");
    if (u.has_fragment()) reject(field, "a WebSocket URL may not have a fragment");

    const bool ipv6 = u.host_type() == boost::urls::host_type::ipv6;
    out.host = ipv6 ? std::string(u.host_address()) : lower(std::string(u.host()));
    if (out.host.empty()) reject(field, "the host is missing");

    const std::string default_port = out.secure ? "443" : "80";
    out.port = detail::explicit_port(text, ipv6, field);
    if (out.port.empty()) out.port = default_port;

    out.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
    if (u.has_query()) out.target += "?" + std::string(u.encoded_query());

    out.host_header = ipv6 ? "[" + out.host + "]" : out.host;
    if (out.port != default_port) out.host_header += ":" + out.port;
    return out;
}

std::string percent_encode(std::string_view s)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string sessions_url(std::string_view base, std::string_view session_id, std::string_view organization_id)
{
    if (base.empty()) reject("base_url", "must not be empty");
    if (session_id.empty()) reject("session_id", "must not be empty");
    if (organization_id.empty()) reject("organization_id", "must not be empty");

    std::string url;
    if (starts_with_ci(base, "https://"))
        url = "wss://" + std::string(base.substr(8));
    else if (starts_with_ci(base, "http://"))
        url = "ws://" + std::string(base.substr(7));
    else
        url = base;
    while (!url.empty() && url.back() == '/') url.pop_back();

    url += "/v1/sessions/ws/" + percent_encode(session_id) +
           "/subscribe?organization_uuid=" + percent_encode(organization_id);
    parse_ws_url(url, "base_url");  // fail now, naming the field the user can fix
    return url;
}

bool is_loopback_host(std::string_view host) noexcept
{
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    return host.size() > 4 && host.substr(0, 4) == "127." &&
           std::all_of(host.begin(), host.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

}  // namespace tether
