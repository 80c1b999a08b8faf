// Internal: reading the port of a URL from its raw authority, shared by ws:// and proxy URLs.
#ifndef TETHER_LIB_AUTHORITY_HPP
#define TETHER_LIB_AUTHORITY_HPP

#include <string>
#include <string_view>

namespace tether::detail {

/// The explicit port of `url` ("scheme://[userinfo@]host[:port]..."), or "" when there is none.
/// Read from the raw text because Boost.URL 1.81 parses "ws://host:abc/" as host "host", an empty
/// port and the path "abc/". Throws `std::invalid_argument` starting with `field` unless the port
/// is 1 to 65535.
std::string explicit_port(std::string_view url, bool ipv6, std::string_view field);

}  // namespace tether::detail

#endif
