#include "supervisor.hpp"

#include "abandonable.hpp"
#include "link/link.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>

#include <random>
#include <stdexcept>

namespace tether::detail {

jitter_source::jitter_source() : state_((std::uint64_t(std::random_device{}()) << 32) | std::random_device{}()) {}

double jitter_source::next() noexcept
{
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

namespace {

std::chrono::system_clock::time_point wall_now()
{
    return std::chrono::system_clock::now();
}

link_settings settings_of(const client_config& cfg)
{
    return {.max_message_size = cfg.max_message_size,
            .handshake_timeout = cfg.handshake_timeout,
            .ping_interval = cfg.ping_interval,
            .liveness = {.pong_timeout = cfg.pong_timeout,
                         .pong_timeout_floor = cfg.pong_timeout_floor,
                         .suspend_pong_timeout = cfg.suspend_pong_timeout},
            .boot_clock = cfg.boot_clock};
}

// The endpoint group's name for the server of `url`: scheme, host and port.
std::string endpoint_name(const ws_url& url)
{
    const bool ipv6 = url.host.find(':') != std::string::npos;
    return std::string(url.secure ? "wss://" : "ws://") + (ipv6 ? "[" + url.host + "]" : url.host) + ":" + url.port;
}

}  // namespace

// --- supervisor ----------------------------------------------------------------------------------------

supervisor::supervisor(asio::any_io_executor ex, asio::any_io_executor strand, const client_config& cfg,
                       notifier& events, counters& stats, send_queue& sends, delivery& inbound, resume_state* resume)
    : ex_(std::move(ex)), strand_(std::move(strand)), cfg_(cfg), events_(events), stats_(stats), sends_(sends),
      inbound_(inbound), resume_(resume), target_(cfg), group_(cfg.group ? &core_of(*cfg.group) : nullptr),
      endpoint_(endpoint_name(target_.url)), fsm_(cfg, clock_type::now()), backoff_timer_(strand_),
      close_deadline_(strand_)
{
}

void supervisor::run(void_handler h, std::shared_ptr<void> keep_alive)
{
    if (finished_) return post_completion(ex_, std::move(h), final_error_);
    // Terminal cancellation closes the client, as async_close would; the run then completes with
    // operation_aborted.
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) {
        slot.assign([this, w = std::weak_ptr<void>(keep_alive)](asio::cancellation_type type) {
            if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none) return;
            auto self = w.lock();
            if (!self) return;
            asio::post(strand_, [this, self] {
                run_cancelled_ = true;
                close(void_handler{});
            });
        });
    }
    run_waiters_.push_back(std::move(h));
    ensure_started(std::move(keep_alive));
}

void supervisor::connect(void_handler h, std::shared_ptr<void> keep_alive)
{
    if (finished_)
        return post_completion(ex_, std::move(h), final_error_ ? final_error_ : error_code(error::client_closed));
    if (state() == client_state::connected) return post_completion(ex_, std::move(h), error_code{});
    owner_ = keep_alive;
    add_connect_waiter(std::move(h));
    ensure_started(std::move(keep_alive));
}

void supervisor::close(void_handler h)
{
    if (finished_) {
        if (h) post_completion(ex_, std::move(h), error_code{});
        return;
    }
    if (h) close_waiters_.push_back(std::move(h));  // none from the destructor
    const supervisor_action a = fsm_.on({.what = supervisor_event::kind::close, .now = clock_type::now()});
    if (a.what == supervisor_action::kind::none) return;                   // closing already
    if (a.what == supervisor_action::kind::finish) return finish(*a.why);  // never started
    sends_.refuse(error::client_closed);
    set_state(client_state::closing);
    close_deadline_.expires_after(cfg_.close_timeout);
    close_deadline_.async_wait([this, w = owner_](error_code ec) {
        if (auto self = w.lock(); self && !ec && abort_) abort_();
    });
    perform(a);
}

void supervisor::reconnect()
{
    if (finished_) return;
    perform(fsm_.on({.what = supervisor_event::kind::reconnect, .now = clock_type::now()}));
}

