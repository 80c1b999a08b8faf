// Internal: acknowledged sends and resumable receives on the client's strand. It owns the outbound
// ledger and the inbound cursor (the sans-I/O decisions) and does their I/O-side chores: reading
// acknowledgements and positions out of each read's messages before delivery sees them, completing
// the sends they release, counting, and reporting gaps. The reader, the writer and the acker of
// each link, and the supervisor between links, call it; nothing here touches a socket.
#ifndef TETHER_LIB_RESUME_RESUME_STATE_HPP
#define TETHER_LIB_RESUME_RESUME_STATE_HPP

#include "../delivery.hpp"
#include "../events.hpp"
#include "../mailbox.hpp"
#include "cursor.hpp"
#include "ledger.hpp"

#include <tether/resume.hpp>

#include <atomic>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tether::detail {

class resume_state {
public:
    /// With `when_full::fail`, bounds what `sends` admits (see `send_queue::bound_retention`).
    resume_state(const resume_config& cfg, asio::any_io_executor ex, const notifier& events, counters& stats,
                 send_queue& sends, delivery& inbound);

    // --- the writer, on the strand -----------------------------------------------------------------------

    /// Null unless sends are acknowledged.
    outbound_ledger* ledger() noexcept { return ledger_ ? &*ledger_ : nullptr; }
    /// After the writer took messages into the ledger: the ones it refused (no id) fail now.
    void refused(std::vector<outgoing>& items);
    /// A write of everything before sequence number `upto` succeeded; how many messages it wrote
    /// for the first time.
    std::size_t written_through(std::uint64_t upto);
    /// The acknowledgement of inbound messages to send now, if one is due and there is news.
    std::optional<std::string> take_ack_text();
    /// Publishes the ledger's size after the writer changed it.
    void ledger_changed() noexcept;

    // --- the heartbeat, on the strand -------------------------------------------------------------------

    /// Every ping interval: the ledger gives back what streaming left behind.
    void trim() noexcept
    {
        if (ledger_) ledger_->trim();
    }

    // --- the reader, on the strand ----------------------------------------------------------------------

    struct admitted {
        std::span<const inbound_message> deliver;  ///< what goes on to delivery, in order
        bool room_made = false;  ///< acknowledgements released kept messages: the writer may take more
    };
    /// Takes out of one read's messages the acknowledgements (applied) and the duplicates
    /// (dropped, counted); reports gaps. The result's span stays valid until the next call.
    admitted admit(std::span<const inbound_message> batch);
    /// Inbound acknowledgements: one is due at once, or some are waiting for the delay.
    bool ack_due_now() const noexcept { return cursor_ && cursor_->ack_due_now(); }
    bool ack_waiting() const noexcept { return cursor_ && cursor_->ack_waiting(); }
    bool receives_acked() const noexcept { return cursor_ && cfg_.receives.send_acks; }
    std::chrono::milliseconds ack_delay() const noexcept { return cfg_.receives.ack_delay; }

    // --- the supervisor, on the strand ------------------------------------------------------------------

    /// What the next upgrade request offers, for the URL's `target`.
    resume_offer offer(std::string_view target) const;
    /// A link opened (its upgrade carried the offer): kept messages go out again, oldest first.
    void link_opened();
    /// The client has finished: kept messages' sends fail with `ec`.
    void finish(error_code ec);

private:
    void complete(std::vector<finished_send>& done);
    std::optional<acknowledgement> ack_in(const inbound_message& m, std::span<const std::string_view> members) const;
    std::optional<std::uint64_t> position_in(const inbound_message& m, std::span<const std::string_view> members) const;

    const resume_config& cfg_;
    asio::any_io_executor ex_;
    const notifier& events_;
    counters& stats_;
    send_queue& sends_;
    delivery& inbound_;
    std::optional<outbound_ledger> ledger_;
    std::optional<inbound_cursor> cursor_;
    std::vector<inbound_message> admitted_;  // a read's messages without the ones taken out
    std::vector<finished_send> done_;        // reused: sends to complete
};

}  // namespace tether::detail

#endif
