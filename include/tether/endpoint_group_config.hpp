// tether: what an endpoint group limits, and how an endpoint stands with it.
#ifndef TETHER_ENDPOINT_GROUP_CONFIG_HPP
#define TETHER_ENDPOINT_GROUP_CONFIG_HPP

#include <tether/export.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace tether {

/// The limits an `endpoint_group` applies per endpoint (scheme, host, port). Every client of the
/// group that connects to one endpoint draws on the same budget.
struct TETHER_API endpoint_group_config {
    /// Connection attempts per second the endpoint gets from the group: a token bucket.
    double attempts_per_second = 50;
    /// Attempts that may start at once when the bucket is full (at least 1).
    unsigned burst = 10;
    /// Attempts under way at once (from the start of the TCP connect to the upgrade's answer);
    /// 0: no cap.
    unsigned max_concurrent_attempts = 0;
    /// Consecutive failed attempts, across the group, that open the circuit breaker (connect
    /// failures, timeouts, TLS failures, HTTP 429 and 5xx; any other answer from the server counts
    /// as success). 0: no breaker.
    unsigned breaker_failures = 0;
    /// How long an open breaker keeps every attempt back before one probe may go (half-open).
    std::chrono::milliseconds breaker_cooldown{5000};
    /// When the probe succeeds, the clients that waited are let go spread evenly over this window
    /// (and then through the token bucket), not all at once.
    std::chrono::milliseconds release_window{1000};

    /// Throws `std::invalid_argument` naming the first invalid field.
    void validate() const;
};

/// The circuit breaker of one endpoint.
enum class breaker_state {
    closed,     ///< attempts go, within the rate and the cap
    open,       ///< attempts wait for the cool-down
    half_open,  ///< one probe is under way; the others wait for its result
};

/// The name of a breaker state, e.g. "half_open".
TETHER_API std::string_view to_string(breaker_state s) noexcept;

/// One endpoint as the group sees it now.
struct endpoint_status {
    std::string endpoint;  ///< "wss://host:port"
    breaker_state breaker = breaker_state::closed;
    unsigned in_flight = 0;              ///< attempts admitted and not yet answered
    std::size_t waiting = 0;             ///< clients held back now
    std::uint64_t admitted = 0;          ///< attempts let through since the group was made
    std::uint64_t failed = 0;            ///< of them, failed (as the breaker counts)
    std::uint64_t breaker_openings = 0;  ///< times the breaker opened (a failed probe re-opens: not counted)
    std::uint64_t probes = 0;            ///< half-open probes let through
};

}  // namespace tether

#endif