// The actions that stop what runs, asked for by close() and reconnect().
void supervisor::perform(const supervisor_action& a)
{
    switch (a.what) {
    case supervisor_action::kind::close_link:
        if (link_) link_->close();  // the writer flushes, then sends the close frame; the reader reads the answer
        break;
    case supervisor_action::kind::stop_step:
        backoff_timer_.cancel();
        if (abort_) abort_();
        break;
    default: break;
    }
}

void supervisor::shutdown()
{
    events_.silence();
    close(void_handler{});
}

void supervisor::ensure_started(std::shared_ptr<void> keep_alive)
{
    if (started_) return;
    started_ = true;
    owner_ = keep_alive;
    asio::co_spawn(strand_, supervise(std::move(keep_alive)), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);  // a bug or a throwing callback: surface it from run()
    });
}

// Runs the loop; if anything in it throws (a callback, a policy, a bug), the client still
// finishes, so that no waiter hangs and close completes, and then the exception surfaces. The
// client lives as long as this runs: `keep_alive` holds it.
asio::awaitable<void> supervisor::supervise([[maybe_unused]] std::shared_ptr<void> keep_alive)
{
    std::exception_ptr failure;
    try {
        co_await loop();
    } catch (...) {
        failure = std::current_exception();
    }
    if (!failure) co_return;
    if (!finished_) {
        events_.silence();  // the application's code may be what threw: call none of it again
        finish({.kind = disconnect_kind::transport,
                .error = make_error_code(boost::system::errc::state_not_recoverable),
                .reason = "internal error"});
    }
    std::rethrow_exception(failure);
}

// The coroutine is a switch over the state machine's actions: it performs each, and reports how
// it ended as the next event. Each step is a coroutine of its own, so that what a step keeps lives
// only while it runs: an idle client's frames hold the link and little else.
asio::awaitable<void> supervisor::loop()
{
    jitter_source jitter;
    std::optional<group_pass> pass;  // from the group's consent to the upgrade's answer
    std::optional<opened> ready;     // the link `connect` opened, for `run_link`
    supervisor_action a = event(supervisor_event::kind::start);
    for (;;) {
        switch (a.what) {
        case supervisor_action::kind::none: co_return;  // finished before it started
        case supervisor_action::kind::wait_for_group: a = co_await wait_for_group(a, pass, jitter); break;
        case supervisor_action::kind::connect: a = co_await connect(a, pass, ready, jitter); break;
        case supervisor_action::kind::run_link: a = co_await run_link(a, ready, jitter); break;
        case supervisor_action::kind::wait: a = co_await wait(a); break;
        case supervisor_action::kind::finish: co_return finish(std::move(*a.why));
        case supervisor_action::kind::stop_step:
        case supervisor_action::kind::close_link:
            throw std::logic_error("supervisor: an action for close() or reconnect() in the loop");
        }
    }
}

supervisor_action supervisor::event(supervisor_event::kind what)
{
    return fsm_.on({.what = what, .now = clock_type::now(), .wall = std::chrono::system_clock::now()});
}

asio::awaitable<supervisor_action> supervisor::wait_for_group(const supervisor_action& a,
                                                              std::optional<group_pass>& pass, jitter_source& jitter)
{
    pass.emplace(*group_, endpoint_);
    const bool through = co_await pass_group(pass->ticket, a.attempt, a.why ? &*a.why : nullptr);
    if (through) co_return event(supervisor_event::kind::group_passed);
    pass.reset();
    co_return attempt_ended({.what = supervisor_event::kind::connect_failed, .why = user_disconnect()}, a.attempt,
                            jitter);
}

asio::awaitable<supervisor_action> supervisor::connect(const supervisor_action& a, std::optional<group_pass>& pass,
                                                       std::optional<opened>& ready, jitter_source& jitter)
{
    auto open = co_await open_attempt(a.attempt, a.why ? &*a.why : nullptr);
    if (auto* failure = std::get_if<disconnect>(&open)) {
        if (pass) pass->report(outcome_of(false, *failure));
        pass.reset();
        co_return attempt_ended({.what = supervisor_event::kind::connect_failed, .why = std::move(*failure)}, a.attempt,
                                jitter);
    }
    if (pass) pass->report(attempt_outcome::answered);
    pass.reset();
    ready.emplace(std::move(std::get<opened>(open)));
    co_return event(supervisor_event::kind::connected);
}

