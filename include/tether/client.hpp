// tether: the resilient WebSocket client.
#ifndef TETHER_CLIENT_HPP
#define TETHER_CLIENT_HPP

#include <tether/export.hpp>

#include <tether/config.hpp>
#include <tether/detail/completion.hpp>
#include <tether/error.hpp>
#include <tether/message.hpp>
#include <tether/status.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether {

/// A WebSocket client that stays connected. It connects, runs a reader, a writer and a heartbeat
/// together, and when the link ends asks its reconnect policy whether and when to connect again.
///
/// Every asynchronous operation takes any Asio completion token (`use_awaitable`, `deferred`,
/// `use_future`, a callback); without one it returns a deferred operation, so `co_await
/// c.async_connect();` works in a coroutine. Handlers run on their associated executor, by default
/// the client's.
/// All member functions are safe to call from any thread; the work happens on an internal strand.
///
/// Destroying the client stops it as `async_close` would, without callbacks: operations still
/// pending complete with `error::client_closed`.
class TETHER_API client {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Validates `config` (throws `std::invalid_argument` naming the field) and prepares the
    /// client. Nothing happens on the network until `async_run` or `async_connect`.
    client(executor_type ex, client_config config, client_callbacks callbacks = {});
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// The executor the client was constructed with; handlers without an associated executor run on it.
    executor_type get_executor() const noexcept;

