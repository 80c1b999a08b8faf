// Internal: the shared state behind `tether::endpoint_group`, and what a client calls on it.
#ifndef TETHER_LIB_ENDPOINT_GROUP_HPP
#define TETHER_LIB_ENDPOINT_GROUP_HPP

#include "endpoint_gate.hpp"

#include <tether/endpoint_group.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tether::detail {

class group_core {
public:
    /// Called, from whichever thread changed the gate, when a waiting client should ask again.
    /// It must not block or call back into the group: it posts to the client's strand.
    using waker = std::function<void()>;

    explicit group_core(endpoint_group_config cfg) : cfg_(std::move(cfg)) {}

    const endpoint_group_config& config() const noexcept { return cfg_; }

    /// Asks whether `t`'s attempt on `endpoint` may start. When it may not, `w` is kept and called
    /// once when it should ask again (it should also ask again at `until`).
    gate_verdict ask(const std::string& endpoint, gate_ticket& t, waker w);
    /// The attempt `t` was admitted for ended so; or, before it was, `t` leaves.
    void finished(const std::string& endpoint, gate_ticket& t, attempt_outcome o);
    void leave(const std::string& endpoint, gate_ticket& t);

    std::vector<endpoint_status> status() const;

private:
    // Moves the wakers of `ids_` into `wake` and clears it; under the lock.
    void collect(std::vector<waker>& wake);

    const endpoint_group_config cfg_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, endpoint_gate> gates_;
    std::unordered_map<std::uint64_t, waker> wakers_;
    std::vector<std::uint64_t> ids_;  // to wake, filled by the gate
    std::uint64_t next_id_ = 1;
};

}  // namespace tether::detail

#endif
