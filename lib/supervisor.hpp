// Internal: the supervisor, one coroutine per client. It runs one attempt at a time (a token, then
// open a link, then run it), turns how it ended into the next step with `retry_plan` (a pure state
// machine over the reconnect history), waits, and starts again. It owns the client's lifecycle:
// its state, the waiters of async_run / async_connect / async_close, and the end.
#ifndef TETHER_LIB_SUPERVISOR_HPP
#define TETHER_LIB_SUPERVISOR_HPP

#include "delivery.hpp"
#include "endpoint_group.hpp"
#include "events.hpp"
#include "link/open.hpp"
#include "link/rtt.hpp"
#include "mailbox.hpp"

#include <tether/reconnect_policy.hpp>
#include <tether/status.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <mutex>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <vector>

namespace tether::detail {

class link;

/// How one attempt (or link) ended.
struct attempt_result {
    disconnect why;
    bool connected = false;  ///< the upgrade succeeded
    bool healthy = false;    ///< a message or a pong arrived on the link
    clock_type::time_point connected_at{};
    clock_type::time_point ended_at{};
    connection_record record{};  ///< for the history: all but the policy's delay
};

/// What the supervisor does after an attempt.
struct next_step {
    bool stop = false;      ///< the policy gave up (or the application ended the client)
    milliseconds delay{0};  ///< else: wait this long
    unsigned attempt = 0;   ///< then make this attempt (1 = the first since the last healthy link)
    disconnect why;         ///< why the last one ended (for on_reconnecting / on_close)
};

/// The reconnect history and the decisions on it, without I/O or clocks of its own: time and the
/// random sample come in as arguments, so every rule is a row in a table test.
class retry_plan {
public:
    explicit retry_plan(const client_config& cfg, clock_type::time_point now) : cfg_(cfg), healthy_at_(now) {}

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

class supervisor {
public:
    supervisor(asio::any_io_executor ex, asio::any_io_executor strand, const client_config& cfg, notifier& events,
               counters& stats, send_queue& sends, delivery& inbound);

    // --- entry points, each already on the strand; `keep_alive` holds the client while it runs ----

    void run(void_handler h, std::shared_ptr<void> keep_alive);
    void connect(void_handler h, std::shared_ptr<void> keep_alive);
    void close(void_handler h);
    void reconnect();
    /// The client's destructor: stop as `close` would, silently.
    void shutdown();

    client_state state() const noexcept { return state_.load(std::memory_order_relaxed); }
    /// The last `history_size` connection records, oldest first. Any thread.
    std::vector<connection_record> history() const;

private:
    template <class Signature>
    struct waiter {
        std::uint64_t id;
        asio::any_completion_handler<Signature> handler;
    };

    void ensure_started(std::shared_ptr<void> keep_alive);
    asio::awaitable<void> supervise(std::shared_ptr<void> keep_alive);
    asio::awaitable<void> loop();
    asio::awaitable<void> wait(milliseconds d);
    asio::awaitable<attempt_result> attempt(unsigned number, const disconnect* previous);
    asio::awaitable<bool> pass_group(gate_ticket& ticket, unsigned number, const disconnect* previous);
    asio::awaitable<std::optional<disconnect>> fetch_token(std::string& token, unsigned number,
                                                           const disconnect* previous);
    void finish(disconnect why);
    void remember(connection_record record, std::optional<milliseconds> delay);

    bool interrupted() const noexcept { return closing_ || reconnect_requested_; }
    void set_state(client_state s);
    void add_connect_waiter(void_handler h);
    void cancel_connect_waiter(std::uint64_t id);
    void complete_connect_waiters(error_code ec);

    asio::any_io_executor ex_;
    asio::any_io_executor strand_;
    const client_config& cfg_;
    notifier& events_;
    counters& stats_;
    send_queue& sends_;
    delivery& inbound_;
    open_target target_;
    group_core* group_ = nullptr;  // the endpoint group's, held by cfg_.group
    std::string endpoint_;         // its name for the endpoint: "wss://host:port"

    std::atomic<client_state> state_{client_state::idle};
    bool started_ = false;
    bool finished_ = false;
    bool closing_ = false;
    bool reconnect_requested_ = false;
    bool run_cancelled_ = false;  // async_run's terminal cancellation closed the client
    error_code final_error_;

    std::function<void()> abort_;  // hard-stops the attempt or link under way; set while one runs
    link* link_ = nullptr;         // the link running now, if any
    asio::steady_timer backoff_timer_;
    asio::steady_timer group_timer_;
    asio::steady_timer close_deadline_;

    std::list<waiter<void(error_code)>> connect_waiters_;
    std::uint64_t next_waiter_id_ = 0;
    std::vector<void_handler> run_waiters_;
    std::vector<void_handler> close_waiters_;
    std::weak_ptr<void> owner_;  // the client, for cancellation handlers that may outlive it

    rtt_estimator rtt_;  // ping to pong, across links
    mutable std::mutex history_mutex_;
    std::deque<connection_record> history_;
};

}  // namespace tether::detail

#endif
