// tether: budgets that many clients of one service share per endpoint.
#ifndef TETHER_ENDPOINT_GROUP_HPP
#define TETHER_ENDPOINT_GROUP_HPP

#include <tether/export.hpp>

#include <tether/endpoint_group_config.hpp>

#include <memory>
#include <vector>

namespace tether {

class endpoint_group;

namespace detail {
class group_core;
group_core& core_of(endpoint_group& g) noexcept;
}  // namespace detail

/// Budgets shared by many clients: per endpoint, a connect-rate limit (a token bucket), a cap on
/// concurrent attempts and a circuit breaker. A client joins through `client_config::group`; its
/// own policy still decides whether and when to retry, and the group decides only when an attempt
/// may start. The wait shows in `on_reconnecting` (`held_by_group`) and counts in
/// `reconnect_history::since_healthy`; `async_close` during it completes promptly.
///
/// Thread safe: clients on different executors and threads may share one group. Its lock is held
/// only for the bookkeeping, never across a wait. Clients hold their group by `shared_ptr`.
class TETHER_API endpoint_group {
public:
    /// Throws `std::invalid_argument` naming the first invalid field of `cfg`.
    explicit endpoint_group(endpoint_group_config cfg = {});
    ~endpoint_group();
    endpoint_group(const endpoint_group&) = delete;
    endpoint_group& operator=(const endpoint_group&) = delete;

    const endpoint_group_config& config() const noexcept;
    /// Every endpoint the group has seen, in no particular order.
    std::vector<endpoint_status> status() const;

private:
    friend detail::group_core& detail::core_of(endpoint_group& g) noexcept;
    std::shared_ptr<detail::group_core> core_;
};

}  // namespace tether

#endif
