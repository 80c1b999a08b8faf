// tether testing kit: an in-process WebSocket server that speaks tether's resume convention
// (acknowledged delivery both ways, replay after a reconnect), for tests of the resume mode.
#ifndef TETHER_TESTING_RESUME_SERVER_HPP
#define TETHER_TESTING_RESUME_SERVER_HPP

#include <tether/export.hpp>

#include <tether/error.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace tether::testing {

/// How a resume_server acknowledges and listens.
struct resume_server_options {
    /// A cumulative ack `{"type":"ack","seq":N}` once this many client messages were accepted since
    /// the last ack...
    std::size_t ack_every = 64;
    /// ... or this long after the first message accepted since the last ack, whichever comes first.
    std::chrono::milliseconds ack_delay{50};
    /// false: the server never acknowledges client messages, not even with the ack that follows the
    /// 101 or the one that answers a duplicate (for tests of a client's bounded resend buffer).
    bool acknowledge = true;
    /// true: each accepted message is acknowledged at once by its top-level string "id",
    /// `{"type":"ack","id":"<id>"}`, instead of the cumulative acks above (a message without one is
    /// acknowledged cumulatively, at once). A duplicate is answered by its id too. The ack after the
    /// 101 stays cumulative.
    bool per_message_acks = false;
    /// Port, TLS and permessage-deflate, as for test_server.
    server_options listen;
};

/// What one session saw, over all of its connections.
struct resume_session_stats {
    std::uint64_t accepted = 0;    ///< client messages accepted (seq == last accepted + 1), delivered once each
    std::uint64_t duplicates = 0;  ///< client messages with seq <= last accepted: dropped
    std::uint64_t gaps = 0;        ///< client messages with seq > last accepted + 1: dropped
    std::uint64_t malformed =
        0;  ///< texts that were no JSON object with a positive "seq" (or a bad ack), binary messages
    std::uint64_t published = 0;     ///< server messages published: the last server seq
    std::uint64_t replayed = 0;      ///< server messages sent again on a later connection
    std::uint64_t client_acked = 0;  ///< the highest server seq the client acknowledged (ack or Last-Event-ID)
    std::uint64_t kept = 0;          ///< server messages kept now: published and not yet acknowledged
    std::uint64_t acks_sent = 0;     ///< acknowledgements the server sent, of any kind
    std::uint64_t connections = 0;   ///< upgrades completed for the session
};

/// A WebSocket server on 127.0.0.1 that speaks tether's resume convention (v1) for any number of
/// sessions, named by the upgrade URL's query parameter `session=<id>` (an upgrade without one is
/// answered with 400). Per session it keeps the last client seq it accepted and every message it
/// published that the client has not acknowledged, so memory is bounded by what is unacknowledged,
/// whatever the traffic. Session state outlives connections and a stop()/start() of the listener.
///
/// On each upgrade it reads `Last-Event-ID: M` (or the query parameter `last_seq=M`), which
/// acknowledges server messages up to M, completes the upgrade, sends `{"type":"ack","seq":N}` with
/// its last accepted client seq N, replays the kept messages with seq > M in order, and then sends
/// new ones as they are published. That connection becomes the session's newest: publications and
/// acknowledgements go to it alone. An older connection of the same session stays open until the
/// client ends it; what it still delivers goes through the same dedupe.
///
/// Each connection has a reader and a writer of its own, so that a client that streams while the
/// server publishes is never stalled by either. Not thread safe: use it from the executor it runs
/// on (tests run one single-threaded io_context). After stop() or destruction nothing of it stays
/// pending on the executor once its connections have ended (they are dropped at once).
class TETHER_API resume_server {
public:
    /// Receives each accepted client message, as parsed (its "seq" included), in seq order and
    /// exactly once, with the name of its session.
    using message_handler = std::function<void(std::string_view session, const boost::json::object& message)>;

    /// Listens as `options.listen` says, at once. Throws when the port is taken or the TLS files do
    /// not load.
    explicit resume_server(boost::asio::any_io_executor ex, resume_server_options options = {});
    /// Drops every connection and closes the listener; the handler is released.
    ~resume_server();
    resume_server(const resume_server&) = delete;
    resume_server& operator=(const resume_server&) = delete;

    std::uint16_t port() const noexcept;
    /// `ws://127.0.0.1:<port>/?session=<id>` (`wss://` with TLS); `session` is percent-encoded.
    std::string url(std::string_view session) const;

    /// The handler for client messages accepted from now on; an empty one drops them (they are
    /// still accepted and acknowledged). It may call publish().
    void on_message(message_handler h);

    /// Publishes `message` to `session` (created when new): stamps it with the session's next
    /// `"seq"` (replacing any), keeps it until the client acknowledges it, and sends it on the
    /// session's newest connection when one is open (else the next connection gets it by replay).
    /// Returns the seq. Throws std::invalid_argument when its "type" is "ack" (reserved).
    std::uint64_t publish(std::string_view session, boost::json::object message);

    /// The session's counters; all zero for a session never seen.
    resume_session_stats stats(std::string_view session) const;
    /// The session's last accepted client seq (0: none yet, or a session never seen).
    std::uint64_t last_accepted(std::string_view session) const;

    /// Closes every live connection without a close frame, as a dropped link would; the listener
    /// stays up.
    void drop_connections();
    /// Closes the listener and drops every live connection without a close frame, like a crash of
    /// a server whose state is durable: sessions are kept.
    void stop();
    /// Listens again on the same port after `stop`.
    void start();

    /// Connections currently open, upgraded or not.
    std::size_t live_connections() const noexcept;

    /// Completes once `predicate()` holds, re-checked after every upgrade, accepted, dropped or
    /// acknowledging message and connection end, or fails with `timed_out` after `limit`.
    boost::asio::awaitable<error_code> async_wait_until(std::function<bool()> predicate,
                                                        std::chrono::milliseconds limit = std::chrono::seconds(10));

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace tether::testing

#endif
