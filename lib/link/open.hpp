// Internal: opening a link. Resolve, TCP connect, the proxy's CONNECT tunnel and the TLS handshake
// under connect_timeout; then the WebSocket upgrade under handshake_timeout, on Beast's HTTP types
// over a buffer tether owns, so that frames the server sends in the same segment as its 101 reach
// the reader.
#ifndef TETHER_LIB_LINK_OPEN_HPP
#define TETHER_LIB_LINK_OPEN_HPP

#include "../resume/cursor.hpp"
#include "../wire/deflate.hpp"
#include "transport.hpp"

#include <tether/config.hpp>
#include <tether/disconnect.hpp>
#include <tether/proxy.hpp>
#include <tether/url.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace tether::detail {

/// A link ready to run.
struct opened {
    std::unique_ptr<transport> io;
    std::string leftover;                         ///< bytes after the 101: the first frames
    std::optional<wire::deflate_params> deflate;  ///< permessage-deflate, when the server accepted it
};

/// Where and how to open links: fixed at construction.
struct open_target {
    const client_config& cfg;
    ws_url url;
    std::optional<proxy_endpoint> proxy;  // chosen at construction, from the config or the environment
    std::optional<asio::ssl::context> tls;

    /// Parses the URL, picks the proxy and loads the TLS files; throws `std::invalid_argument`
    /// naming the field when one does not load.
    explicit open_target(const client_config& cfg);
};

/// Opens one link with `token`, its upgrade request carrying `offer` (the request target, and a
/// resume header when there is one). While it runs, `abort` holds what stops the step under way (the
/// supervisor calls it on close and reconnect); it is restored before this returns.
asio::awaitable<std::variant<opened, disconnect>> open_link(const asio::any_io_executor& strand, open_target& target,
                                                            const resume_offer& offer, const std::string& token,
                                                            std::function<void()>& abort);

}  // namespace tether::detail

#endif