// The link's end, as the machine's event (built here, not in a coroutine frame).
supervisor_action supervisor::link_ended(link_result&& result, unsigned number, jitter_source& jitter)
{
    return attempt_ended({.what = supervisor_event::kind::link_ended,
                          .why = std::move(result.why),
                          .healthy = result.healthy,
                          .messages_received = result.traffic.messages_received,
                          .messages_sent = result.traffic.messages_sent,
                          .bytes_received = result.traffic.bytes_received,
                          .bytes_sent = result.traffic.bytes_sent,
                          .rtt = result.rtt},
                         number, jitter);
}

asio::awaitable<supervisor_action> supervisor::wait(const supervisor_action& a)
{
    if (a.report) {
        set_state(client_state::reconnecting);
        events_.emit(events_.callbacks().on_reconnecting, reconnect_event{a.attempt, a.delay, *a.why});
    }
    if (!fsm_.interrupted()) {
        backoff_timer_.expires_after(a.delay);
        co_await backoff_timer_.async_wait(use_tuple);
    }
    co_return event(supervisor_event::kind::wait_over);
}

// An attempt or its link ended: the machine decides, and what it decided is told.
supervisor_action supervisor::attempt_ended(supervisor_event e, unsigned number, jitter_source& jitter)
{
    inbound_.fail_sent_requests();
    if (events_.wants_events()) events_.event({.kind = event_kind::disconnected, .attempt = number, .reason = e.why});
    e.now = clock_type::now();
    e.wall = wall_now();
    e.random = jitter.next();
    supervisor_action a = fsm_.on(e);
    if (auto record = fsm_.take_record()) remember(std::move(*record));
    if (events_.wants_events() && ((a.what == supervisor_action::kind::wait && a.report) || a.decided_to_stop))
        events_.event({.kind = event_kind::decision,
                       .attempt = a.attempt,
                       .reason = *a.why,
                       .retry = !a.decided_to_stop,
                       .delay = a.delay});
    return a;
}

