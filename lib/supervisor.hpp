// Internal: the supervisor, one coroutine per client: the I/O shell around `supervisor_fsm`, which
// decides (supervisor_fsm.hpp). It performs the machine's actions (the group's wait, a token and
// the link opened, the link run, the policy's wait, the end) and reports how each ended. It owns
// the client's lifecycle: its state, the waiters of async_run / async_connect / async_close, the
// history, and the end.
#ifndef TETHER_LIB_SUPERVISOR_HPP
#define TETHER_LIB_SUPERVISOR_HPP

#include "delivery.hpp"
#include "endpoint_group.hpp"
#include "events.hpp"
#include "link/open.hpp"
#include "link/rtt.hpp"
#include "mailbox.hpp"
#include "resume/resume_state.hpp"
#include "supervisor_fsm.hpp"

#include <tether/reconnect_policy.hpp>
#include <tether/status.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

namespace tether::detail {

class link;
struct link_result;

/// The policy's random samples (jitter): splitmix64, seeded from the OS. Eight bytes of state,
/// where a Mersenne twister would keep 2.5 KiB alive in every idle client.
class jitter_source {
public:
    jitter_source();
    /// Uniform in [0, 1).
    double next() noexcept;

private:
    std::uint64_t state_;
};

/// An attempt's place at the endpoint group, from the group's consent to the upgrade's answer.
/// How the attempt went is reported once; one that ended before (a close, its token) tells nothing.
struct group_pass {
    group_pass(group_core& core, const std::string& endpoint) : core(&core), endpoint(endpoint) {}
    group_pass(const group_pass&) = delete;
    group_pass& operator=(const group_pass&) = delete;
    ~group_pass() { report(attempt_outcome::abandoned); }

    void report(attempt_outcome o)
    {
        if (core) std::exchange(core, nullptr)->finished(endpoint, ticket, o);
    }

    group_core* core;
    const std::string& endpoint;
    gate_ticket ticket;
};

class supervisor {
public:
    supervisor(asio::any_io_executor ex, asio::any_io_executor strand, const client_config& cfg, notifier& events,
               counters& stats, send_queue& sends, delivery& inbound, resume_state* resume);

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
    // The steps, one per action: each reports how it ended to the machine and returns its next action.
    asio::awaitable<supervisor_action> wait_for_group(const supervisor_action& a, std::optional<group_pass>& pass,
                                                      jitter_source& jitter);
    asio::awaitable<supervisor_action> connect(const supervisor_action& a, std::optional<group_pass>& pass,
                                               std::optional<opened>& ready, jitter_source& jitter);
    asio::awaitable<supervisor_action> run_link(const supervisor_action& a, std::optional<opened>& ready,
                                                jitter_source& jitter);
    asio::awaitable<supervisor_action> wait(const supervisor_action& a);
    asio::awaitable<std::variant<opened, disconnect>> open_attempt(unsigned number, const disconnect* previous);
    supervisor_action link_ended(link_result&& result, unsigned number, jitter_source& jitter);
    supervisor_action event(supervisor_event::kind what);
    supervisor_action attempt_ended(supervisor_event e, unsigned number, jitter_source& jitter);
    void perform(const supervisor_action& a);
    asio::awaitable<bool> pass_group(gate_ticket& ticket, unsigned number, const disconnect* previous);
    asio::awaitable<std::optional<disconnect>> fetch_token(std::string& token, unsigned number,
                                                           const disconnect* previous);
    void finish(disconnect why);
    void remember(connection_record record);

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
    resume_state* resume_;  // null unless acknowledged sends or resumable receives are on
    open_target target_;
    group_core* group_ = nullptr;  // the endpoint group's, held by cfg_.group
    std::string endpoint_;         // its name for the endpoint: "wss://host:port"

    std::atomic<client_state> state_{client_state::idle};
    bool started_ = false;
    bool finished_ = false;
    bool run_cancelled_ = false;  // async_run's terminal cancellation closed the client
    error_code final_error_;

    std::function<void()> abort_;  // hard-stops the attempt or link under way; set while one runs
    link* link_ = nullptr;         // the link running now, if any
    supervisor_fsm fsm_;
    asio::steady_timer backoff_timer_;  // the policy's waits, and the group's
    std::uint64_t group_waits_ = 0;     // moves on as each group wait starts and ends: a wake-up names its wait
    asio::steady_timer close_deadline_;

    std::list<waiter<void(error_code)>> connect_waiters_;
    std::uint64_t next_waiter_id_ = 0;
    std::vector<void_handler> run_waiters_;
    std::vector<void_handler> close_waiters_;
    std::weak_ptr<void> owner_;  // the client, for cancellation handlers that may outlive it

    rtt_estimator rtt_;  // ping to pong, across links
    mutable std::mutex history_mutex_;
    std::vector<connection_record> history_;  // a ring of history_size, its oldest at history_oldest_
    std::size_t history_oldest_ = 0;
};

}  // namespace tether::detail

#endif
