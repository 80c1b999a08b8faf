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
    std::atomic<std::uint64_t> connections{0}, attempts{0}, received{0}, ignored{0}, malformed{0}, sent{0},
        heartbeat_timeouts{0}, too_big{0};

    client_stats snapshot() const noexcept
    {
        return {connections.load(), attempts.load(), received.load(),           ignored.load(),
                malformed.load(),   sent.load(),     heartbeat_timeouts.load(), too_big.load()};
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

    void silence() noexcept { silenced_.store(true, std::memory_order_release); }
    bool silenced() const noexcept { return silenced_.load(std::memory_order_acquire); }

private:
    client_callbacks cb_;
    std::atomic<bool> silenced_{false};
};

}  // namespace tether::detail

#endif
