#include <tether/reconnect_policy.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace tether {
namespace {

using std::chrono::milliseconds;

void require(bool ok, const char* field, const char* rule)
{
    if (!ok) throw std::invalid_argument(std::string(field) + ": " + rule);
}

}  // namespace

reconnect_decision retry_after_token_refusal(const disconnect& why, const reconnect_history& h) noexcept
{
    if (!is_token_refusal(why) || h.attempts_in(failure_class::permanent) != 1) return std::nullopt;
    return milliseconds::zero();
}

reconnect_decision seed_policy::operator()(const disconnect& why, const reconnect_history& h) const
{
    // history.random is 0.5 unless the client draws it, so a table test sees exact delays.
    const auto spread = [&](milliseconds d) {
        const double f = 1.0 + jitter * (2.0 * std::clamp(h.random, 0.0, 1.0) - 1.0);
        return milliseconds(static_cast<milliseconds::rep>(std::llround(static_cast<double>(d.count()) * f)));
    };
    switch (classify(why)) {
    case failure_class::permanent: return retry_refused_token ? retry_after_token_refusal(why, h) : std::nullopt;
    case failure_class::user: return std::nullopt;
    case failure_class::not_found: {
        const unsigned n = h.attempts_in(failure_class::not_found);
        if (n > not_found_retries) return std::nullopt;
        return spread(delay * n);
    }
    case failure_class::transient:
    case failure_class::throttled: {
        const unsigned n = h.attempts_in(failure_class::transient) + h.attempts_in(failure_class::throttled);
        if (n > max_retries) return std::nullopt;
        return std::max(spread(delay), why.retry_after.value_or(milliseconds::zero()));
    }
    }
    return std::nullopt;
}

reconnect_decision exponential_policy::operator()(const disconnect& why, const reconnect_history& h) const
{
    const failure_class c = classify(why);
    if (c == failure_class::permanent) return retry_refused_token ? retry_after_token_refusal(why, h) : std::nullopt;
    if (c == failure_class::user) return std::nullopt;
    if (max_retries != 0 && h.attempts > max_retries) return std::nullopt;

    const double exponent = h.attempts == 0 ? 0.0 : static_cast<double>(h.attempts - 1);
    const double capped = std::min(static_cast<double>(initial.count()) * std::pow(multiplier, exponent),
                                   static_cast<double>(max_delay.count()));
    const double spread = 1.0 + jitter * (2.0 * std::clamp(h.random, 0.0, 1.0) - 1.0);
    milliseconds d(static_cast<milliseconds::rep>(std::llround(capped * spread)));
    if (c == failure_class::throttled && why.retry_after) d = std::max(d, *why.retry_after);

    if (max_elapsed != milliseconds::zero() && h.since_healthy + d > max_elapsed) return std::nullopt;
    return d;
}

reconnect_policy::reconnect_policy(seed_policy p)
{
    require(p.delay > milliseconds::zero(), "policy.delay", "must be positive");
    require(p.jitter >= 0.0 && p.jitter < 1.0, "policy.jitter", "must be in [0, 1)");
    fn_ = p;
}

reconnect_policy::reconnect_policy(exponential_policy p)
{
    require(p.initial > milliseconds::zero(), "policy.initial", "must be positive");
    require(p.multiplier >= 1.0, "policy.multiplier", "must be at least 1");
    require(p.jitter >= 0.0 && p.jitter < 1.0, "policy.jitter", "must be in [0, 1)");
    require(p.max_delay >= p.initial, "policy.max_delay", "must be at least policy.initial");
    require(p.max_elapsed >= milliseconds::zero(), "policy.max_elapsed", "must not be negative");
    fn_ = p;
}

reconnect_policy::reconnect_policy(never_policy p) : fn_(p) {}

}  // namespace tether
