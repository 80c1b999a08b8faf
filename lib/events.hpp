// Internal: what the client tells the application as it goes: the callbacks (silenced for good
// once the client has ended) and the counters behind `client::stats()`.
#ifndef TETHER_LIB_EVENTS_HPP
#define TETHER_LIB_EVENTS_HPP

#include <tether/config.hpp>
#include <tether/status.hpp>

#include <atomic>
#include <cstdint>
#include <utility>

namespace tether::detail {

/// The counters, written on the strand and read from any thread.
struct counters {
    std::atomic<std::uint64_t> connections{0}, attempts{0}, received{0}, ignored{0}, malformed{0}, binary_skipped{0},
        sent{0}, heartbeat_timeouts{0}, too_big{0}, bytes_received{0}, bytes_sent{0};
    // Acknowledged sends and resumable receives.
    std::atomic<std::uint64_t> unacknowledged{0}, resent{0}, acknowledged{0}, resume_position{0}, duplicates{0},
        gaps{0}, acks_sent{0};
    std::atomic<std::int64_t> rtt_smoothed_us{0}, rtt_variation_us{0};
    /// When the link now up connected (steady clock, nanoseconds since its epoch); 0: none is up.
    std::atomic<std::int64_t> connected_since_ns{0};

    client_stats snapshot() const noexcept
    {
        client_stats s;
        s.connections = connections.load();
        s.attempts = attempts.load();
        s.messages_received = received.load();
        s.messages_ignored = ignored.load();
        s.messages_malformed = malformed.load();
        s.messages_binary_skipped = binary_skipped.load();
        s.messages_sent = sent.load();
        s.heartbeat_timeouts = heartbeat_timeouts.load();
        s.messages_too_big = too_big.load();
        s.bytes_received = bytes_received.load(std::memory_order_relaxed);
        s.bytes_sent = bytes_sent.load(std::memory_order_relaxed);
        s.messages_unacknowledged = unacknowledged.load(std::memory_order_relaxed);
        s.messages_resent = resent.load(std::memory_order_relaxed);
        s.messages_acknowledged = acknowledged.load(std::memory_order_relaxed);
        s.resume_position = resume_position.load(std::memory_order_relaxed);
        s.duplicates_dropped = duplicates.load(std::memory_order_relaxed);
        s.gaps = gaps.load(std::memory_order_relaxed);
        s.acks_sent = acks_sent.load(std::memory_order_relaxed);
        s.rtt_smoothed = std::chrono::microseconds(rtt_smoothed_us.load(std::memory_order_relaxed));
        s.rtt_variation = std::chrono::microseconds(rtt_variation_us.load(std::memory_order_relaxed));
        if (const auto since = connected_since_ns.load(std::memory_order_relaxed); since != 0)
            s.uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now().time_since_epoch() - std::chrono::nanoseconds(since));
        return s;
    }
};

/// The application's callbacks. `emit` runs one unless the client has been silenced (after its end,
/// or by its destruction, which may happen on another thread).
class notifier {
public:
    explicit notifier(client_callbacks cb) : cb_(std::move(cb)) {}

    const client_callbacks& callbacks() const noexcept { return cb_; }

    template <class F, class... Args>
    void emit(const F& f, Args&&... args) const
    {
        if (f && !silenced_.load(std::memory_order_acquire)) f(std::forward<Args>(args)...);
    }

    /// Whether anyone listens to `on_event`: an event's members need not be built otherwise.
    bool wants_events() const noexcept { return cb_.on_event && !silenced(); }
    /// Stamps `e` and hands it to `on_event`.
    void event(client_event e) const
    {
        if (!wants_events()) return;
        e.at = std::chrono::system_clock::now();
        cb_.on_event(e);
    }

    void silence() noexcept { silenced_.store(true, std::memory_order_release); }
    bool silenced() const noexcept { return silenced_.load(std::memory_order_acquire); }

private:
    client_callbacks cb_;
    std::atomic<bool> silenced_{false};
};

}  // namespace tether::detail

#endif
