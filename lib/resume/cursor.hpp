// Internal: the inbound cursor, the sans-I/O half of resumable receives. It remembers the position
// of the last message delivered, judges each new position (next, duplicate, or after a gap),
// decides when to acknowledge back, and what to offer the next upgrade. Table-tested alone.
#ifndef TETHER_LIB_RESUME_CURSOR_HPP
#define TETHER_LIB_RESUME_CURSOR_HPP

#include <tether/config.hpp>
#include <tether/resume.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace tether::detail {

/// What becomes of an inbound message with a position.
enum class admission : std::uint8_t {
    next,       ///< the one after the last delivered: deliver it
    duplicate,  ///< at or below the last delivered: drop it
    gap,        ///< beyond the next: deliver it, and report the positions skipped
};

class inbound_cursor {
public:
    explicit inbound_cursor(const resumable_receives& cfg) : cfg_(cfg), last_(cfg.start_after), acked_(last_) {}

    /// Judges `position`; a message delivered moves the cursor to it.
    admission admit(std::uint64_t position) noexcept;
    /// The position of the last message delivered (the configured start before any).
    std::uint64_t last() const noexcept { return last_; }

    /// Acknowledgements back: due at once (`ack_every` delivered since the last), or later
    /// (some are waiting: after `ack_delay`).
    bool ack_due_now() const noexcept;
    bool ack_waiting() const noexcept { return cfg_.send_acks && last_ > acked_; }
    /// The position to acknowledge now, marked acknowledged; nullopt when nothing new.
    std::optional<std::uint64_t> take_ack() noexcept;
    /// A new link: the upgrade's offer acknowledges everything delivered so far.
    void offered() noexcept
    {
        acked_ = last_;
        delivered_since_ack_ = 0;
    }

private:
    const resumable_receives& cfg_;
    std::uint64_t last_;
    std::uint64_t acked_;  // the last position acknowledged, by an ack or by an upgrade's offer
    std::uint64_t delivered_since_ack_ = 0;
};

/// What an upgrade request carries for a resume: the request target (the URL's, with the query
/// parameter appended when configured) and the header, when there is a position to offer.
struct resume_offer {
    std::string target;
    std::optional<header> header_field;
};

/// The offer for position `last` (0: nothing delivered yet, so nothing is offered).
resume_offer offer_for(const resumable_receives& cfg, std::uint64_t last, std::string_view target);

/// The default acknowledgement text, `{"type":"ack","seq":N}`.
std::string default_ack(std::uint64_t position);

}  // namespace tether::detail

#endif
