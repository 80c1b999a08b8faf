// tether: acknowledged delivery and resume, opt-in. Outbound, sent messages are kept until the
// server acknowledges them and go out again, in order, after a reconnect; inbound, the position of
// the last message delivered is offered to every upgrade, and duplicates are dropped. The wire
// convention is the README's "Nothing lost across reconnects" recipe; every part of it has a hook.
#ifndef TETHER_RESUME_HPP
#define TETHER_RESUME_HPP

#include <tether/message.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace tether {

/// How the server acknowledges the messages it received.
enum class ack_style : std::uint8_t {
    cumulative,   ///< one acknowledgement covers every message up to a sequence number
    per_message,  ///< each message is acknowledged by its own id
};

/// What an inbound message acknowledges: every message with a sequence number up to `up_to`, or
/// the one message whose id is `id`.
struct acknowledgement {
    std::optional<std::uint64_t> up_to;
    std::optional<std::string> id;
};

/// When an application's send completes.
enum class send_completion : std::uint8_t {
    written,       ///< the first time the message was written to a connection (as without acks)
    acknowledged,  ///< when the server acknowledged it: `co_await` the server's receipt
};

/// What a send meets when the retained buffer is full.
enum class when_full : std::uint8_t {
    wait,  ///< it waits in the send queue until acknowledgements make room (the queue's own bound still holds)
    fail,  ///< it fails at once with `error::retained_buffer_full`: the bounds count the queued sends too
};

/// Outbound: sent messages are kept until acknowledged, and resent after a reconnect.
struct acknowledged_sends {
    bool enabled = false;
    /// tether stamps each outgoing JSON object (a text message starting with `{`) with this member,
    /// a sequence number 1, 2, 3... inserted first: `{"seq":7,...}`. Empty: no stamping (the
    /// application's messages identify themselves; `id_of` says how).
    std::string stamp_field = "seq";
    ack_style style = ack_style::cumulative;
    /// Which inbound messages are acknowledgements, and of what. Empty: `{"type":"ack","seq":N}`
    /// (cumulative) and `{"type":"ack","id":"..."}` (per message). Acknowledgements are consumed:
    /// the application does not receive them.
    std::function<std::optional<acknowledgement>(const message_view&)> ack_of;
    /// Per-message style: a sent message's id. Empty: its top-level string member "id". A message
    /// without one is refused at its send with `error::unidentified_message`.
    std::function<std::optional<std::string>(const message&)> id_of;
    /// The retained buffer's bounds: messages sent and not yet acknowledged. A message larger than
    /// `max_bytes` goes alone, when nothing else is kept.
    std::size_t max_messages = 4096;
    std::size_t max_bytes = 4 * 1024 * 1024;
    when_full on_full = when_full::wait;
    send_completion completion = send_completion::written;
};

/// Inbound: the position of the last message delivered is offered to each upgrade, so that the
/// server resumes after it; duplicates are dropped and counted, gaps reported (`event_kind::gap`).
struct resumable_receives {
    bool enabled = false;
    /// Where an inbound message carries its position: this top-level integer member. A message
    /// without one is delivered as it is, without a position.
    std::string position_field = "seq";
    /// In place of `position_field`: a message's position, if it has one.
    std::function<std::optional<std::uint64_t>(const message_view&)> position_of;
    /// The header that offers the last position to the upgrade (nothing before the first
    /// position); empty: none.
    std::string resume_header = "Last-Event-ID";
    /// A query parameter that offers it as well, appended to the URL's query; empty: none.
    std::string resume_query;
    /// The position delivered before this client existed (e.g. kept by the application across a
    /// restart): 0 = none.
    std::uint64_t start_after = 0;
    /// Acknowledge delivered messages back to the server, cumulatively: after `ack_every`
    /// messages, or `ack_delay` after the first one not yet acknowledged.
    bool send_acks = true;
    std::size_t ack_every = 64;
    std::chrono::milliseconds ack_delay{50};
    /// The acknowledgement's text; empty: `{"type":"ack","seq":N}`.
    std::function<std::string(std::uint64_t position)> make_ack;
};

/// Both directions. Off by default: the client then keeps its plain behaviour (a message on the
/// wire when its link dies completes with `error::connection_lost`).
struct resume_config {
    acknowledged_sends sends;
    resumable_receives receives;

    /// The README's convention both ways: stamped sequence numbers with cumulative acks out,
    /// `seq` positions offered as `Last-Event-ID` in, acks back every 64 messages or 50 ms.
    static resume_config sequenced()
    {
        resume_config c;
        c.sends.enabled = true;
        c.receives.enabled = true;
        return c;
    }
};

}  // namespace tether

#endif
