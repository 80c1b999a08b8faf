// tether: reconnect policies, pure functions from (why, history) to "retry after d" or "stop".
#ifndef TETHER_RECONNECT_POLICY_HPP
#define TETHER_RECONNECT_POLICY_HPP

#include <tether/export.hpp>

#include <tether/disconnect.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <functional>
#include <optional>

namespace tether {

/// What the supervisor knows when a connection has ended, including this failure. Budgets reset
/// only when a link proved healthy (a message or a pong arrived), or on `client::reconnect()`.
struct reconnect_history {
    /// Failed attempts since the last healthy link, of every class, this one included.
    unsigned attempts = 0;
    /// The same count per `failure_class` (indexed by its value), this one included.
    std::array<unsigned, failure_class_count> by_class{};
    /// Time since the last healthy link, or since `async_run` began if none was healthy yet.
    std::chrono::milliseconds since_healthy{0};
    /// How long the connection that just ended was established; zero if it never was.
    std::chrono::milliseconds uptime{0};
    /// A uniform sample in [0, 1), drawn afresh for each decision from the client's generator,
    /// so jitter is injected rather than read from a global source.
    double random = 0.5;

    unsigned attempts_in(failure_class c) const noexcept { return by_class[static_cast<std::size_t>(c)]; }
};

/// The decision: retry after a delay, or stop (`std::nullopt`).
using reconnect_decision = std::optional<std::chrono::milliseconds>;

/// The rule behind `retry_refused_token`: a retry at once after the first refusal of the token
/// since the last healthy link (HTTP 401, close 4003); nothing for any other disconnect, or for
/// a second refusal.
TETHER_API reconnect_decision retry_after_token_refusal(const disconnect& why, const reconnect_history& h) noexcept;

/// The original transport's numbers, done right. Close 4003 and HTTP 401/403 (and every other
/// permanent failure) stop at once. Close 4001 and HTTP 404 get `not_found_retries` retries after
/// `delay` x n. Any other failure, the first connect included, gets `max_retries` retries `delay`
/// apart; HTTP 429/503 wait for Retry-After when it is longer. Each delay is spread by
/// +-`jitter`, so that many clients dropped by one server restart do not return in lockstep.
struct TETHER_API seed_policy {
    std::chrono::milliseconds delay{2000};  ///< base delay; must be positive.
    unsigned max_retries = 5;               ///< retries for ordinary failures.
    unsigned not_found_retries = 3;         ///< retries for close 4001 / HTTP 404.
    double jitter = 0.1;                    ///< relative spread in [0, 1); 0 = exact delays.
    /// One retry, at once, after the server refused the token (HTTP 401, close 4003), when the
    /// token source has a fresh one (`token_answer::fresh`); a second refusal stops. Off: a
    /// refusal is permanent, as the original transport has it.
    bool retry_refused_token = false;

    reconnect_decision operator()(const disconnect& why, const reconnect_history& h) const;
};

/// gRPC's connection backoff: `initial` x `multiplier`^(n-1), capped at `max_delay`, with
/// +-`jitter` spread, honouring Retry-After on HTTP 429/503. Permanent failures stop at once.
struct TETHER_API exponential_policy {
    std::chrono::milliseconds initial{1000};      ///< first delay; must be positive.
    double multiplier = 1.6;                      ///< growth per attempt; must be >= 1.
    double jitter = 0.2;                          ///< relative spread in [0, 1).
    std::chrono::milliseconds max_delay{120000};  ///< cap before jitter; must be >= initial.
    unsigned max_retries = 0;                     ///< retries before giving up; 0 = unlimited.
    std::chrono::milliseconds max_elapsed{0};     ///< stop when unhealthy this long; 0 = never.
    bool retry_refused_token = false;             ///< as `seed_policy::retry_refused_token`.

    reconnect_decision operator()(const disconnect& why, const reconnect_history& h) const;
};

/// Never reconnect: the first failure is final.
struct never_policy {
    reconnect_decision operator()(const disconnect&, const reconnect_history&) const noexcept { return {}; }
};

/// A type-erased policy. Presets are validated on conversion and throw `std::invalid_argument`
/// naming the offending field; any callable with the signature is accepted as it is.
class TETHER_API reconnect_policy {
public:
    using signature = reconnect_decision(const disconnect&, const reconnect_history&);

    reconnect_policy(seed_policy p);
    reconnect_policy(exponential_policy p);
    reconnect_policy(never_policy p);

    template <class F>
    requires(std::is_invocable_r_v<reconnect_decision, const F&, const disconnect&, const reconnect_history&> &&
             !std::same_as<std::remove_cvref_t<F>, reconnect_policy> &&
             !std::same_as<std::remove_cvref_t<F>, seed_policy> &&
             !std::same_as<std::remove_cvref_t<F>, exponential_policy> &&
             !std::same_as<std::remove_cvref_t<F>, never_policy>) reconnect_policy(F f)
        : fn_(std::move(f))
    {
    }

    reconnect_decision operator()(const disconnect& why, const reconnect_history& h) const { return fn_(why, h); }

private:
    std::function<signature> fn_;
};

}  // namespace tether

#endif
