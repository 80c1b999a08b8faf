// Internal: how the failures of opening a link map to a typed `disconnect`. Pure functions over
// Asio, Beast and SSL error codes (lib/disconnect.cpp), tested in tables.
#ifndef TETHER_LIB_DISCONNECT_HPP
#define TETHER_LIB_DISCONNECT_HPP

#include <tether/disconnect.hpp>

namespace tether::detail {

/// A step of opening a link (resolve, connect, proxy, TLS) that ran out of `connect_timeout`.
disconnect timed_out(disconnect_kind stage);

/// A step of opening a link that failed with `ec`: out of time (Beast's stream deadline), or the
/// stage's own failure.
disconnect step_failure(disconnect_kind stage, const error_code& ec);

/// The upgrade's request or response failed with `ec` (an HTTP answer that is no 101 is
/// `http_status_disconnect`): out of `handshake_timeout`; TLS (under TLS 1.3 a refused client
/// certificate shows in the first read); the protocol (an answer that is not HTTP); or the
/// transport (the connection ended before the answer began).
disconnect upgrade_failure(const error_code& ec);

}  // namespace tether::detail

#endif
