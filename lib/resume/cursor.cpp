#include "cursor.hpp"

#include <tether/url.hpp>

#include <string>

namespace tether::detail {

admission inbound_cursor::admit(std::uint64_t position) noexcept
{
    if (position <= last_) return admission::duplicate;
    const admission a = position == last_ + 1 ? admission::next : admission::gap;
    last_ = position;
    ++delivered_since_ack_;
    return a;
}

bool inbound_cursor::ack_due_now() const noexcept
{
    return cfg_.send_acks && last_ > acked_ && delivered_since_ack_ >= cfg_.ack_every;
}

std::optional<std::uint64_t> inbound_cursor::take_ack() noexcept
{
    if (!cfg_.send_acks || last_ <= acked_) return std::nullopt;
    acked_ = last_;
    delivered_since_ack_ = 0;
    return last_;
}

resume_offer offer_for(const resumable_receives& cfg, std::uint64_t last, std::string_view target)
{
    resume_offer o{std::string(target), std::nullopt};
    if (last == 0) return o;
    const std::string n = std::to_string(last);
    if (!cfg.resume_query.empty()) {
        // Before a fragment there is none: URLs with one are refused at construction.
        o.target += o.target.find('?') == std::string::npos ? '?' : '&';
        o.target += percent_encode(cfg.resume_query);
        o.target += '=';
        o.target += n;
    }
    if (!cfg.resume_header.empty()) o.header_field = header{cfg.resume_header, n};
    return o;
}

std::string default_ack(std::uint64_t position)
{
    return R"({"type":"ack","seq":)" + std::to_string(position) + "}";
}

}  // namespace tether::detail
