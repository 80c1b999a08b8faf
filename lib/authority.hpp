// Internal: what parsing ws:// and proxy URLs shares (lib/url.cpp, lib/proxy.cpp).
#ifndef TETHER_LIB_AUTHORITY_HPP
#define TETHER_LIB_AUTHORITY_HPP

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tether::detail {

/// Throws `std::invalid_argument` with "field: why", the form every configuration error takes.
[[noreturn]] inline void reject(std::string_view field, const std::string& why)
{
    throw std::invalid_argument(std::string(field) + ": " + why);
}

/// ASCII lower case.
inline std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

/// The explicit port of `url` ("scheme://[userinfo@]host[:port]..."), or "" when there is none.
/// Read from the raw text because Boost.URL 1.81 parses "ws://host:abc/" as host "host", an empty
/// port and the path "abc/". Throws `std::invalid_argument` starting with `field` unless the port
/// is 1 to 65535.
std::string explicit_port(std::string_view url, bool ipv6, std::string_view field);

}  // namespace tether::detail

#endif
