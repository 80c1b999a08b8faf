// tether testing kit: an in-process WebSocket server whose behaviour a test scripts per connection.
#ifndef TETHER_TESTING_TEST_SERVER_HPP
#define TETHER_TESTING_TEST_SERVER_HPP

#include <tether/export.hpp>

#include <tether/config.hpp>
#include <tether/error.hpp>
#include <tether/message.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::testing {

/// One upgrade request as the server received it.
struct TETHER_API upgrade_request {
    std::string target;           ///< path and query
    std::vector<header> headers;  ///< in arrival order
    std::chrono::steady_clock::time_point received_at;
    /// Over TLS with a client certificate: its subject, one line (e.g. "CN = tether test client").
    std::string client_certificate;

    /// The first header of that name (case-insensitive), or "" when absent.
    std::string header_value(std::string_view name) const;
};

/// One accepted TCP connection whose upgrade request has been read. A handler decides what the
/// server does with it; every operation is a coroutine on the server's executor. When the server
/// stops, pending operations fail and the connection is dropped.
class TETHER_API server_connection {
public:
    struct state;
    explicit server_connection(std::shared_ptr<state> s);

    /// The upgrade request that opened this connection.
    const upgrade_request& request() const noexcept;

    /// Completes the upgrade with 101.
    boost::asio::awaitable<error_code> async_accept();
    /// Answers the upgrade with `status` and the given headers, then closes the connection.
    boost::asio::awaitable<error_code> async_reject(unsigned status, std::vector<header> headers = {});
    /// Sends one text frame.
    boost::asio::awaitable<error_code> async_send(std::string text);
    /// Sends one message, text or binary, as it is.
    boost::asio::awaitable<error_code> async_send(message m);
    /// Writes `bytes` as they are, below the WebSocket layer (after TLS, if any): hand-made
    /// frames, malformed or not. Must not overlap another send or close.
    boost::asio::awaitable<error_code> async_send_raw(std::string bytes);
    /// Reads the next text message, answering pings meanwhile (binary messages are skipped). Empty
    /// when the connection ended (a close frame, EOF, reset or the server stopping).
    boost::asio::awaitable<std::optional<std::string>> async_receive();
    /// Reads the next message, text or binary, as async_receive does.
    boost::asio::awaitable<std::optional<message>> async_receive_message();
    /// Sends a close frame with `code` and `reason` and completes the closing handshake.
    boost::asio::awaitable<error_code> async_close(std::uint16_t code, std::string reason = {});
    /// Echoes every message back, text or binary, until the connection ends.
    boost::asio::awaitable<void> async_echo();
    /// Neither reads nor writes for `d` (so pings go unanswered), then returns.
    boost::asio::awaitable<void> async_stay_silent(std::chrono::milliseconds d);
    /// Closes the TCP connection without a close frame, as a crash or a dropped link would.
    void drop() noexcept;

private:
    std::shared_ptr<state> state_;
};

/// The server side of TLS: a certificate chain and key in PEM files, and optionally the CAs that
/// client certificates must chain to (mutual TLS).
struct tls_identity {
    std::string certificate_file;  ///< PEM: the server's certificate, then any intermediates
    std::string key_file;          ///< PEM: its private key
    std::string client_ca_file;    ///< PEM: when set, clients must present a certificate signed by one of these
};

/// How a test_server listens.
struct server_options {
    std::uint16_t port = 0;           ///< 0 = an ephemeral port
    std::optional<tls_identity> tls;  ///< set: `wss://`, every connection starts with a TLS handshake
    bool permessage_deflate = false;  ///< offer permessage-deflate; messages to a client that accepts it are compressed
};

/// A WebSocket server on 127.0.0.1 for tests. Each accepted connection's upgrade request is read
/// and recorded, then handed to the current handler (by default: accept and echo). Not thread
/// safe: use it from the executor it runs on (tests run one single-threaded io_context).
class TETHER_API test_server {
public:
    using handler = std::function<boost::asio::awaitable<void>(server_connection&)>;

    /// Listens on 127.0.0.1:`port` (0 = an ephemeral port) at once.
    explicit test_server(boost::asio::any_io_executor ex, handler h = {}, std::uint16_t port = 0);
    /// Listens as `options` say, at once. Throws when the port is taken or the TLS files do not load.
    test_server(boost::asio::any_io_executor ex, handler h, server_options options);
    ~test_server();
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    std::uint16_t port() const noexcept;
    /// `ws://127.0.0.1:<port><target>`, or `wss://` with TLS.
    std::string url(std::string_view target = "/") const;

    /// The handler for connections accepted from now on; an empty one means accept and echo.
    void set_handler(handler h);

    /// Closes the listener and drops every live connection without a close frame, like a crash.
    void stop();
    /// Listens again on the same port after `stop`.
    void start();

    /// Every upgrade request received, in order.
    const std::vector<upgrade_request>& requests() const noexcept;
    /// Every text message received by `async_receive` or `async_echo`, over all connections.
    const std::vector<std::string>& messages() const noexcept;
    /// Connections currently open.
    std::size_t live_connections() const noexcept;
    /// TLS handshakes that failed, e.g. because the client rejected the certificate.
    std::size_t tls_handshake_failures() const noexcept;

    /// Completes once `predicate()` holds, re-checked after every request, message and
    /// connection end, or fails with `timeout` error after `limit`.
    boost::asio::awaitable<error_code> async_wait_until(std::function<bool()> predicate,
                                                        std::chrono::milliseconds limit = std::chrono::seconds(10));

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace tether::testing

#endif
