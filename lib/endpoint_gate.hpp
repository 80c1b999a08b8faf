// Internal: the endpoint group's decisions for one endpoint, without I/O, locks or clocks of its
// own. When may an attempt start (a token bucket, a cap on attempts under way, a circuit breaker),
// and what does each attempt's end change? Time comes in as an argument; the clients to wake go
// out as ids. The group (endpoint_group.cpp) keeps one gate per endpoint under its lock and turns
// the verdicts into timers and wake-ups, so every rule here is a row in a table test.
#ifndef TETHER_LIB_ENDPOINT_GATE_HPP
#define TETHER_LIB_ENDPOINT_GATE_HPP

#include <tether/disconnect.hpp>
#include <tether/endpoint_group_config.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <unordered_set>
#include <vector>

namespace tether::detail {

using gate_clock = std::chrono::steady_clock;

/// How an attempt ended, as the group counts it.
enum class attempt_outcome {
    answered,   ///< the server answered: the upgrade, or a refusal other than 429 and 5xx
    failed,     ///< no useful answer: resolve, connect, proxy, TLS, timeout, HTTP 429 or 5xx
    abandoned,  ///< ended for the client's own reasons (close, reconnect, its token): says nothing
};

/// The outcome of an attempt that `connected` (the upgrade succeeded) or ended with `why`.
attempt_outcome outcome_of(bool connected, const disconnect& why) noexcept;

/// One client's place at the gate for one attempt, kept by the client across its calls.
struct gate_ticket {
    enum class stage : std::uint8_t {
        asking,    ///< not through yet: may be held by the breaker, the release spread or the cap
        reserved,  ///< holds a slot and a start time from the token bucket
        admitted,  ///< went: `finished` reports how it ended
        done,      ///< finished or left
    };
    std::uint64_t id = 0;  ///< the group's name for the client, for wake-ups
    stage at = stage::asking;
    gate_clock::time_point not_before{};  ///< the reserved start, or the release spread's
    std::uint64_t epoch = 0;              ///< the breaker opening its reservation belongs to
    std::uint64_t queued = 0;             ///< its place in the queue for a slot (0: not queued)
    std::uint64_t held_in = 0;            ///< the breaker opening it waited for (0: none)
    bool probe = false;                   ///< it is the half-open probe
};

/// What a client does now: go, or wait until `until` or until woken, whichever comes first, and
/// then ask again.
struct gate_verdict {
    bool go = false;
    gate_clock::time_point until = gate_clock::time_point::max();
};

class endpoint_gate {
public:
    endpoint_gate(const endpoint_group_config& cfg, gate_clock::time_point now);

    /// Asks whether `t` may start; the ids of clients that may go now as a result are added to `wake`.
    gate_verdict ask(gate_ticket& t, gate_clock::time_point now, std::vector<std::uint64_t>& wake);
    /// The attempt that `t` was admitted for ended so.
    void finished(gate_ticket& t, attempt_outcome o, gate_clock::time_point now, std::vector<std::uint64_t>& wake);
    /// `t` gives up before it went (the client closes): what it holds goes to others. After it was
    /// admitted this is `finished` with `abandoned`.
    void leave(gate_ticket& t, gate_clock::time_point now, std::vector<std::uint64_t>& wake);

    breaker_state breaker() const noexcept { return breaker_; }
    /// Slots taken: attempts admitted or reserved, the probe not included.
    unsigned in_flight() const noexcept { return in_flight_; }
    /// Clients held back now: by the breaker, in line for a slot, or reserved for later.
    std::size_t waiting() const noexcept { return held_.size() + queue_.size() + reserved_; }
    /// Fills the counters of `s`.
    void status(endpoint_status& s) const;

private:
    void refill(gate_clock::time_point now);
    void free_slot(std::vector<std::uint64_t>& wake);
    void unqueue(gate_ticket& t, std::vector<std::uint64_t>& wake);
    void open_breaker(gate_clock::time_point now);
    void close_breaker(gate_clock::time_point now, std::vector<std::uint64_t>& wake);
    void wake_held(std::vector<std::uint64_t>& wake);

    const endpoint_group_config& cfg_;
    // The token bucket: tokens may go below zero, each negative one an attempt reserved for later.
    double tokens_;
    gate_clock::time_point refilled_at_;
    // The cap.
    unsigned in_flight_ = 0;
    std::size_t reserved_ = 0;                      // of them, waiting for their reserved start
    std::map<std::uint64_t, std::uint64_t> queue_;  // place -> id, first come first served
    std::uint64_t next_place_ = 1;
    // The breaker.
    breaker_state breaker_ = breaker_state::closed;
    unsigned failures_ = 0;  // consecutive, across the group
    gate_clock::time_point open_until_{};
    std::uint64_t epoch_ = 1;  // the current (or last) opening; reservations of an older one are void
    bool probe_out_ = false;
    std::unordered_set<std::uint64_t> held_;  // waiting for the breaker
    // The release spread after the breaker closed: the clients held in opening `released_`.
    std::uint64_t released_ = 0;
    gate_clock::time_point release_at_{};
    std::size_t release_count_ = 0, release_next_ = 0;
    // Counters.
    std::uint64_t admitted_ = 0, failed_ = 0, openings_ = 0, probes_ = 0;
};

}  // namespace tether::detail

#endif