    /// Starts the supervisor (if not yet started) and completes when the client has finished.
    ///
    /// - Signature: `void(error_code)`.
    /// - Cancellation: terminal closes the client, as `async_close` would; the run then completes
    ///   with `operation_aborted`.
    /// - Errors: none after `async_close`; else the error of the disconnect on which the policy
    ///   stopped (e.g. `error::unauthorized`, `error::reconnect_gave_up`).
    /// - Handler: runs on its associated executor (else the client's), never inside this call; a
    ///   coroutine awaiting it may resume at once when the result is ready, as if posted.
    /// - Lifetime: the client may be destroyed meanwhile (the operation then completes); the
    ///   executor's execution context must outlive the operation.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_run(CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [this](auto handler) { start_run(detail::track_work(std::move(handler), get_executor())); }, token);
    }

    /// Starts the supervisor (if not yet started) and completes when the client is connected
    /// (at once if it already is), or when the policy stops first. Retries per the policy
    /// meanwhile, the first connect included.
    ///
    /// - Signature: `void(error_code)`.
    /// - Cancellation: terminal ends this wait with `operation_aborted`; the client goes on.
    /// - Errors: the policy's final error (as `async_run`), `error::client_closed`.
    /// - Handler: runs on its associated executor (else the client's), never inside this call; a
    ///   coroutine awaiting it may resume at once when the result is ready, as if posted.
    /// - Lifetime: the client may be destroyed meanwhile (the operation then completes); the
    ///   executor's execution context must outlive the operation.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_connect(CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [this](auto handler) { start_connect(detail::track_work(std::move(handler), get_executor())); }, token);
    }

    /// Queues one text message; completes when it has been written to a connection. While
    /// disconnected it waits in the queue, in order, and goes out after the reconnect. Costs one
    /// queue push, and at most one wake-up of the writer per batch: queued messages go out
    /// together, in one write.
    ///
    /// - Signature: `void(error_code)`.
    /// - Cancellation: none; once queued, a message goes out or fails with the client.
    /// - Errors: `error::send_queue_full`, `error::connection_lost` (the link died while it was
    ///   being written: it may or may not have arrived), `error::client_closed`.
    /// - Handler: runs on its associated executor (else the client's), never inside this call; a
    ///   coroutine awaiting it may resume at once when the result is ready, as if posted.
    /// - Lifetime: the client may be destroyed meanwhile (the operation then completes); the
    ///   executor's execution context must outlive the operation.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_send(std::string text, CompletionToken&& token = {})
    {
        return async_send(message{message_kind::text, std::move(text)}, std::forward<CompletionToken>(token));
    }

    /// Serialises `message` and queues it as a text message, as `async_send(std::string)` does.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_send(const boost::json::value& message, CompletionToken&& token = {})
    {
        return async_send(serialize(message), std::forward<CompletionToken>(token));
    }

    /// Queues a raw message, text or binary, sent unchanged. As `async_send(std::string)`.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_send(message m, CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [this](auto handler, message m) {
                start_send(std::move(m), detail::track_work(std::move(handler), get_executor()));
            },
            token, std::move(m));
    }

    /// Completes with the next delivered message (a JSON object with a string "type"), in order.
    /// When one is buffered it is handed over at once: a coroutine resumes without a trip through
    /// the event loop. Buffered messages are still delivered after the client finished. Text and
    /// binary messages are parsed alike; messages of other shapes are counted (`stats()`) and
    /// skipped as they are taken, and all but untyped JSON text reported to `on_error`.
    ///
    /// - Signature: `void(error_code, boost::json::value)`.
    /// - Cancellation: terminal ends the wait with `operation_aborted`; no message is lost.
    /// - Errors: `error::client_closed` (finished, nothing buffered), `operation_not_supported`
    ///   (a message callback is set).
    /// - Handler: runs on its associated executor (else the client's), never inside this call; a
    ///   coroutine awaiting it may resume at once when the result is ready, as if posted.
    /// - Lifetime: the client may be destroyed meanwhile (the operation then completes); the
    ///   executor's execution context must outlive the operation.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_receive(CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, boost::json::value)>(
            [this](auto handler) {
                if (auto v = try_receive())
                    return detail::complete_now(
                        std::move(handler), [this] { return get_executor(); }, error_code{}, std::move(*v));
                start_receive(detail::track_work(std::move(handler), get_executor()));
            },
            token);
    }

    /// Completes with 1 to `max` delivered messages, in order: every one buffered, up to `max`, or
    /// the next to arrive.
    ///
    /// - Signature: `void(error_code, std::vector<boost::json::value>)`.
    /// - Cancellation, errors, handler and lifetime: as `async_receive`.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_receive_some(std::size_t max, CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, std::vector<boost::json::value>)>(
            [this, max](auto handler) {
                std::vector<boost::json::value> batch;
                if (try_receive_some(batch, max) > 0)
                    return detail::complete_now(
                        std::move(handler), [this] { return get_executor(); }, error_code{}, std::move(batch));
                start_receive_some(max, detail::track_work(std::move(handler), get_executor()));
            },
            token);
    }

    /// The next delivered message if one is buffered, without waiting. Any thread.
    std::optional<boost::json::value> try_receive();
    /// Moves up to `max` buffered messages into `out`; how many. Any thread.
    std::size_t try_receive_some(std::vector<boost::json::value>& out, std::size_t max);

    /// The raw forms of the three above: every message, text or binary, unchanged.
    ///
    /// - Signature: `void(error_code, tether::message)`.
    /// - Cancellation, errors, handler and lifetime: as `async_receive`.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_receive_raw(CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, message)>(
            [this](auto handler) {
                if (auto m = try_receive_raw())
                    return detail::complete_now(
                        std::move(handler), [this] { return get_executor(); }, error_code{}, std::move(*m));
                start_receive_raw(detail::track_work(std::move(handler), get_executor()));
            },
            token);
    }

    /// 1 to `max` raw messages.
    ///
    /// - Signature: `void(error_code, std::vector<tether::message>)`.
    /// - Cancellation, errors, handler and lifetime: as `async_receive`.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_receive_raw_some(std::size_t max, CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, std::vector<message>)>(
            [this, max](auto handler) {
                std::vector<message> batch;
                if (try_receive_raw_some(batch, max) > 0)
                    return detail::complete_now(
                        std::move(handler), [this] { return get_executor(); }, error_code{}, std::move(batch));
                start_receive_raw_some(max, detail::track_work(std::move(handler), get_executor()));
            },
            token);
    }

    std::optional<message> try_receive_raw();
    std::size_t try_receive_raw_some(std::vector<message>& out, std::size_t max);

    /// Sends `message` and completes with the first inbound message for which `match` returns
    /// true, which is then consumed (not delivered elsewhere).
    ///
    /// - Signature: `void(error_code, boost::json::value)`.
    /// - Cancellation: none; `timeout` bounds it.
    /// - Errors: `error::request_timeout` after `timeout`, `error::connection_lost` when the link
    ///   drops after the message went out, the send's errors, `error::client_closed`.
    /// - Handler: runs on its associated executor (else the client's), never inside this call; a
    ///   coroutine awaiting it may resume at once when the result is ready, as if posted.
    /// - Lifetime: the client may be destroyed meanwhile (the operation then completes); the
    ///   executor's execution context must outlive the operation.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_request(boost::json::value message, std::function<bool(const boost::json::value&)> match,
                       std::chrono::milliseconds timeout, CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, boost::json::value)>(
            [this](auto handler, std::string text, std::function<bool(const boost::json::value&)> match,
                   std::chrono::milliseconds timeout) {
                start_request(std::move(text), std::move(match), timeout,
                              detail::track_work(std::move(handler), get_executor()));
            },
            token, serialize(message), std::move(match), timeout);
    }

    /// Flushes queued sends (while connected), closes with 1000, stops reconnecting and completes
    /// when everything has stopped, within `close_timeout`. After it completes no callback runs.
    /// Sends still queued when the link cannot flush them complete with `error::client_closed`.
    ///
    /// - Signature: `void(error_code)`.
    /// - Cancellation: none; `close_timeout` bounds it.
    /// - Errors: none.
    /// - Handler: runs on its associated executor (else the client's), never inside this call; a
    ///   coroutine awaiting it may resume at once when the result is ready, as if posted.
    /// - Lifetime: the client may be destroyed meanwhile (the operation then completes); the
    ///   executor's execution context must outlive the operation.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_close(CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code)>(
            [this](auto handler) { start_close(detail::track_work(std::move(handler), get_executor())); }, token);
    }

    /// Drops the current link (or attempt, or wait) and connects afresh after
    /// `config.manual_reconnect_delay`, with every retry budget reset. Ignored unless running.
    void reconnect();

    /// True while the link is up. Any thread; a snapshot that may change at once.
    bool is_connected() const noexcept;

    /// The current state. Any thread; a snapshot.
    client_state state() const noexcept;

    /// The counters so far. Any thread.
    client_stats stats() const noexcept;

    /// The last `client_config::history_size` connection attempts, oldest first: when each
    /// started, connected and ended, why it ended, what the policy chose next, and what the link
    /// carried. Any thread.
    std::vector<connection_record> history() const;

private:
    class impl;

    static std::string serialize(const boost::json::value& v);
    void start_run(boost::asio::any_completion_handler<void(error_code)> h);
    void start_connect(boost::asio::any_completion_handler<void(error_code)> h);
    void start_send(message m, boost::asio::any_completion_handler<void(error_code)> h);
    void start_receive(boost::asio::any_completion_handler<void(error_code, boost::json::value)> h);
    void start_receive_some(std::size_t max,
                            boost::asio::any_completion_handler<void(error_code, std::vector<boost::json::value>)> h);
    void start_receive_raw(boost::asio::any_completion_handler<void(error_code, message)> h);
    void start_receive_raw_some(std::size_t max,
                                boost::asio::any_completion_handler<void(error_code, std::vector<message>)> h);
    void start_request(std::string text, std::function<bool(const boost::json::value&)> match,
                       std::chrono::milliseconds timeout,
                       boost::asio::any_completion_handler<void(error_code, boost::json::value)> h);
    void start_close(boost::asio::any_completion_handler<void(error_code)> h);

    std::shared_ptr<impl> impl_;
};

}  // namespace tether

#endif
