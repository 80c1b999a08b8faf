// Internal: the opening handshake of RFC 6455 4, as pure functions over Beast's HTTP types: the
// upgrade request, and the check of the server's 101. The I/O is in lib/link/open.cpp.
#ifndef TETHER_LIB_WIRE_HANDSHAKE_HPP
#define TETHER_LIB_WIRE_HANDSHAKE_HPP

#include "deflate.hpp"

#include <tether/config.hpp>
#include <tether/error.hpp>
#include <tether/url.hpp>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace tether::wire {

namespace http = boost::beast::http;

/// A fresh Sec-WebSocket-Key: 16 bytes from the CSPRNG, in base64.
std::string make_key();

/// The Sec-WebSocket-Accept a server must answer `key` with: base64(SHA-1(key + the RFC's GUID)).
std::string accept_for(std::string_view key);

/// The upgrade request for `url`: Host, the WebSocket fields with `key`, the permessage-deflate
/// offer when configured, the User-Agent, the configured headers, and `Authorization: Bearer`
/// when `token` is not empty. `target`, when not empty, replaces the URL's (a resume's query
/// parameter), and `extra` (a resume's header) is added when set.
http::request<http::empty_body> upgrade_request(const ws_url& url, const client_config& cfg, const std::string& token,
                                                std::string_view key, std::string_view target = {},
                                                const header* extra = nullptr);

/// Checks a 101 answer to a request made with `key` (and the deflate offer, when
/// `offered_deflate`): HTTP/1.1, `Upgrade: websocket`, `Connection: upgrade`, the right
/// Sec-WebSocket-Accept, no subprotocol (none was offered), and an extension answer that matches
/// the offer, which it returns in `deflate`. A `protocol_error` when the answer is not a valid
/// upgrade.
error_code check_upgrade_response(const http::response_header<>& res, std::string_view key, bool offered_deflate,
                                  std::optional<deflate_params>& deflate);

}  // namespace tether::wire

#endif
