// Internal: round-trip times from ping to pong, and the pong deadline they suggest. Pure: the
// samples come in, the estimates go out, as TCP computes its retransmission timeout (RFC 6298).
#ifndef TETHER_LIB_LINK_RTT_HPP
#define TETHER_LIB_LINK_RTT_HPP

#include <tether/status.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace tether::detail {

class rtt_estimator {
public:
    using duration = std::chrono::microseconds;

    void add(duration sample) noexcept
    {
        sample = std::max(sample, duration::zero());
        if (samples_ == 0) {
            srtt_ = sample;
            rttvar_ = sample / 2;
            min_ = sample;
        } else {
            // RFC 6298 2.3: beta = 1/4, alpha = 1/8.
            const duration error = srtt_ > sample ? srtt_ - sample : sample - srtt_;
            rttvar_ = (3 * rttvar_ + error) / 4;
            srtt_ = (7 * srtt_ + sample) / 8;
            min_ = std::min(min_, sample);
        }
        last_ = sample;
        sum_ += sample;
        ++samples_;
    }

    std::uint64_t samples() const noexcept { return samples_; }
    duration smoothed() const noexcept { return srtt_; }
    duration variation() const noexcept { return rttvar_; }

    /// TCP's retransmission timeout: srtt + 4 x rttvar (RFC 6298 2.3).
    duration rto() const noexcept { return srtt_ + 4 * rttvar_; }

    /// How long to wait for a pong before declaring the link dead: two retransmission timeouts,
    /// at least `floor`, at most `cap`; `cap` before the first sample. TCP backs off after its
    /// first timeout rather than giving up, and so must a verdict that ends a link: one RTO alone
    /// is passed by about one pong in 70 on a link of 100 +- 50 ms each way.
    duration pong_deadline(duration floor, duration cap) const noexcept
    {
        if (samples_ == 0) return cap;
        return std::clamp(2 * rto(), std::min(floor, cap), cap);
    }

    /// min / avg / last, for the history.
    rtt_stats summary() const noexcept
    {
        rtt_stats s;
        s.samples = samples_;
        if (samples_ == 0) return s;
        s.min = min_;
        s.avg = sum_ / static_cast<std::int64_t>(samples_);
        s.last = last_;
        return s;
    }

private:
    duration srtt_{0}, rttvar_{0}, min_{0}, last_{0}, sum_{0};
    std::uint64_t samples_ = 0;
};

}  // namespace tether::detail

#endif
