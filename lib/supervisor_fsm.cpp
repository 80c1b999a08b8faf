#include "supervisor_fsm.hpp"

namespace tether::detail {

// --- retry_plan: the decisions -----------------------------------------------------------------------

next_step retry_plan::after(attempt_result r, double random)
{
    // Budgets reset only after a link proved healthy, not merely because it opened: a server that
    // accepts and drops at once cannot make the client loop forever.
    if (r.healthy) {
        history_ = {};
        healthy_at_ = r.ended_at;
    }
    const failure_class c = classify(r.why);
    ++history_.attempts;
    ++history_.by_class[static_cast<std::size_t>(c)];
    history_.since_healthy = std::chrono::duration_cast<milliseconds>(r.ended_at - healthy_at_);
    history_.uptime =
        r.connected ? std::chrono::duration_cast<milliseconds>(r.ended_at - r.connected_at) : milliseconds::zero();
    history_.random = random;
    const reconnect_decision decision = c == failure_class::user ? reconnect_decision{} : cfg_.policy(r.why, history_);
    if (!decision) return {.stop = true, .delay = {}, .attempt = 0, .why = std::move(r.why)};
    return {.stop = false, .delay = *decision, .attempt = history_.attempts + 1, .why = std::move(r.why)};
}

next_step retry_plan::after_reconnect_request(clock_type::time_point now)
{
    history_ = {};
    healthy_at_ = now;
    return {.stop = false, .delay = cfg_.manual_reconnect_delay, .attempt = 1, .why = user_disconnect()};
}

token_reason token_reason_for(const disconnect* previous) noexcept
{
    if (!previous) return token_reason::first_connect;
    return is_token_refusal(*previous) ? token_reason::refused : token_reason::reconnect;
}

// --- supervisor_fsm ---------------------------------------------------------------------------------

supervisor_action supervisor_fsm::on(const supervisor_event& e)
{
    using k = supervisor_event::kind;
    using a = supervisor_action::kind;
    switch (e.what) {
    case k::start:
        if (phase_ != phase::idle) return {};
        plan_.begin(e.now);
        return next_attempt(e);
    case k::group_passed:
        if (phase_ != phase::group) return {};
        phase_ = phase::connecting;
        return {.what = a::connect, .attempt = attempt_, .why = last_};
    case k::connect_failed:
        if (phase_ != phase::group && phase_ != phase::connecting) return {};
        return ended(e, {.why = e.why, .connected = false, .ended_at = e.now});
    case k::connected:
        if (phase_ != phase::connecting) return {};
        phase_ = phase::running;
        record_.connected = e.wall;
        connected_at_ = e.now;
        return {.what = a::run_link,
                .attempt = attempt_,
                .close_at_once = closing_,
                .stop_at_once = reconnect_requested_ && !closing_};
    case k::link_ended:
        if (phase_ != phase::running) return {};
        record_.messages_received = e.messages_received;
        record_.messages_sent = e.messages_sent;
        record_.bytes_received = e.bytes_received;
        record_.bytes_sent = e.bytes_sent;
        record_.rtt = e.rtt;
        return ended(
            e,
            {.why = e.why, .connected = true, .healthy = e.healthy, .connected_at = connected_at_, .ended_at = e.now});
    case k::wait_over:
        if (phase_ != phase::waiting) return {};
        if (closing_) return finish(user_disconnect(), false);
        if (std::exchange(reconnect_requested_, false)) {
            // reconnect() during the wait: budgets reset, and the manual delay from now.
            plan_.after_reconnect_request(e.now);
            return {.what = a::wait, .delay = cfg_.manual_reconnect_delay, .why = last_, .report = false};
        }
        return next_attempt(e);
    case k::close:
        if (phase_ == phase::done || closing_) return {};
        closing_ = true;
        switch (phase_) {
        case phase::idle: return finish(user_disconnect(), false);
        case phase::running: return {.what = a::close_link};
        default: return {.what = a::stop_step};
        }
    case k::reconnect:
        if (phase_ == phase::idle || phase_ == phase::done || closing_) return {};
        reconnect_requested_ = true;
        return {.what = a::stop_step};
    }
    return {};
}

supervisor_action supervisor_fsm::next_attempt(const supervisor_event& e)
{
    attempt_ = plan_.next_attempt();
    record_ = {};
    record_.attempt = attempt_;
    record_.started = e.wall;
    phase_ = cfg_.group ? phase::group : phase::connecting;
    return {.what = cfg_.group ? supervisor_action::kind::wait_for_group : supervisor_action::kind::connect,
            .attempt = attempt_,
            .why = last_};
}

supervisor_action supervisor_fsm::ended(const supervisor_event& e, attempt_result r)
{
    record_.ended = e.wall;
    record_.why = r.why;
    record_.healthy = r.healthy;
    if (closing_) {
        record_ready_ = true;  // no delay: nothing comes next
        return finish(user_disconnect(), false);
    }
    next_step step = std::exchange(reconnect_requested_, false) ? plan_.after_reconnect_request(e.now)
                                                                : plan_.after(std::move(r), e.random);
    record_.delay = step.stop ? std::nullopt : std::optional<milliseconds>(step.delay);
    record_ready_ = true;
    if (step.stop) return finish(std::move(step.why), true);
    phase_ = phase::waiting;
    last_ = step.why;
    return {.what = supervisor_action::kind::wait,
            .attempt = step.attempt,
            .delay = step.delay,
            .why = std::move(step.why),
            .report = true};
}

supervisor_action supervisor_fsm::finish(disconnect why, bool decided)
{
    phase_ = phase::done;
    return {.what = supervisor_action::kind::finish, .why = std::move(why), .decided_to_stop = decided};
}

}  // namespace tether::detail
