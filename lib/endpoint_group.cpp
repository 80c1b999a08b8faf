// The endpoint group: one gate per endpoint under one lock, and the wake-ups of the clients that
// wait. The decisions are the gate's (endpoint_gate.cpp); this file only keeps them thread safe
// and turns "wake these ids" into calls of the clients' wakers, made after the lock is released.
#include "endpoint_group.hpp"

#include <utility>

namespace tether {

endpoint_group::endpoint_group(endpoint_group_config cfg)
    : core_(std::make_shared<detail::group_core>((cfg.validate(), std::move(cfg))))
{
}

endpoint_group::~endpoint_group() = default;

const endpoint_group_config& endpoint_group::config() const noexcept
{
    return core_->config();
}

std::vector<endpoint_status> endpoint_group::status() const
{
    return core_->status();
}

namespace detail {

group_core& core_of(endpoint_group& g) noexcept
{
    return *g.core_;
}

gate_verdict group_core::ask(const std::string& endpoint, gate_ticket& t, waker w)
{
    std::vector<waker> wake;
    gate_verdict v;
    {
        std::lock_guard lock(mutex_);
        if (t.id == 0) t.id = next_id_++;
        auto it = gates_.find(endpoint);
        if (it == gates_.end()) it = gates_.try_emplace(endpoint, cfg_, gate_clock::now()).first;
        v = it->second.ask(t, gate_clock::now(), ids_);
        if (v.go)
            wakers_.erase(t.id);
        else
            wakers_[t.id] = std::move(w);
        collect(wake);
    }
    for (auto& f : wake) f();
    return v;
}

void group_core::finished(const std::string& endpoint, gate_ticket& t, attempt_outcome o)
{
    std::vector<waker> wake;
    {
        std::lock_guard lock(mutex_);
        auto it = gates_.find(endpoint);
        if (it == gates_.end()) return;
        it->second.finished(t, o, gate_clock::now(), ids_);
        wakers_.erase(t.id);
        collect(wake);
    }
    for (auto& f : wake) f();
}

void group_core::leave(const std::string& endpoint, gate_ticket& t)
{
    finished(endpoint, t, attempt_outcome::abandoned);
}

std::vector<endpoint_status> group_core::status() const
{
    std::lock_guard lock(mutex_);
    std::vector<endpoint_status> out;
    out.reserve(gates_.size());
    for (const auto& [endpoint, gate] : gates_) {
        auto& s = out.emplace_back();
        s.endpoint = endpoint;
        gate.status(s);
    }
    return out;
}

void group_core::collect(std::vector<waker>& wake)
{
    for (const std::uint64_t id : ids_) {
        auto it = wakers_.find(id);
        if (it == wakers_.end()) continue;  // it asked again meanwhile, or left
        wake.push_back(std::move(it->second));
        wakers_.erase(it);
    }
    ids_.clear();
}

}  // namespace detail

}  // namespace tether