// A token, then the link opened and upgraded; or why not.
asio::awaitable<std::variant<opened, disconnect>> supervisor::open_attempt(unsigned number, const disconnect* previous)
{
    struct abort_reset {
        std::function<void()>& abort;
        ~abort_reset() { abort = nullptr; }
    } reset_abort_on_exit{abort_};
    set_state(client_state::connecting);
    ++stats_.attempts;
    events_.event({.kind = event_kind::attempt, .attempt = number});

    std::string token;
    auto token_failure = co_await fetch_token(token, number, previous);
    if (token_failure) co_return std::move(*token_failure);
    if (fsm_.interrupted()) co_return user_disconnect();
    const resume_offer offer = resume_ ? resume_->offer(target_.url.target) : resume_offer{target_.url.target, {}};
    co_return co_await open_link(strand_, target_, offer, token, abort_);
}

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes Asio's allocation of this coroutine's frame and its release for a mismatched pair
// (a false positive: gcc PR middle-end/109224).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// Runs the link until it ends; the application's close or reconnect may have come meanwhile.
// This frame is what an idle client keeps, with the link's tasks': it holds the link and little
// else.
asio::awaitable<supervisor_action> supervisor::run_link(const supervisor_action& a, std::optional<opened>& ready,
                                                        jitter_source& jitter)
{
    link l(strand_, std::move(ready->io), std::move(ready->leftover), ready->deflate, settings_of(cfg_), sends_,
           inbound_, resume_, stats_, rtt_, events_);
    ready.reset();
    // The upgrade offered the last position delivered; what is kept goes out again, oldest first.
    if (resume_) resume_->link_opened();
    struct link_reset {
        link*& current;
        std::function<void()>& abort;
        ~link_reset()
        {
            current = nullptr;
            abort = nullptr;
        }
    } reset_link_on_exit{link_, abort_};
    link_ = &l;
    abort_ = [&l] { l.abort(); };

    stats_.connected_since_ns.store(clock_type::now().time_since_epoch().count(), std::memory_order_relaxed);
    ++stats_.connections;
    if (!a.close_at_once) set_state(client_state::connected);
    complete_connect_waiters({});
    events_.emit(events_.callbacks().on_connected, a.attempt);
    events_.event({.kind = event_kind::connected, .attempt = a.attempt});
    if (a.stop_at_once) l.abort();
    if (a.close_at_once) l.close();

    link_result result = co_await l.run();
    stats_.connected_since_ns.store(0, std::memory_order_relaxed);
    co_return link_ended(std::move(result), a.attempt, jitter);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Waits until the endpoint group lets this attempt start: it asks, and waits for the time the
// gate named or for its wake-up, whichever comes first; false when the client closes or
// reconnects meanwhile. The first wait is reported to on_reconnecting, after a link or attempt.
asio::awaitable<bool> supervisor::pass_group(gate_ticket& ticket, unsigned number, const disconnect* previous)
{
    // The wait is on the backoff timer (the two never overlap). A wake-up is for this wait only:
    // one that arrives late, after the client went on, must not cut a later wait short, so the
    // number is moved on again when the wait ends. (It only ever suspends on the timer.)
    const std::uint64_t wait_number = ++group_waits_;
    auto previous_abort = std::exchange(abort_, [this] { backoff_timer_.cancel(); });
    // Called on whichever thread freed what this client waits for; the client may be gone by then.
    auto wake = [w = owner_, strand = strand_, this, wait_number] {
        if (auto alive = w.lock())
            asio::post(strand, [w, this, wait_number] {
                if (auto self = w.lock(); self && group_waits_ == wait_number) backoff_timer_.cancel();
            });
    };
    bool through = false, told = false;
    while (!fsm_.interrupted()) {
        const gate_verdict v = group_->ask(endpoint_, ticket, wake);
        if (v.go) {
            through = true;
            break;
        }
        if (!told) {
            told = true;
            const auto now = clock_type::now();
            const milliseconds known = v.until == clock_type::time_point::max() || v.until <= now
                                           ? milliseconds::zero()
                                           : std::chrono::ceil<milliseconds>(v.until - now);
            events_.event({.kind = event_kind::held, .attempt = number, .delay = known});
            if (previous)
                events_.emit(
                    events_.callbacks().on_reconnecting,
                    reconnect_event{.attempt = number, .delay = known, .reason = *previous, .held_by_group = true});
        }
        backoff_timer_.expires_at(v.until);
        co_await backoff_timer_.async_wait(use_tuple);
    }
    ++group_waits_;
    abort_ = std::move(previous_abort);
    co_return through;
}

namespace {

// The asynchronous provider in the form of the token source: its token is always fresh.
asio::awaitable<token_answer> answer_of(std::function<asio::awaitable<std::string>()> provider)
{
    std::string token = co_await provider();  // GCC 12: no co_await inside a braced initialiser
    co_return token_answer{.token = std::move(token), .fresh = true};
}

}  // namespace

// Asks the token source (or provider) for this attempt's token; a failure ends the attempt. The
// asynchronous forms run under `connect_timeout` and are abandoned on close or reconnect. After
// a refusal, a source without a fresh token ends the attempt as refused again, before anything
// reaches the server.
asio::awaitable<std::optional<disconnect>> supervisor::fetch_token(std::string& token, unsigned number,
                                                                   const disconnect* previous)
{
    auto failed = [this](std::string what) {
        events_.emit(events_.callbacks().on_error, error_code(error::token_failed), "token provider: " + what);
        return disconnect{.kind = disconnect_kind::token, .error = error::token_failed, .reason = std::move(what)};
    };
    const token_request request{.reason = token_reason_for(previous), .attempt = number};
    if (cfg_.token_source || cfg_.async_token_provider) {
        // Waited for until connect_timeout, a close or a reconnect, whether or not the source
        // honours cancellation: one that does not is asked to stop and left to end on its own.
        using outcome = std::pair<std::exception_ptr, token_answer>;
        auto provided = std::make_shared<abandonable<outcome>>(strand_);
        asio::co_spawn(
            strand_, cfg_.token_source ? cfg_.token_source(request) : answer_of(cfg_.async_token_provider),
            asio::bind_cancellation_slot(provided->stop.slot(), [provided](std::exception_ptr e, token_answer answer) {
                provided->complete({e, std::move(answer)});
            }));
        auto previous_abort = std::exchange(abort_, [provided] { provided->abort(); });
        co_await provided->wait(clock_type::now() + cfg_.connect_timeout);
        abort_ = std::move(previous_abort);
        if (!provided->result) {
            if (fsm_.interrupted()) co_return user_disconnect();
            co_return failed("no token within connect_timeout");
        }
        auto& [thrown, answer] = *provided->result;
        if (thrown) {
            try {
                std::rethrow_exception(thrown);
            } catch (const std::exception& e) {
                co_return failed(e.what());
            }
        }
        if (request.reason == token_reason::refused && !answer.fresh) {
            disconnect again = *previous;
            again.reason = describe(*previous) + "; the token source has no fresh token";
            co_return again;
        }
        token = std::move(answer.token);
    } else if (cfg_.token_provider) {
        try {
            token = cfg_.token_provider();
        } catch (const std::exception& e) {
            co_return failed(e.what());
        }
    }
    if (token.find_first_of("\r\n") != std::string::npos) co_return failed("the token contains CR or LF");
    co_return std::nullopt;
}

void supervisor::finish(disconnect why)
{
    finished_ = true;
    const bool by_user = why.kind == disconnect_kind::user;
    final_error_ = by_user ? error_code{} : why.error ? why.error : error_code(error::reconnect_gave_up);
    set_state(client_state::closed);
    sends_.refuse(error::client_closed);
    if (!by_user) events_.emit(events_.callbacks().on_close, why);
    events_.silence();  // no callback after the end

    close_deadline_.cancel();
    complete_connect_waiters(final_error_ ? final_error_ : error_code(error::client_closed));
    const error_code run_result = run_cancelled_ ? error_code(asio::error::operation_aborted) : final_error_;
    for (auto& h : std::exchange(run_waiters_, {})) post_completion(ex_, std::move(h), run_result);
    for (auto& h : std::exchange(close_waiters_, {})) post_completion(ex_, std::move(h), error_code{});
    inbound_.finish();
    auto unsent = sends_.take_all();
    inbound_.written(unsent, error::client_closed);
    if (resume_) resume_->finish(error::client_closed);
}

void supervisor::set_state(client_state s)
{
    if (state_.exchange(s, std::memory_order_relaxed) != s) events_.event({.kind = event_kind::state, .state = s});
}

void supervisor::remember(connection_record record)
{
    if (cfg_.history_size == 0) return;
    std::lock_guard lock(history_mutex_);
    // A ring: no allocation before the first record (an idle client keeps none), none after the
    // ring is full.
    if (history_.size() < cfg_.history_size) {
        history_.push_back(std::move(record));
        return;
    }
    history_[history_oldest_] = std::move(record);
    history_oldest_ = (history_oldest_ + 1) % history_.size();
}

std::vector<connection_record> supervisor::history() const
{
    std::lock_guard lock(history_mutex_);
    std::vector<connection_record> out;
    out.reserve(history_.size());
    for (std::size_t i = 0; i < history_.size(); ++i) out.push_back(history_[(history_oldest_ + i) % history_.size()]);
    return out;
}

void supervisor::add_connect_waiter(void_handler h)
{
    const std::uint64_t id = ++next_waiter_id_;
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) {
        slot.assign([this, w = owner_, id](asio::cancellation_type type) {
            if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none) return;
            auto self = w.lock();
            if (!self) return;
            asio::post(strand_, [this, self, id] { cancel_connect_waiter(id); });
        });
    }
    connect_waiters_.push_back({id, std::move(h)});
}

void supervisor::cancel_connect_waiter(std::uint64_t id)
{
    for (auto it = connect_waiters_.begin(); it != connect_waiters_.end(); ++it) {
        if (it->id != id) continue;
        auto h = std::move(it->handler);
        connect_waiters_.erase(it);
        return post_completion(ex_, std::move(h), error_code(asio::error::operation_aborted));
    }
}

void supervisor::complete_connect_waiters(error_code ec)
{
    for (auto& w : std::exchange(connect_waiters_, {})) post_completion(ex_, std::move(w.handler), ec);
}

}  // namespace tether::detail
