// tether: where a client is in its life, and its counters.
#ifndef TETHER_STATUS_HPP
#define TETHER_STATUS_HPP

#include <tether/export.hpp>

#include <tether/disconnect.hpp>

#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tether {

/// Where the client is in its life.
enum class client_state {
    idle,          ///< constructed; neither `async_run` nor `async_connect` called yet
    connecting,    ///< an attempt is under way (resolve, TCP, TLS, token, upgrade)
    connected,     ///< the upgrade succeeded and the link is up
    reconnecting,  ///< the link is down; waiting out the policy's delay
    closing,       ///< `async_close` was called; flushing and closing politely
    closed,        ///< finished for good; no callback will run again
};

/// The name of a state, e.g. "reconnecting".
TETHER_API std::string_view to_string(client_state s) noexcept;

/// What a `client_event` reports.
enum class event_kind {
    state,              ///< the client's state changed: `state` is the new one
    held,               ///< the endpoint group holds attempt `attempt` back; `delay` is the wait when known
    attempt,            ///< attempt `attempt` starts (after any wait)
    connected,          ///< attempt `attempt` connected: the upgrade succeeded
    disconnected,       ///< attempt `attempt` failed, or its link ended: `reason` says why
    decision,           ///< the policy decided after `reason`: `retry` after `delay` with attempt `attempt`, or stop
    pong,               ///< a pong answered the heartbeat's ping after `rtt`
    heartbeat_timeout,  ///< no frame arrived within `delay` (the deadline) of a ping; `rtt` is the smoothed round trip
    gap,                ///< resumable receives: the server skipped positions; `position` came, `expected` was due
};

/// The name of a kind, e.g. "heartbeat_timeout".
TETHER_API std::string_view to_string(event_kind k) noexcept;

/// One structured event, for a service's logger or tracer (`client_callbacks::on_event`): every
/// state change, attempt, disconnect, policy decision and heartbeat verdict, as data. Only the
/// members its kind names are set. It carries no secrets: no token and no header.
struct client_event {
    event_kind kind = event_kind::state;
    std::chrono::system_clock::time_point at{};
    client_state state = client_state::idle;
    unsigned attempt = 0;
    disconnect reason;
    bool retry = false;
    std::chrono::milliseconds delay{0};
    std::chrono::microseconds rtt{0};
    std::uint64_t position = 0, expected = 0;
};

/// Round-trip times from ping to pong on one link.
struct rtt_stats {
    std::chrono::microseconds min{0}, avg{0}, last{0};
    std::uint64_t samples = 0;  ///< pongs timed; the times are zero without one
};

/// Counters since construction. Read from any thread.
struct client_stats {
    std::uint64_t connections = 0;  ///< upgrades that succeeded
    std::uint64_t attempts = 0;     ///< connection attempts started
    /// Handed to the application: JSON objects with a string "type", or raw messages.
    std::uint64_t messages_received = 0;
    /// Skipped by the JSON adapter, each kind of message for its own reason: text that is valid
    /// JSON of another shape; text that is not JSON (reported to `on_error`); binary messages that
    /// are not a JSON object with a string "type" (reported to `on_error`).
    std::uint64_t messages_ignored = 0;
    std::uint64_t messages_malformed = 0;
    std::uint64_t messages_binary_skipped = 0;
    std::uint64_t messages_sent = 0;       ///< messages fully written
    std::uint64_t heartbeat_timeouts = 0;  ///< links declared dead by the heartbeat
    std::uint64_t messages_too_big = 0;    ///< inbound messages over max_message_size (link closed with 1009)
    std::uint64_t inbox_depth = 0;         ///< now: messages waiting in the inbox for the application
    std::uint64_t send_queue_depth = 0;    ///< now: sends waiting for the writer
    std::uint64_t bytes_received = 0;      ///< read from the network (frames as they came, after TLS)
    std::uint64_t bytes_sent = 0;          ///< written to the network (frames, before TLS)
    /// The smoothed round-trip time from ping to pong and its variation (RFC 6298), over the
    /// links so far; zero before the first pong.
    std::chrono::microseconds rtt_smoothed{0};
    std::chrono::microseconds rtt_variation{0};
    /// How long the link now up has been connected; zero when none is.
    std::chrono::milliseconds uptime{0};
    /// Acknowledged sends (`resume_config::sends`): messages kept until acknowledged (now), writes
    /// after a message's first (resends after reconnects), and messages the server acknowledged.
    std::uint64_t messages_unacknowledged = 0;
    std::uint64_t messages_resent = 0;
    std::uint64_t messages_acknowledged = 0;
    /// Resumable receives (`resume_config::receives`): the position of the last message delivered,
    /// messages dropped because they were delivered before, gaps in the positions, and the
    /// acknowledgements sent back.
    std::uint64_t resume_position = 0;
    std::uint64_t duplicates_dropped = 0;
    std::uint64_t gaps = 0;
    std::uint64_t acks_sent = 0;
};

/// One connection attempt, and the link if it opened: what `client::history()` keeps.
struct connection_record {
    unsigned attempt = 0;                               ///< its number since the last healthy link (1 = the first)
    std::chrono::system_clock::time_point started{};    ///< the attempt began (the group's wait included)
    std::chrono::system_clock::time_point connected{};  ///< the upgrade succeeded; epoch if it did not
    std::chrono::system_clock::time_point ended{};      ///< the attempt failed or the link ended
    disconnect why;                                     ///< why it ended
    bool healthy = false;                               ///< a message or a pong arrived on the link
    /// What the policy chose after it: the wait before the next attempt; nullopt when the client
    /// stopped (the policy gave up, or the application closed).
    std::optional<std::chrono::milliseconds> delay;
    std::uint64_t messages_received = 0, messages_sent = 0;  ///< on this link
    std::uint64_t bytes_received = 0, bytes_sent = 0;        ///< on this link, frames as on the wire
    rtt_stats rtt;                                           ///< ping to pong on this link
};

/// As JSON, through Boost.JSON's `value_from`: `boost::json::value_from(client.history())`. Times
/// are UTC in ISO 8601 with milliseconds ("2026-11-29T07:12:29.123Z"), durations numbers named with
/// their unit ("delay_ms", "rtt_us"); an absent time or delay is null.
TETHER_API void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const disconnect& d);
TETHER_API void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const rtt_stats& r);
TETHER_API void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const client_stats& s);
TETHER_API void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const connection_record& r);
TETHER_API void tag_invoke(const boost::json::value_from_tag&, boost::json::value& v, const client_event& e);

}  // namespace tether

#endif
