// The shared part of the fuzz targets that drive a real tether::client: one exchange against the
// raw-frame server of tests/conformance on 127.0.0.1, with the fuzzer's bytes as the server's
// side, and the checks that every exchange must pass whatever the bytes were.
#ifndef TETHER_TESTS_FUZZ_HARNESS_HPP
#define TETHER_TESTS_FUZZ_HARNESS_HPP

#include "../conformance/frames.hpp"

#include <tether/client.hpp>
#include <tether/disconnect.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace tether::fuzz {

struct exchange_options {
    /// What the server writes after reading the upgrade request. Every "{ACCEPT}" in it becomes
    /// the right Sec-WebSocket-Accept for the request, so that inputs can reach past the upgrade.
    std::string bytes;
    bool send_101_first = false;  ///< write a valid 101 before `bytes`
    std::size_t max_message_size = 0;  ///< 0 = the default
    bool use_receive = false;          ///< consume with async_receive rather than on_message
    std::size_t receive_capacity = 0;  ///< 0 = the default
    bool echo = false;                 ///< send every delivered message back
    std::chrono::milliseconds ping_interval{0};
};

struct exchange_result {
    std::string sent;  ///< the bytes the server wrote after the request, "{ACCEPT}" filled in
    std::optional<disconnect> ended;  ///< from on_close (the policy never retries)
    std::vector<boost::json::value> delivered;
    client_stats stats;
    std::vector<conformance::client_frame> frames;  ///< what the client wrote after the upgrade request
};

/// Runs one exchange to its end. Aborts (a crash for libFuzzer) if the client or the server does
/// not finish within a few seconds: a hang is a bug.
exchange_result run_exchange(const exchange_options& options);

/// Aborts with `what` when `ok` is false.
void require(bool ok, const char* what);

/// Checks every exchange must pass: the client ended for a reason that an established link can
/// end for; it delivered only objects with a string "type"; what it wrote is well-formed client
/// framing (masked, final, no reserved bits, control payloads <= 125), at most one close frame and
/// nothing after it, with the code that answers the server's close or names the failure; and its
/// pongs answer the server's pings, in order. `server_bytes` are the bytes after the upgrade.
void check_established_link(const exchange_options& options, const exchange_result& r, std::string_view server_bytes);

}  // namespace tether::fuzz

#endif
