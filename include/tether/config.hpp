// tether: the client's configuration, a plain aggregate with documented defaults.
#ifndef TETHER_CONFIG_HPP
#define TETHER_CONFIG_HPP

#include <tether/export.hpp>

#include <tether/disconnect.hpp>
#include <tether/endpoint_group.hpp>
#include <tether/message.hpp>
#include <tether/proxy.hpp>
#include <tether/reconnect_policy.hpp>
#include <tether/resume.hpp>
#include <tether/status.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tether {

using namespace std::chrono_literals;

/// One HTTP header sent with the upgrade request.
struct header {
    std::string name;
    std::string value;
};

/// TLS settings for `wss://` URLs. The defaults verify the server like a browser does: its chain
/// against the system trust store and its name against the URL's host.
struct tls_config {
    /// Verify the server certificate (chain, validity dates and host name). Leave on: off accepts
    /// any server, including an attacker's, and the bearer token goes to it.
    bool verify_peer = true;
    /// A PEM file of trusted CA certificates, used in addition to the system store.
    std::string ca_file;
    /// A directory of trusted CA certificates in OpenSSL's hashed layout (`openssl rehash`).
    std::string ca_path;
    /// Mutual TLS: the client's certificate chain (PEM) and its private key (PEM, unencrypted).
    /// Both or neither.
    std::string certificate_file;
    std::string key_file;
};

/// Why a token is wanted.
enum class token_reason {
    first_connect,  ///< the client's first attempt
    reconnect,      ///< after a dropped link or a failed attempt: a cached token will do
    refused,        ///< the server refused the last token (HTTP 401, close 4003): a new one is needed
};

/// The name of a reason, e.g. "refused".
TETHER_API std::string_view to_string(token_reason r) noexcept;

/// What `client_config::token_source` is asked.
struct token_request {
    token_reason reason = token_reason::first_connect;
    unsigned attempt = 1;  ///< the attempt it is for (1 = the first since the last healthy link)
};

/// What it answers.
struct token_answer {
    std::string token;  ///< sent as `Authorization: Bearer <token>` unless empty
    bool fresh = true;  ///< fetched anew, not the cached one the server may have refused
};

/// Everything a client needs. Every member has a default except `url`; `validate()` (called by
/// the client's constructor) throws `std::invalid_argument` naming the first invalid field.
/// A duration of zero means "off" where the member says so.
struct TETHER_API client_config {
    /// `ws://host[:port]/path?query` or `wss://...`.
    std::string url;

    /// Extra headers sent with every upgrade request. Names and values may not contain CR or LF.
    std::vector<header> headers;

    /// Called on every connection attempt; a non-empty result is sent as
    /// `Authorization: Bearer <token>`. Throwing fails that attempt (kind `token`) and the policy
    /// decides. Runs on the client's executor, so it must not block for long.
    std::function<std::string()> token_provider;

    /// The asynchronous form: awaited on every attempt, in place of `token_provider` when set.
    std::function<boost::asio::awaitable<std::string>()> async_token_provider;

    /// The form that is told why a token is wanted (`token_request`), so that it can cache one:
    /// reuse it after a transient failure, fetch a new one only when the server refused the last
    /// (HTTP 401, close 4003). It answers whether the token is fresh: with a policy's
    /// `retry_refused_token`, a refusal gets one retry, and only with a fresh token. Awaited on
    /// every attempt under `connect_timeout`, in place of the two above when set.
    std::function<boost::asio::awaitable<token_answer>(token_request)> token_source;

    /// Deadline for resolve + TCP connect (+ the proxy's CONNECT) + TLS handshake of one attempt.
    std::chrono::milliseconds connect_timeout = 10s;
    /// Deadline for the WebSocket upgrade (and for the closing handshake).
    std::chrono::milliseconds handshake_timeout = 10s;
    /// A ping is sent this often while connected; zero turns the heartbeat off.
    std::chrono::milliseconds ping_interval = 30s;
    /// After a ping, some frame (pong, message, ping) must arrive within this time or the link is
    /// declared dead and the supervisor reconnects. Must be positive when the heartbeat is on. A
    /// dead link is found within ping_interval + pong_timeout when pong_timeout <= ping_interval.
    std::chrono::milliseconds pong_timeout = 10s;
    /// When positive, the pong deadline adapts to the measured round trip as TCP's
    /// retransmission timeout (RTO = srtt + 4 x rttvar) does: max(this floor, 2 x RTO), capped by
    /// `pong_timeout`. Two RTOs, because TCP backs off once before it gives up and a verdict ends
    /// the link. A dead link on a fast network is found sooner, and a slow one gets no false
    /// verdict. Zero (the default): always `pong_timeout`.
    std::chrono::milliseconds pong_timeout_floor = 0s;
    /// When the machine slept between two heartbeat ticks (CLOCK_BOOTTIME moved on 5 s or more
    /// beyond CLOCK_MONOTONIC), the link is probably dead: NATs and servers dropped it meanwhile.
    /// The next ping then gets this deadline (at most `pong_timeout`), not the full one.
    std::chrono::milliseconds suspend_pong_timeout = 2s;
    /// The clock that counts suspended time, for tests that simulate a suspend; empty (the
    /// default): CLOCK_BOOTTIME.
    std::function<std::chrono::nanoseconds()> boot_clock;

