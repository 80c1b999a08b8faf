// Internal: the supervisor's decisions as a sans-I/O state machine. Events go in (an attempt
// failed, a link connected or ended, a wait is over, the application asked to close or to
// reconnect), with the time and the random sample as inputs; actions come out (wait for the
// group, connect, run the link, wait d, stop what runs, close the link, finish), with the history
// record of each connection as data. The supervisor's coroutine is a `switch` over the actions
// (supervisor.cpp); every rule is a row in a table test (tests/unit/test_supervisor_fsm.cpp).
#ifndef TETHER_LIB_SUPERVISOR_FSM_HPP
#define TETHER_LIB_SUPERVISOR_FSM_HPP

#include "internal.hpp"

#include <tether/config.hpp>
#include <tether/reconnect_policy.hpp>
#include <tether/status.hpp>

#include <chrono>
#include <optional>

namespace tether::detail {

/// How one attempt (or link) ended.
struct attempt_result {
    disconnect why;
    bool connected = false;  ///< the upgrade succeeded
    bool healthy = false;    ///< a message or a pong arrived on the link
    clock_type::time_point connected_at{};
    clock_type::time_point ended_at{};
};

/// What the policy decided after an attempt.
struct next_step {
    bool stop = false;      ///< the policy gave up (or the application ended the client)
    milliseconds delay{0};  ///< else: wait this long
    unsigned attempt = 0;   ///< then make this attempt (1 = the first since the last healthy link)
    disconnect why;         ///< why the last one ended (for on_reconnecting / on_close)
};

/// The reconnect history and the policy's decisions on it: time and the random sample come in as
/// arguments.
class retry_plan {
public:
    explicit retry_plan(const client_config& cfg, clock_type::time_point now) : cfg_(cfg), healthy_at_(now) {}

    /// The client starts: time since the last healthy link counts from now.
    void begin(clock_type::time_point now) noexcept { healthy_at_ = now; }

    /// The attempt about to be made, counted since the last healthy link (1 = the first).
    unsigned next_attempt() const noexcept { return history_.attempts + 1; }

    /// After an attempt ended: the policy's decision. `random` is the jitter sample in [0, 1).
    next_step after(attempt_result r, double random);

    /// The application called `reconnect()`: budgets reset, wait `manual_reconnect_delay`.
    next_step after_reconnect_request(clock_type::time_point now);

    const reconnect_history& history() const noexcept { return history_; }

private:
    const client_config& cfg_;
    reconnect_history history_;
    clock_type::time_point healthy_at_;
};

/// Why the token for the next attempt is wanted, from why the last one ended (none: the first).
token_reason token_reason_for(const disconnect* previous) noexcept;

/// An event, with what the machine needs to know of it.
struct supervisor_event {
    enum class kind {
        start,           ///< async_run or async_connect started the client
        group_passed,    ///< the endpoint group let the attempt go
        connect_failed,  ///< the attempt ended before a link opened (`why`; user when it was stopped)
        connected,       ///< the upgrade succeeded
        link_ended,      ///< the link ended (`why`, `healthy`, and what it carried)
        wait_over,       ///< the wait ended (its time, or cut short by close or reconnect)
        close,           ///< the application asked to close
        reconnect,       ///< the application asked to reconnect
    };
    kind what = kind::start;
    clock_type::time_point now{};
    std::chrono::system_clock::time_point wall{};  ///< for the history's times
    disconnect why{};
    bool healthy = false;
    std::uint64_t messages_received = 0, messages_sent = 0, bytes_received = 0, bytes_sent = 0;
    rtt_stats rtt{};
    double random = 0.5;  ///< the jitter sample for the policy, in [0, 1)
};

/// What the supervisor does next.
struct supervisor_action {
    enum class kind {
        none,            ///< nothing now: what runs goes on (or was already asked to stop)
        wait_for_group,  ///< ask the endpoint group for attempt `attempt`; then group_passed or connect_failed
        connect,         ///< attempt `attempt`: token, open the link; then connected or connect_failed
        run_link,        ///< run the link just opened; then link_ended
        wait,            ///< wait `delay`; then wait_over
        stop_step,       ///< stop the step under way at once (it then reports how it ended)
        close_link,      ///< close the live link politely (flush, close 1000)
        finish,          ///< the end, for `why` (kind user: the application closed)
    };
    kind what = kind::none;
    unsigned attempt = 0;
    milliseconds delay{0};
    /// wait: why the last attempt ended; finish: the final reason; wait_for_group / connect: why
    /// the one before ended (none for the first).
    std::optional<disconnect> why;
    bool report = false;           ///< wait: a policy decision to report (not a wait after reconnect())
    bool close_at_once = false;    ///< run_link: the application closed while it connected
    bool stop_at_once = false;     ///< run_link: the application asked to reconnect meanwhile
    bool decided_to_stop = false;  ///< finish: the policy gave up (not the application)
};

class supervisor_fsm {
public:
    supervisor_fsm(const client_config& cfg, clock_type::time_point now) : cfg_(cfg), plan_(cfg, now) {}

    supervisor_action on(const supervisor_event& e);

    /// The record of the attempt that just ended, with the policy's delay, once; empty otherwise.
    std::optional<connection_record> take_record()
    {
        if (!std::exchange(record_ready_, false)) return std::nullopt;
        return record_;
    }

    bool closing() const noexcept { return closing_; }
    /// The application asked to close or to reconnect: the step under way should stop.
    bool interrupted() const noexcept { return closing_ || reconnect_requested_; }
    bool done() const noexcept { return phase_ == phase::done; }
    const reconnect_history& history() const noexcept { return plan_.history(); }

private:
    enum class phase { idle, group, connecting, running, waiting, done };

    supervisor_action next_attempt(const supervisor_event& e);
    supervisor_action ended(const supervisor_event& e, attempt_result r);
    supervisor_action finish(disconnect why, bool decided);

    const client_config& cfg_;
    retry_plan plan_;
    phase phase_ = phase::idle;
    bool closing_ = false;
    bool reconnect_requested_ = false;
    unsigned attempt_ = 0;            // the attempt under way
    std::optional<disconnect> last_;  // why the last attempt ended
    connection_record record_;        // of the attempt under way
    clock_type::time_point connected_at_{};
    bool record_ready_ = false;  // record_ is of an attempt that ended, for take_record
};

}  // namespace tether::detail

#endif
