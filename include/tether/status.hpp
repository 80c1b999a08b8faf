// tether: where a client is in its life, and its counters.
#ifndef TETHER_STATUS_HPP
#define TETHER_STATUS_HPP

#include <cstdint>
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
std::string_view to_string(client_state s) noexcept;

/// Counters since construction. Read from any thread.
struct client_stats {
    std::uint64_t connections = 0;  ///< upgrades that succeeded
    std::uint64_t attempts = 0;     ///< connection attempts started
    /// Handed to the application: JSON objects with a string "type", or raw messages.
    std::uint64_t messages_received = 0;
    std::uint64_t messages_ignored = 0;    ///< skipped by the JSON adapter: valid JSON of another shape, or binary
    std::uint64_t messages_malformed = 0;  ///< text that was not JSON, dropped
    std::uint64_t messages_sent = 0;       ///< messages fully written
    std::uint64_t heartbeat_timeouts = 0;  ///< links declared dead by the heartbeat
    std::uint64_t messages_too_big = 0;    ///< inbound messages over max_message_size (link closed with 1009)
    std::uint64_t inbox_depth = 0;         ///< now: messages waiting in the inbox for the application
    std::uint64_t send_queue_depth = 0;    ///< now: sends waiting for the writer
};

}  // namespace tether

#endif