    /// Largest inbound message in bytes, after decompression. A frame header announcing more is
    /// refused before anything is allocated; the link closes with 1009 and the policy decides.
    std::size_t max_message_size = 16 * 1024 * 1024;
    /// Offer permessage-deflate (RFC 7692). Off by default: it costs memory per connection and
    /// CPU per message. Inflated sizes count against `max_message_size`, so a compression bomb
    /// stops at the limit.
    bool permessage_deflate = false;
    /// Messages held for `async_receive` and `async_receive_raw` when no message callback is set.
    /// When full, reading pauses (and with it the heartbeat) until the application consumes.
    std::size_t receive_buffer_capacity = 1024;
    /// Sends waiting for the writer, connected or not. A send beyond this fails with
    /// `error::send_queue_full`.
    std::size_t send_queue_capacity = 1024;

    /// Decides whether and when to reconnect. The default is the original transport's numbers.
    reconnect_policy policy = seed_policy{};
    /// Budgets shared with other clients of the same endpoint: a connect-rate limit, a cap on
    /// concurrent attempts and a circuit breaker (see `endpoint_group`). None by default.
    std::shared_ptr<endpoint_group> group;
    /// Acknowledged sends and resumable receives: nothing lost, nothing twice, across reconnects
    /// (see `resume_config`; `resume_config::sequenced()` is the README's convention). Off by default.
    resume_config resume;
    /// Connection records `client::history()` keeps, the newest replacing the oldest; 0: none.
    std::size_t history_size = 32;
    /// The wait before connecting again after `client::reconnect()`.
    std::chrono::milliseconds manual_reconnect_delay = 500ms;
    /// Upper bound on `async_close`: flushing queued sends and the closing handshake. After it the
    /// socket is closed hard.
    std::chrono::milliseconds close_timeout = 5s;

    /// Certificate verification and mutual TLS for `wss://`.
    tls_config tls;
    /// The HTTP proxy: from the environment (`https_proxy`, `NO_PROXY`...) unless configured.
    proxy_config proxy;
    /// A bearer token (a token provider, or an Authorization header) is only sent in plaintext,
    /// over `ws://`, to a loopback host; anything else throws at construction unless this is set.
    bool allow_plaintext_token = false;

    /// The User-Agent header.
    std::string user_agent = "tether/0.1";

    /// Throws `std::invalid_argument` naming the first invalid field.
    void validate() const;
};

/// Reported to `on_reconnecting` before each wait.
struct reconnect_event {
    unsigned attempt = 0;                ///< the attempt about to be made (2 = first retry)
    std::chrono::milliseconds delay{0};  ///< how long the client waits before it
    disconnect reason;                   ///< why the previous connection ended
    /// The endpoint group holds this attempt back (its rate, its cap or its breaker): reported
    /// once per attempt when the group makes it wait, after the policy's own delay. `delay` is
    /// the wait when the group knows it, else zero.
    bool held_by_group = false;
};

/// Callbacks for applications that prefer them to `async_receive`. All run on the client's
/// strand, one at a time; none runs after `async_close` has completed or the client is destroyed.
/// A callback must not block for long (it holds up the connection) and must not throw: an exception
/// escapes from the `run()` of the client's execution context.
struct client_callbacks {
    /// A JSON object with a string "type", from a text or a binary message (the JSON adapter:
    /// other messages are counted and skipped, and all but untyped JSON text reported to
    /// `on_error`). When set, messages go here and not to the receive functions.
    std::function<void(const boost::json::value&)> on_message;
    /// Every message, text or binary, unchanged; the view is valid during the call only. When set,
    /// messages go here and not to the receive functions. Not together with `on_message`.
    std::function<void(const message_view&)> on_raw_message;
    /// The upgrade succeeded; `attempt` counts attempts since the last healthy link (1 = first try).
    std::function<void(unsigned attempt)> on_connected;
    /// The link is down and the policy chose to retry.
    std::function<void(const reconnect_event&)> on_reconnecting;
    /// The client has finished for good because the policy stopped (not when the application
    /// closed it: no callback runs after `async_close`).
    std::function<void(const disconnect&)> on_close;
    /// Something went wrong that did not end the connection (e.g. a malformed message), or an
    /// attempt failed; `what` is a human description without secrets.
    std::function<void(error_code, const std::string& what)> on_error;
    /// Every state change, attempt, disconnect, policy decision and heartbeat verdict, as one
    /// typed stream (see `client_event`). Independent of the callbacks above.
    std::function<void(const client_event&)> on_event;
};

}  // namespace tether

#endif
