#include "endpoint_gate.hpp"

#include <algorithm>
#include <stdexcept>

namespace tether {

void endpoint_group_config::validate() const
{
    auto fail = [](const char* what) { throw std::invalid_argument(what); };
    if (!(attempts_per_second > 0) || !(attempts_per_second < 1e9))
        fail("attempts_per_second must be positive and finite");
    if (burst == 0) fail("burst must be at least 1");
    if (breaker_cooldown <= std::chrono::milliseconds::zero()) fail("breaker_cooldown must be positive");
    if (release_window < std::chrono::milliseconds::zero()) fail("release_window must not be negative");
}

std::string_view to_string(breaker_state s) noexcept
{
    switch (s) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half_open";
    }
    return "unknown";
}

namespace detail {

attempt_outcome outcome_of(bool connected, const disconnect& why) noexcept
{
    if (connected) return attempt_outcome::answered;
    switch (why.kind) {
    case disconnect_kind::user:
    case disconnect_kind::token: return attempt_outcome::abandoned;
    case disconnect_kind::http_status:
        // The server answered; only "too many" and its own failures say it is in trouble.
        return why.http_status == 429 || why.http_status >= 500 ? attempt_outcome::failed : attempt_outcome::answered;
    default: return attempt_outcome::failed;
    }
}

endpoint_gate::endpoint_gate(const endpoint_group_config& cfg, gate_clock::time_point now)
    : cfg_(cfg), tokens_(cfg.burst), refilled_at_(now)
{
}

gate_verdict endpoint_gate::ask(gate_ticket& t, gate_clock::time_point now, std::vector<std::uint64_t>& wake)
{
    using stage = gate_ticket::stage;
    if (t.at == stage::reserved) {
        if (t.epoch == epoch_) {
            if (now < t.not_before) return {.go = false, .until = t.not_before};
            --reserved_;
            t.at = stage::admitted;
            ++admitted_;
            return {.go = true};
        }
        // The breaker opened since the reservation: it is void, and its slot goes to others.
        --reserved_;
        t.at = stage::asking;
        t.not_before = {};
        free_slot(wake);
    }
    if (t.at != stage::asking) return {.go = false};  // admitted or done: nothing to wait for

    // The breaker.
    if (breaker_ == breaker_state::open && now >= open_until_ && !probe_out_) {
        breaker_ = breaker_state::half_open;
        probe_out_ = true;
        held_.erase(t.id);
        t.held_in = 0;
        t.probe = true;
        t.at = stage::admitted;
        ++admitted_;
        ++probes_;
        return {.go = true};
    }
    if (breaker_ != breaker_state::closed) {
        unqueue(t, wake);  // a client in line for a slot waits for the breaker like the others
        held_.insert(t.id);
        t.held_in = epoch_;
        if (breaker_ == breaker_state::open) return {.go = false, .until = open_until_};
        return {.go = false};  // half-open: woken by the probe's result
    }
    // The release spread: a client that waited for the breaker goes at its place in the window.
    if (t.held_in != 0) {
        if (t.held_in == released_ && release_count_ > 0) {
            const auto place = static_cast<double>(release_next_++) / static_cast<double>(release_count_);
            t.not_before = release_at_ + std::chrono::duration_cast<gate_clock::duration>(place * cfg_.release_window);
        }
        t.held_in = 0;
    }
    if (now < t.not_before) return {.go = false, .until = t.not_before};

    // The cap: first come, first served.
    if (cfg_.max_concurrent_attempts != 0) {
        const bool first = queue_.empty() || queue_.begin()->first == t.queued;
        if (in_flight_ >= cfg_.max_concurrent_attempts || !first) {
            if (t.queued == 0) {
                t.queued = next_place_++;
                queue_.emplace(t.queued, t.id);
            }
            return {.go = false};  // woken when a slot frees
        }
        if (t.queued != 0) {
            queue_.erase(t.queued);
            t.queued = 0;
            // A slot may still be free for the next in line.
            if (!queue_.empty() && in_flight_ + 1 < cfg_.max_concurrent_attempts)
                wake.push_back(queue_.begin()->second);
        }
    }
    ++in_flight_;

    // The rate: a token now, or the time the bucket will have one for this attempt.
    refill(now);
    tokens_ -= 1;
    t.not_before = tokens_ >= 0 ? now
                                : now + std::chrono::duration_cast<gate_clock::duration>(
                                            std::chrono::duration<double>(-tokens_ / cfg_.attempts_per_second));
    t.epoch = epoch_;
    if (now < t.not_before) {
        t.at = stage::reserved;
        ++reserved_;
        return {.go = false, .until = t.not_before};
    }
    t.at = stage::admitted;
    ++admitted_;
    return {.go = true};
}

void endpoint_gate::finished(gate_ticket& t, attempt_outcome o, gate_clock::time_point now,
                             std::vector<std::uint64_t>& wake)
{
    if (t.at != gate_ticket::stage::admitted) return leave(t, now, wake);
    t.at = gate_ticket::stage::done;
    if (t.probe)
        probe_out_ = false;
    else
        free_slot(wake);
    switch (o) {
    case attempt_outcome::answered:
        // The probe, or an attempt from before the opening, reached the server: it is back.
        failures_ = 0;
        if (breaker_ != breaker_state::closed) close_breaker(now, wake);
        break;
    case attempt_outcome::failed:
        ++failed_;
        if (breaker_ == breaker_state::closed) {
            if (cfg_.breaker_failures != 0 && ++failures_ >= cfg_.breaker_failures) open_breaker(now);
        } else if (t.probe) {
            // Still down: another cool-down, in the same opening.
            breaker_ = breaker_state::open;
            open_until_ = now + cfg_.breaker_cooldown;
            wake_held(wake);
        }
        // Else an attempt from before the opening failed too: the breaker knows.
        break;
    case attempt_outcome::abandoned:
        if (t.probe && breaker_ == breaker_state::half_open) {
            // The probe told nothing: the next client to ask probes at once.
            breaker_ = breaker_state::open;
            open_until_ = now;
            wake_held(wake);
        }
        break;
    }
}

void endpoint_gate::leave(gate_ticket& t, gate_clock::time_point now, std::vector<std::uint64_t>& wake)
{
    switch (t.at) {
    case gate_ticket::stage::asking:
        held_.erase(t.id);
        unqueue(t, wake);
        break;
    case gate_ticket::stage::reserved:
        --reserved_;
        free_slot(wake);
        break;
    case gate_ticket::stage::admitted: return finished(t, attempt_outcome::abandoned, now, wake);
    case gate_ticket::stage::done: break;
    }
    t.at = gate_ticket::stage::done;
}

void endpoint_gate::status(endpoint_status& s) const
{
    s.breaker = breaker_;
    s.in_flight = in_flight_ + (probe_out_ ? 1 : 0);
    s.waiting = waiting();
    s.admitted = admitted_;
    s.failed = failed_;
    s.breaker_openings = openings_;
    s.probes = probes_;
}

void endpoint_gate::refill(gate_clock::time_point now)
{
    if (now <= refilled_at_) return;
    const double earned = std::chrono::duration<double>(now - refilled_at_).count() * cfg_.attempts_per_second;
    tokens_ = std::min(static_cast<double>(cfg_.burst), tokens_ + earned);
    refilled_at_ = now;
}

void endpoint_gate::free_slot(std::vector<std::uint64_t>& wake)
{
    --in_flight_;
    if (!queue_.empty()) wake.push_back(queue_.begin()->second);
}

void endpoint_gate::unqueue(gate_ticket& t, std::vector<std::uint64_t>& wake)
{
    if (t.queued == 0) return;
    const bool was_first = queue_.begin()->first == t.queued;
    queue_.erase(t.queued);
    t.queued = 0;
    if (was_first && !queue_.empty() && in_flight_ < cfg_.max_concurrent_attempts)
        wake.push_back(queue_.begin()->second);
}

void endpoint_gate::open_breaker(gate_clock::time_point now)
{
    breaker_ = breaker_state::open;
    open_until_ = now + cfg_.breaker_cooldown;
    ++epoch_;  // void every reservation: those clients wait for the breaker too
    ++openings_;
    // The reservations' debt goes with them: after the breaker closes, the bucket starts from
    // what it earns from now on, not from attempts that never happened.
    refill(now);
    tokens_ = std::max(tokens_, 0.0);
}

void endpoint_gate::close_breaker(gate_clock::time_point now, std::vector<std::uint64_t>& wake)
{
    breaker_ = breaker_state::closed;
    released_ = epoch_;
    release_at_ = now;
    release_count_ = held_.size();
    release_next_ = 0;
    wake_held(wake);
}

void endpoint_gate::wake_held(std::vector<std::uint64_t>& wake)
{
    wake.insert(wake.end(), held_.begin(), held_.end());
    held_.clear();
}

}  // namespace detail

}  // namespace tether
