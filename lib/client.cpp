// The client: a supervisor coroutine that runs one connection at a time (connect, then reader ‖
// writer ‖ heartbeat), classifies how it ended, asks the policy and waits. Everything runs on one
// strand, so the state below needs no locks; public entry points post onto it.
#include <tether/client.hpp>
#include <tether/message.hpp>
#include <tether/url.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <deque>
#include <filesystem>
#include <list>
#include <random>

namespace tether {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

using void_handler = asio::any_completion_handler<void(error_code)>;
using value_handler = asio::any_completion_handler<void(error_code, boost::json::value)>;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

disconnect user_disconnect()
{
    return {.kind = disconnect_kind::user, .reason = "closed by the application"};
}

// Whether a coroutine has been asked to stop (by its parallel group).
bool stopped(const asio::cancellation_state& cs)
{
    return cs.cancelled() != asio::cancellation_type::none;
}

// Note on style: GCC 12 miscompiles `co_await` inside an `if` or `while` condition, so every
// awaited result below is stored in a local first.

// How a failed read ended the connection.
template <class Stream>
disconnect read_failure(const Stream& ws, const error_code& ec)
{
    // The peer's close frame decides, even when the teardown after it failed or timed out.
    if (ec == websocket::error::closed || ws.reason().code != websocket::close_code::none)
        return close_frame_disconnect(ws.reason().code,
                                      std::string(ws.reason().reason.data(), ws.reason().reason.size()));
    if (ec == websocket::error::message_too_big)
        return {.kind = disconnect_kind::message_too_big,
                .error = error::message_too_big,
                .reason = "inbound message over max_message_size"};
    if (ec == websocket::condition::protocol_violation) return error_disconnect(disconnect_kind::protocol, ec);
    return error_disconnect(disconnect_kind::transport, ec);
}

// Detaches the handler from its cancellation slot and runs it, never inline: `post` goes through
// `ex` and then the handler's own associated executor, if it has one.
template <class Signature, class... Args>
void complete(const asio::any_io_executor& ex, asio::any_completion_handler<Signature> h, Args... args)
{
    if (!h) return;
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.clear();
    asio::post(ex, asio::append(std::move(h), std::move(args)...));
}

struct outgoing {
    std::string text;
    void_handler handler;          // an application's send
    std::uint64_t request_id = 0;  // or the message of an `async_request`
};

struct pending_request {
    std::uint64_t id;
    std::function<bool(const boost::json::value&)> match;
    value_handler handler;
    std::unique_ptr<asio::steady_timer> timer;
    bool sent = false;
};

template <class Signature>
struct waiter {
    std::uint64_t id;
    asio::any_completion_handler<Signature> handler;
};

// How one connection (or attempt) ended.
struct connection_result {
    disconnect why;
    bool connected = false;
    bool healthy = false;
    clock_type::time_point connected_at{};
    clock_type::time_point ended_at{};
};

struct atomic_stats {
    std::atomic<std::uint64_t> connections{0}, attempts{0}, received{0}, ignored{0}, malformed{0}, sent{0},
        heartbeat_timeouts{0}, too_big{0};
};

}  // namespace

namespace {
asio::any_io_executor make_client_strand(const asio::any_io_executor& ex)
{
    if (const auto* io = ex.target<asio::io_context::executor_type>()) return asio::make_strand(*io);
    return asio::make_strand(ex);
}
}  // namespace

class client::impl : public std::enable_shared_from_this<impl> {
public:
    impl(executor_type ex, client_config cfg, client_callbacks cb)
        : ex_(std::move(ex)), strand_(make_client_strand(ex_)), cfg_(std::move(cfg)), cb_(std::move(cb)),
          backoff_timer_(strand_), send_signal_(strand_), inbox_signal_(strand_), close_deadline_(strand_)
    {
        cfg_.validate();
        url_ = parse_ws_url(cfg_.url);
        proxy_ = select_proxy(url_, cfg_.proxy);
        if (url_.secure) make_tls_context();
    }

    // --- entry points, each already on the strand ---------------------------------------------

    void run(void_handler h)
    {
        if (finished_) return complete(ex_, std::move(h), final_error_);
        run_waiters_.push_back(std::move(h));
        ensure_started();
    }

    void connect(void_handler h)
    {
        if (finished_)
            return complete(ex_, std::move(h), final_error_ ? final_error_ : error_code(error::client_closed));
        if (state_ == client_state::connected) return complete(ex_, std::move(h), error_code{});
        add_waiter(connect_waiters_, std::move(h));
        ensure_started();
    }

    void send(std::string text, void_handler h)
    {
        if (const error_code refused = refuse_send()) return complete(ex_, std::move(h), refused);
        sendq_.push_back({std::move(text), std::move(h), 0});
        send_signal_.cancel();
    }

    void receive(value_handler h)
    {
        if (cb_.on_message)
            return complete(ex_, std::move(h), error_code(asio::error::operation_not_supported), boost::json::value());
        if (!inbox_.empty()) {
            complete(ex_, std::move(h), error_code{}, std::move(inbox_.front()));
            inbox_.pop_front();
            inbox_signal_.cancel();  // the reader may be waiting for room
            return;
        }
        if (finished_) return complete(ex_, std::move(h), error_code(error::client_closed), boost::json::value());
        add_waiter(receivers_, std::move(h));
    }

    void request(std::string text, std::function<bool(const boost::json::value&)> match, milliseconds timeout,
                 value_handler h)
    {
        if (const error_code refused = refuse_send()) return complete(ex_, std::move(h), refused, boost::json::value());
        const std::uint64_t id = ++next_id_;
        auto timer = std::make_unique<asio::steady_timer>(strand_, timeout);
        timer->async_wait([w = weak_from_this(), id](error_code ec) {
            if (auto self = w.lock(); self && !ec) self->fail_request(id, error::request_timeout);
        });
        requests_.push_back({id, std::move(match), std::move(h), std::move(timer), false});
        sendq_.push_back({std::move(text), {}, id});
        send_signal_.cancel();
    }

    void close(void_handler h)
    {
        if (finished_) return complete(ex_, std::move(h), error_code{});
        close_waiters_.push_back(std::move(h));
        if (!started_) return finish(user_disconnect());
        if (closing_) return;
        closing_ = true;
        const bool connected = state_ == client_state::connected;
        set_state(client_state::closing);
        backoff_timer_.cancel();
        close_deadline_.expires_after(cfg_.close_timeout);
        close_deadline_.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec && self->abort_) self->abort_();
        });
        if (connected) {
            send_signal_.cancel();   // the writer flushes, then sends the close frame
            inbox_signal_.cancel();  // a paused reader must read the server's answer
        } else if (abort_)
            abort_();
    }

    void reconnect()
    {
        if (!started_ || finished_ || closing_) return;
        reconnect_requested_ = true;
        backoff_timer_.cancel();
        if (abort_) abort_();
    }

    // Called by the client's destructor: stop as close would, but silently.
    void shutdown()
    {
        silenced_ = true;
        close(void_handler{});
    }

    client_state state() const noexcept { return state_.load(std::memory_order_relaxed); }

    client_stats stats() const noexcept
    {
        return {stats_.connections.load(),       stats_.attempts.load(),  stats_.received.load(),
                stats_.ignored.load(),           stats_.malformed.load(), stats_.sent.load(),
                stats_.heartbeat_timeouts.load(), stats_.too_big.load()};
    }

    const executor_type& strand() noexcept { return strand_; }
    const executor_type& executor() const noexcept { return ex_; }

    std::atomic<bool> silenced_{false};

private:
    // --- the supervisor ------------------------------------------------------------------------

    void ensure_started()
    {
        if (started_) return;
        started_ = true;
        asio::co_spawn(strand_, supervise(), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);  // a bug or a throwing callback: surface it from run()
        });
    }

    // Runs the loop; if anything in it throws (a callback, a policy, a bug), the client still
    // finishes, so that no waiter hangs and close completes, and then the exception surfaces.
    asio::awaitable<void> supervise()
    {
        auto self = shared_from_this();  // the client may be destroyed while we run
        std::exception_ptr failure;
        try {
            co_await supervise_loop();
        } catch (...) {
            failure = std::current_exception();
        }
        if (!failure) co_return;
        if (!finished_) {
            silenced_ = true;  // the application's code may be what threw: call none of it again
            finish({.kind = disconnect_kind::transport,
                    .error = make_error_code(boost::system::errc::state_not_recoverable),
                    .reason = "internal error"});
        }
        std::rethrow_exception(failure);
    }

    asio::awaitable<void> supervise_loop()
    {
        std::mt19937_64 rng(std::random_device{}());
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        reconnect_history history;
        auto healthy_at = clock_type::now();

        for (;;) {
            if (closing_) break;
            connection_result r = co_await run_connection(history.attempts + 1);
            fail_sent_requests();
            if (closing_) break;

            milliseconds delay{};
            if (std::exchange(reconnect_requested_, false)) {
                history = {};
                healthy_at = clock_type::now();
                r.why = user_disconnect();
                delay = cfg_.manual_reconnect_delay;
            } else {
                if (r.healthy) {
                    history = {};
                    healthy_at = r.ended_at;
                }
                const failure_class c = classify(r.why);
                ++history.attempts;
                ++history.by_class[static_cast<std::size_t>(c)];
                history.since_healthy = std::chrono::duration_cast<milliseconds>(r.ended_at - healthy_at);
                history.uptime = r.connected ? std::chrono::duration_cast<milliseconds>(r.ended_at - r.connected_at)
                                             : milliseconds::zero();
                history.random = uniform(rng);
                const reconnect_decision decision =
                    c == failure_class::user ? reconnect_decision{} : cfg_.policy(r.why, history);
                if (!decision) co_return finish(std::move(r.why));
                delay = *decision;
            }

            set_state(client_state::reconnecting);
            emit(cb_.on_reconnecting, reconnect_event{history.attempts + 1, delay, r.why});
            co_await wait(delay);
            while (!closing_ && std::exchange(reconnect_requested_, false)) {
                history = {};
                healthy_at = clock_type::now();
                co_await wait(cfg_.manual_reconnect_delay);
            }
        }
        finish(user_disconnect());
    }

    asio::awaitable<void> wait(milliseconds d)
    {
        if (closing_ || reconnect_requested_) co_return;
        backoff_timer_.expires_after(d);
        co_await backoff_timer_.async_wait(use_tuple);
    }

    asio::awaitable<connection_result> run_connection(unsigned attempt)
    {
        set_state(client_state::connecting);
        ++stats_.attempts;
        if (url_.secure) {
            websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(strand_, *tls_);
            co_return co_await run_stream(ws, attempt);
        }
        websocket::stream<beast::tcp_stream> ws(strand_);
        co_return co_await run_stream(ws, attempt);
    }

    template <class Stream>
    asio::awaitable<connection_result> run_stream(Stream& ws, unsigned attempt)
    {
        connection_result r;
        auto ended = [&r](disconnect why) {
            r.why = std::move(why);
            r.ended_at = clock_type::now();
            return r;
        };
        struct abort_reset {
            impl& i;
            ~abort_reset() { i.abort_ = nullptr; }
        } reset_abort_on_exit{*this};

        abort_ = [&ws] {
            // A hard stop (close_timeout, reconnect()): reset, so that nothing unsent follows later.
            reset_on_close(beast::get_lowest_layer(ws));
            beast::get_lowest_layer(ws).close();
        };
        std::string token;
        auto token_failure = co_await fetch_token(token);
        if (token_failure) co_return ended(std::move(*token_failure));
        if (interrupted()) co_return ended(user_disconnect());

        auto transport_failure = co_await open_transport(ws);
        if (transport_failure) co_return ended(std::move(*transport_failure));
        if (interrupted()) co_return ended(user_disconnect());

        auto upgrade_failure = co_await upgrade(ws, token);
        if (upgrade_failure) co_return ended(std::move(*upgrade_failure));

        r.connected = true;
        r.connected_at = clock_type::now();
        ++stats_.connections;
        healthy_ = false;
        paused_ = false;
        last_inbound_ = r.connected_at;
        ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
            last_inbound_ = clock_type::now();
            if (kind == websocket::frame_type::pong) healthy_ = true;
        });
        if (!closing_) set_state(client_state::connected);
        complete_all(connect_waiters_, error_code{});
        emit(cb_.on_connected, attempt);
        if (reconnect_requested_) abort_();

        namespace ex = asio::experimental;
        auto [order, e1, d1, e2, d2, e3, d3, e4, d4] =
            co_await ex::make_parallel_group(asio::co_spawn(strand_, read_loop(ws), asio::deferred),
                                             asio::co_spawn(strand_, write_loop(ws), asio::deferred),
                                             asio::co_spawn(strand_, heartbeat(ws), asio::deferred),
                                             asio::co_spawn(strand_, teardown_watch(ws), asio::deferred))
                .async_wait(ex::wait_for_one(), asio::use_awaitable);
        for (auto& e : {e1, e2, e3, e4})
            if (e) std::rethrow_exception(e);
        disconnect* results[] = {&d1, &d2, &d3, &d4};
        disconnect why = std::move(*results[order[0]]);
        // A link given up without a closing handshake is reset, not closed: after a FIN the kernel
        // would go on delivering the unsent tail of the send buffer to the old server connection,
        // possibly after the next connection has delivered newer messages.
        if (why.kind != disconnect_kind::close_frame) reset_on_close(beast::get_lowest_layer(ws));
        beast::get_lowest_layer(ws).close();
        r.healthy = healthy_;
        co_return ended(std::move(why));
    }

    // Asks the token provider for this attempt's token; a failure ends the attempt. The
    // asynchronous provider runs under `connect_timeout` and is abandoned on close or reconnect.
    asio::awaitable<std::optional<disconnect>> fetch_token(std::string& token)
    {
        auto failed = [this](std::string what) {
            emit(cb_.on_error, error_code(error::token_failed), "token provider: " + what);
            return disconnect{.kind = disconnect_kind::token, .error = error::token_failed, .reason = std::move(what)};
        };
        if (cfg_.async_token_provider) {
            asio::steady_timer timer(strand_, cfg_.connect_timeout);
            auto previous = std::exchange(abort_, [&timer] { timer.cancel(); });
            namespace ex = asio::experimental;
            auto [order, thrown, value, timer_ec] =
                co_await ex::make_parallel_group(asio::co_spawn(strand_, cfg_.async_token_provider(), asio::deferred),
                                                 timer.async_wait(asio::deferred))
                    .async_wait(ex::wait_for_one(), asio::use_awaitable);
            abort_ = std::move(previous);
            if (order[0] == 1) {
                if (interrupted()) co_return user_disconnect();
                co_return failed("no token within connect_timeout");
            }
            if (thrown) {
                try {
                    std::rethrow_exception(thrown);
                } catch (const std::exception& e) {
                    co_return failed(e.what());
                }
            }
            token = std::move(value);
        } else if (cfg_.token_provider) {
            try {
                token = cfg_.token_provider();
            } catch (const std::exception& e) {
                co_return failed(e.what());
            }
        }
        if (token.find_first_of("\r\n") != std::string::npos) co_return failed("the token contains CR or LF");
        co_return std::nullopt;
    }

    // Resolve, TCP connect, the proxy's tunnel and (for wss) the TLS handshake, all under
    // `connect_timeout`.
    template <class Stream>
    asio::awaitable<std::optional<disconnect>> open_transport(Stream& ws)
    {
        auto& tcp_layer = beast::get_lowest_layer(ws);
        const auto deadline = clock_type::now() + cfg_.connect_timeout;
        tcp::resolver resolver(strand_);
        // While resolving, aborting must cancel the resolver too; afterwards closing the socket does.
        struct restore_abort {
            std::function<void()>& slot;
            std::function<void()> previous;
            ~restore_abort() { slot = std::move(previous); }
        } restore{abort_, std::exchange(abort_, [&] {
                      resolver.cancel();
                      tcp_layer.close();
                  })};

        // With a proxy, resolving and connecting are about the proxy: failures say so.
        const std::string& host = proxy_ ? proxy_->host : url_.host;
        const std::string& port = proxy_ ? proxy_->port : url_.port;
        asio::steady_timer timer(strand_, deadline);
        namespace ex = asio::experimental;
        auto [order, resolve_ec, endpoints, timer_ec] =
            co_await ex::make_parallel_group(resolver.async_resolve(host, port, asio::deferred),
                                             timer.async_wait(asio::deferred))
                .async_wait(ex::wait_for_one(), asio::use_awaitable);
        if (order[0] == 1) co_return timed_out(proxy_ ? disconnect_kind::proxy : disconnect_kind::resolve);
        if (resolve_ec) co_return error_disconnect(proxy_ ? disconnect_kind::proxy : disconnect_kind::resolve, resolve_ec);

        tcp_layer.expires_at(deadline);
        auto [connect_ec, ep] = co_await tcp_layer.async_connect(endpoints, use_tuple);
        if (const auto ec = connect_ec) {
            const auto stage = proxy_ ? disconnect_kind::proxy : disconnect_kind::connect;
            if (ec == beast::error::timeout) co_return timed_out(stage);
            co_return error_disconnect(stage, ec);
        }
        error_code ignored;  // best effort; a socket aborted meanwhile fails the next step instead
        tcp_layer.socket().set_option(tcp::no_delay(true), ignored);

        if (proxy_) {
            auto tunnel_failure = co_await open_tunnel(tcp_layer);
            if (tunnel_failure) co_return tunnel_failure;
        }
        if constexpr (!std::is_same_v<typename Stream::next_layer_type, beast::tcp_stream>) {
            auto tls_failure = co_await tls_handshake(ws.next_layer());
            if (tls_failure) co_return tls_failure;
        }
        tcp_layer.expires_never();
        co_return std::nullopt;
    }

    // CONNECT through the proxy; any 2xx opens the tunnel. Runs under the TCP stream's deadline.
    asio::awaitable<std::optional<disconnect>> open_tunnel(beast::tcp_stream& stream)
    {
        const std::string request = connect_request(url_, *proxy_);
        auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), use_tuple);
        auto failed = [](const error_code& ec, std::string what) {
            if (ec == beast::error::timeout) return timed_out(disconnect_kind::proxy);
            return disconnect{.kind = disconnect_kind::proxy, .error = error::proxy_failed, .reason = std::move(what)};
        };
        if (write_ec) co_return failed(write_ec, "proxy: sending CONNECT failed: " + write_ec.message());

        beast::flat_buffer buffer;
        beast::http::response_parser<beast::http::empty_body> parser;
        parser.skip(true);  // a CONNECT response has no body, whatever its headers say
        auto [read_ec, n] = co_await beast::http::async_read_header(stream, buffer, parser, use_tuple);
        if (read_ec) co_return failed(read_ec, "proxy: no HTTP answer to CONNECT: " + read_ec.message());
        const unsigned status = parser.get().result_int();
        if (status < 200 || status > 299) co_return proxy_status_disconnect(status);
        // The server has not been asked anything yet, so nothing may follow the proxy's answer.
        if (buffer.size() != 0) co_return failed({}, "proxy: unexpected data after its answer to CONNECT");
        co_return std::nullopt;
    }

    // The TLS handshake: SNI for host names, and OpenSSL's own host-name (or IP address) check,
    // so that a refused certificate reports which check failed.
    asio::awaitable<std::optional<disconnect>> tls_handshake(beast::ssl_stream<beast::tcp_stream>& tls)
    {
        SSL* handle = tls.native_handle();
        error_code not_ip;
        asio::ip::make_address(url_.host, not_ip);
        const bool ip_literal = !not_ip;
        bool ok = ip_literal || SSL_set_tlsext_host_name(handle, url_.host.c_str()) == 1;
        if (cfg_.tls.verify_peer) {
            if (ip_literal) {
                ok = ok && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), url_.host.c_str()) == 1;
            } else {
                SSL_set_hostflags(handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                ok = ok && SSL_set1_host(handle, url_.host.c_str()) == 1;
            }
        }
        if (!ok)
            co_return error_disconnect(disconnect_kind::tls,
                                       error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));

        auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
        if (!ec) co_return std::nullopt;
        if (ec == beast::error::timeout) co_return timed_out(disconnect_kind::tls);
        const long verify_result = SSL_get_verify_result(handle);
        if (cfg_.tls.verify_peer && verify_result != X509_V_OK) co_return tls_verify_disconnect(verify_result);
        co_return error_disconnect(disconnect_kind::tls, ec);
    }

    static void reset_on_close(beast::tcp_stream& stream)
    {
        error_code ignored;  // a socket that is not open has nothing to reset
        stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
    }

    static disconnect timed_out(disconnect_kind stage)
    {
        return {.kind = disconnect_kind::timeout,
                .error = error::connect_timeout,
                .reason = std::string(to_string(stage)) + " exceeded connect_timeout"};
    }

    template <class Stream>
    asio::awaitable<std::optional<disconnect>> upgrade(Stream& ws, const std::string& token)
    {
        ws.set_option(websocket::stream_base::timeout{
            .handshake_timeout = cfg_.handshake_timeout,
            .idle_timeout = websocket::stream_base::none(),
            .keep_alive_pings = false,
        });
        ws.set_option(websocket::stream_base::decorator(
            [this, bearer = token.empty() ? std::string() : "Bearer " + token](websocket::request_type& req) {
                req.set(beast::http::field::user_agent, cfg_.user_agent);
                for (const auto& h : cfg_.headers) req.insert(h.name, h.value);
                if (!bearer.empty()) req.set(beast::http::field::authorization, bearer);
            }));
        ws.read_message_max(cfg_.max_message_size);
        ws.auto_fragment(false);
        if (cfg_.permessage_deflate) {
            websocket::permessage_deflate deflate;
            deflate.client_enable = true;
            ws.set_option(deflate);
        }

        websocket::response_type res;
        auto [ec] = co_await ws.async_handshake(res, url_.host_header, url_.target, use_tuple);
        if (!ec) co_return std::nullopt;
        // Only a declined upgrade carries a real response: Beast presets `res` to 500 and leaves it
        // so when reading the response fails.
        if (ec == websocket::error::upgrade_declined)
            co_return http_status_disconnect(res.result_int(), res[beast::http::field::retry_after]);
        if (ec == beast::error::timeout)
            co_return disconnect{.kind = disconnect_kind::timeout,
                                 .error = error::handshake_timeout,
                                 .reason = "upgrade exceeded handshake_timeout"};
        // With TLS 1.3 a server that refuses our certificate says so after its handshake, in the
        // first read: still a TLS failure.
        if (ec.category() == asio::error::get_ssl_category()) co_return error_disconnect(disconnect_kind::tls, ec);
        // A response that is not a valid upgrade (a Beast websocket or HTTP parse error) breaks the
        // protocol; the connection ending first (EOF, reset) is the transport.
        const bool malformed = ec.category() == make_error_code(websocket::error::bad_http_version).category() ||
                               (ec.category() == make_error_code(beast::http::error::partial_message).category() &&
                                ec != beast::http::error::end_of_stream);
        co_return error_disconnect(malformed ? disconnect_kind::protocol : disconnect_kind::transport, ec);
    }

    // --- the connection's three tasks ------------------------------------------------------------
    //
    // The parallel group cancels the other two tasks once, when the first ends. A cancellation
    // that arrives while a task's last completion is already queued is recorded in its
    // cancellation state but reaches no operation, so each task checks that state before it
    // starts any operation, not only after one.

    template <class Stream>
    asio::awaitable<disconnect> read_loop(Stream& ws)
    {
        co_await asio::this_coro::throw_if_cancelled(false);
        const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
        beast::flat_buffer buffer;
        for (;;) {
            // A full inbox pauses reading: memory stays bounded and TCP pushes back on the server.
            // While closing it reads on, so that the server's close frame is seen.
            while (!cb_.on_message && inbox_.size() >= cfg_.receive_buffer_capacity && !closing_) {
                if (stopped(cs)) co_return user_disconnect();
                paused_ = true;
                inbox_signal_.expires_at(clock_type::time_point::max());
                co_await inbox_signal_.async_wait(use_tuple);
                if (stopped(cs)) co_return user_disconnect();
            }
            if (std::exchange(paused_, false)) last_inbound_ = clock_type::now();

            if (stopped(cs)) co_return user_disconnect();
            auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
            if (ec) {
                if (ec == websocket::error::message_too_big) ++stats_.too_big;
                co_return read_failure(ws, ec);
            }
            last_inbound_ = clock_type::now();
            healthy_ = true;
            if (ws.got_text()) {
                const auto data = buffer.cdata();
                on_text(std::string_view(static_cast<const char*>(data.data()), data.size()));
            } else {
                ++stats_.ignored;
            }
            buffer.consume(n);
        }
    }

    template <class Stream>
    asio::awaitable<disconnect> write_loop(Stream& ws)
    {
        co_await asio::this_coro::throw_if_cancelled(false);
        const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
        bool close_sent = false;
        for (;;) {
            while (sendq_.empty() || close_sent) {
                if (stopped(cs)) co_return user_disconnect();
                if (closing_ && !close_sent) {
                    // Drained: close politely. The reader ends when the server answers.
                    close_sent = true;
                    auto [ec] = co_await ws.async_close(websocket::close_code::normal, use_tuple);
                    if (ec) co_return error_disconnect(disconnect_kind::transport, ec);
                    continue;
                }
                send_signal_.expires_at(clock_type::time_point::max());
                co_await send_signal_.async_wait(use_tuple);
                if (stopped(cs)) co_return user_disconnect();
            }
            if (stopped(cs)) co_return user_disconnect();
            outgoing item = std::move(sendq_.front());
            sendq_.pop_front();
            ws.text(true);
            auto [ec, n] = co_await ws.async_write(asio::buffer(item.text), use_tuple);
            if (ec) {
                sent(item, error::connection_lost);
                co_return error_disconnect(disconnect_kind::transport, ec);
            }
            ++stats_.sent;
            sent(item, {});
        }
    }

    template <class Stream>
    asio::awaitable<disconnect> heartbeat(Stream& ws)
    {
        co_await asio::this_coro::throw_if_cancelled(false);
        const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
        asio::steady_timer timer(strand_);
        if (cfg_.ping_interval == milliseconds::zero()) {  // off: idle until the group ends
            timer.expires_at(clock_type::time_point::max());
            if (!stopped(cs)) co_await timer.async_wait(use_tuple);
            co_return user_disconnect();
        }
        // Pings go out every ping_interval; each is checked pong_timeout after it was queued, so a
        // dead link is found within ping_interval + pong_timeout of its last frame.
        auto next_ping = clock_type::now() + cfg_.ping_interval;
        for (;;) {
            if (stopped(cs)) co_return user_disconnect();
            timer.expires_at(next_ping);
            co_await timer.async_wait(use_tuple);
            if (stopped(cs)) co_return user_disconnect();
            const auto sent_at = clock_type::now();
            next_ping = sent_at + cfg_.ping_interval;
            if (paused_) continue;  // not reading: silence proves nothing

            // The deadline runs from the moment the ping is queued, even if the ping itself is
            // stuck behind a write the peer no longer drains.
            if (stopped(cs)) co_return user_disconnect();
            timer.expires_at(sent_at + cfg_.pong_timeout);
            namespace ex = asio::experimental;
            auto [order, ping_ec, timer_ec] =
                co_await ex::make_parallel_group(ws.async_ping({}, asio::deferred), timer.async_wait(asio::deferred))
                    .async_wait(ex::wait_for_one(), asio::use_awaitable);
            if (stopped(cs)) co_return user_disconnect();
            if (order[0] == 0) {
                if (ping_ec) co_return error_disconnect(disconnect_kind::transport, ping_ec);
                timer.expires_at(sent_at + cfg_.pong_timeout);  // the group cancelled the first wait
                co_await timer.async_wait(use_tuple);
                if (stopped(cs)) co_return user_disconnect();
            }
            if (last_inbound_ < sent_at && !paused_) {
                ++stats_.heartbeat_timeouts;
                co_return disconnect{.kind = disconnect_kind::heartbeat_timeout,
                                     .error = error::heartbeat_timeout,
                                     .reason = "no frame within pong_timeout of a ping"};
            }
        }
    }

    // Beast tears the transport down inside the pending read, after the peer's close frame or
    // after failing the connection itself (message too big, protocol error): TCP shutdown then
    // read to EOF, or TLS close_notify both ways, with no deadline of its own. So a peer that
    // never finishes would hold the link for ever. This watch gives the teardown about
    // handshake_timeout: once the stream has been out of the open state for that long, it shuts
    // the socket down, which ends the teardown as the peer's EOF would (over TCP, Beast then
    // still reports its own reason). It never ends the connection by itself.
    template <class Stream>
    asio::awaitable<disconnect> teardown_watch(Stream& ws)
    {
        co_await asio::this_coro::throw_if_cancelled(false);
        const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
        asio::steady_timer timer(strand_);
        bool was_closing = false;
        for (;;) {
            if (stopped(cs)) co_return user_disconnect();
            timer.expires_after(was_closing ? cfg_.handshake_timeout : cfg_.handshake_timeout / 2);
            co_await timer.async_wait(use_tuple);
            if (stopped(cs)) co_return user_disconnect();
            const bool closing = !ws.is_open();
            if (closing && was_closing) {
                error_code ignored;
                beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
            }
            was_closing = closing;
        }
    }

    // --- messages ------------------------------------------------------------------------------

    void on_text(std::string_view text)
    {
        inbound in = adapter_.adapt(text);
        switch (in.status) {
        case inbound_status::malformed:
            ++stats_.malformed;
            emit(cb_.on_error, in.error, "malformed JSON message skipped: " + in.error.message());
            return;
        case inbound_status::ignored: ++stats_.ignored; return;
        case inbound_status::delivered: break;
        }
        ++stats_.received;
        for (auto it = requests_.begin(); it != requests_.end(); ++it) {
            if (it->match(in.value)) {
                auto h = std::move(it->handler);
                requests_.erase(it);
                return complete(ex_, std::move(h), error_code{}, std::move(in.value));
            }
        }
        if (cb_.on_message) return emit(cb_.on_message, in.value);
        if (!receivers_.empty()) {
            auto h = std::move(receivers_.front().handler);
            receivers_.pop_front();
            return complete(ex_, std::move(h), error_code{}, std::move(in.value));
        }
        inbox_.push_back(std::move(in.value));
    }

    // A queued message went out (or failed to).
    void sent(outgoing& item, error_code ec)
    {
        if (item.request_id == 0) return complete(ex_, std::move(item.handler), ec);
        if (ec) return fail_request(item.request_id, ec);
        for (auto& r : requests_)
            if (r.id == item.request_id) r.sent = true;
    }

    void fail_request(std::uint64_t id, error_code ec)
    {
        // A request that failed before it went out must not go out later.
        std::erase_if(sendq_, [id](const outgoing& o) { return o.request_id == id; });
        for (auto it = requests_.begin(); it != requests_.end(); ++it) {
            if (it->id == id) {
                auto h = std::move(it->handler);
                requests_.erase(it);
                return complete(ex_, std::move(h), ec, boost::json::value());
            }
        }
    }

    // Responses to requests that went out on a link that has ended will not come.
    void fail_sent_requests()
    {
        for (auto it = requests_.begin(); it != requests_.end();) {
            if (!it->sent) {
                ++it;
                continue;
            }
            auto h = std::move(it->handler);
            it = requests_.erase(it);
            complete(ex_, std::move(h), error_code(error::connection_lost), boost::json::value());
        }
    }

    // --- endings -------------------------------------------------------------------------------

    void finish(disconnect why)
    {
        finished_ = true;
        const bool by_user = why.kind == disconnect_kind::user;
        final_error_ = by_user ? error_code{} : why.error ? why.error : error_code(error::reconnect_gave_up);
        set_state(client_state::closed);
        if (!by_user) emit(cb_.on_close, why);
        silenced_ = true;  // no callback after the end

        close_deadline_.cancel();
        complete_all(connect_waiters_, final_error_ ? final_error_ : error_code(error::client_closed));
        for (auto& h : run_waiters_) complete(ex_, std::move(h), final_error_);
        run_waiters_.clear();
        for (auto& h : close_waiters_) complete(ex_, std::move(h), error_code{});
        close_waiters_.clear();
        if (inbox_.empty()) complete_all(receivers_, error_code(error::client_closed), boost::json::value());
        for (auto& r : requests_)
            complete(ex_, std::move(r.handler), error_code(error::client_closed), boost::json::value());
        requests_.clear();
        for (auto& item : sendq_) sent(item, error::client_closed);
        sendq_.clear();
    }

    // --- helpers -------------------------------------------------------------------------------

    bool interrupted() const noexcept { return closing_ || reconnect_requested_; }

    // Why a new message cannot join the send queue now, if it cannot: sends and requests share it.
    error_code refuse_send() const noexcept
    {
        if (finished_ || closing_) return error::client_closed;
        if (sendq_.size() >= cfg_.send_queue_capacity) return error::send_queue_full;
        return {};
    }

    void set_state(client_state s) noexcept { state_.store(s, std::memory_order_relaxed); }

    template <class F, class... Args>
    void emit(const F& f, Args&&... args)
    {
        if (f && !silenced_) f(std::forward<Args>(args)...);
    }

    template <class Signature>
    void add_waiter(std::list<waiter<Signature>>& list, asio::any_completion_handler<Signature> h)
    {
        const std::uint64_t id = ++next_id_;
        auto slot = asio::get_associated_cancellation_slot(h);
        if (slot.is_connected()) {
            slot.assign([w = weak_from_this(), &list, id](asio::cancellation_type type) {
                if ((type & asio::cancellation_type::terminal) == asio::cancellation_type::none) return;
                auto self = w.lock();
                if (!self) return;
                asio::post(self->strand_, [self, &list, id] { self->cancel_waiter(list, id); });
            });
        }
        list.push_back({id, std::move(h)});
    }

    template <class Signature>
    void cancel_waiter(std::list<waiter<Signature>>& list, std::uint64_t id)
    {
        for (auto it = list.begin(); it != list.end(); ++it) {
            if (it->id != id) continue;
            auto h = std::move(it->handler);
            list.erase(it);
            if constexpr (std::is_same_v<Signature, void(error_code)>)
                complete(ex_, std::move(h), error_code(asio::error::operation_aborted));
            else
                complete(ex_, std::move(h), error_code(asio::error::operation_aborted), boost::json::value());
            return;
        }
    }

    template <class Signature, class... Args>
    void complete_all(std::list<waiter<Signature>>& list, Args... args)
    {
        auto waiters = std::move(list);
        list.clear();
        for (auto& w : waiters) complete(ex_, std::move(w.handler), args...);
    }

    // TLS 1.2 or later; the chain is verified against the system store plus `ca_file`/`ca_path`
    // (the host name per connection, in open_transport). Files that do not load throw now,
    // naming the field.
    void make_tls_context()
    {
        const tls_config& t = cfg_.tls;
        tls_.emplace(ssl::context::tls_client);
        tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
        auto load = [](const char* field, const std::string& file, auto&& op) {
            error_code ec;
            op(ec);
            if (ec) throw std::invalid_argument(std::string(field) + ": cannot load '" + file + "': " + ec.message());
        };
        if (t.verify_peer) {
            tls_->set_verify_mode(ssl::verify_peer);
            tls_->set_default_verify_paths();
            if (!t.ca_file.empty()) load("tls.ca_file", t.ca_file, [&](error_code& ec) { tls_->load_verify_file(t.ca_file, ec); });
            if (!t.ca_path.empty()) {
                if (!std::filesystem::is_directory(t.ca_path))
                    throw std::invalid_argument("tls.ca_path: '" + t.ca_path + "' is not a directory");
                load("tls.ca_path", t.ca_path, [&](error_code& ec) { tls_->add_verify_path(t.ca_path, ec); });
            }
        } else {
            tls_->set_verify_mode(ssl::verify_none);
        }
        if (!t.certificate_file.empty()) {
            load("tls.certificate_file", t.certificate_file,
                 [&](error_code& ec) { tls_->use_certificate_chain_file(t.certificate_file, ec); });
            load("tls.key_file", t.key_file,
                 [&](error_code& ec) { tls_->use_private_key_file(t.key_file, ssl::context::pem, ec); });
            if (SSL_CTX_check_private_key(tls_->native_handle()) != 1)
                throw std::invalid_argument("tls.key_file: '" + t.key_file + "' does not match tls.certificate_file");
        }
    }

    executor_type ex_;
    // A strand over the application's executor, type-erased. Over an io_context's executor it is
    // built on the concrete type: a strand over any_io_executor pays a second layer of type
    // erasure (copies, destructions, calls through pointers) on every completion.
    executor_type strand_;
    client_config cfg_;
    client_callbacks cb_;
    ws_url url_;
    std::optional<proxy_endpoint> proxy_;  // chosen at construction, from the config or the environment
    std::optional<ssl::context> tls_;
    message_adapter adapter_;

    std::atomic<client_state> state_{client_state::idle};
    bool started_ = false;
    bool finished_ = false;
    bool closing_ = false;
    bool reconnect_requested_ = false;
    error_code final_error_;
    std::uint64_t next_id_ = 0;

    // The current connection.
    std::function<void()> abort_;  // hard-stops the attempt or link under way; set while one runs
    bool healthy_ = false;         // a message or pong arrived on it
    bool paused_ = false;          // the reader waits for inbox room
    clock_type::time_point last_inbound_{};

    asio::steady_timer backoff_timer_;
    asio::steady_timer send_signal_;   // cancelled to wake the writer
    asio::steady_timer inbox_signal_;  // cancelled to wake a paused reader
    asio::steady_timer close_deadline_;

    std::deque<outgoing> sendq_;
    std::deque<boost::json::value> inbox_;
    std::list<waiter<void(error_code, boost::json::value)>> receivers_;
    std::list<waiter<void(error_code)>> connect_waiters_;
    std::list<pending_request> requests_;
    std::vector<void_handler> run_waiters_;
    std::vector<void_handler> close_waiters_;

    atomic_stats stats_;
};

// --- the public face -----------------------------------------------------------------------------

client::client(executor_type ex, client_config config, client_callbacks callbacks)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(config), std::move(callbacks)))
{
}

client::~client()
{
    impl_->silenced_ = true;
    asio::dispatch(impl_->strand(), [i = impl_] { i->shutdown(); });
}

client::executor_type client::get_executor() const noexcept
{
    return impl_->executor();
}

std::string client::serialize(const boost::json::value& v)
{
    return boost::json::serialize(v);
}

void client::start_run(asio::any_completion_handler<void(error_code)> h)
{
    asio::post(impl_->strand(), [i = impl_, h = std::move(h)]() mutable { i->run(std::move(h)); });
}

void client::start_connect(asio::any_completion_handler<void(error_code)> h)
{
    asio::post(impl_->strand(), [i = impl_, h = std::move(h)]() mutable { i->connect(std::move(h)); });
}

void client::start_send(std::string text, asio::any_completion_handler<void(error_code)> h)
{
    asio::post(impl_->strand(),
               [i = impl_, t = std::move(text), h = std::move(h)]() mutable { i->send(std::move(t), std::move(h)); });
}

void client::start_receive(asio::any_completion_handler<void(error_code, boost::json::value)> h)
{
    asio::post(impl_->strand(), [i = impl_, h = std::move(h)]() mutable { i->receive(std::move(h)); });
}

void client::start_request(std::string text, std::function<bool(const boost::json::value&)> match,
                           std::chrono::milliseconds timeout,
                           asio::any_completion_handler<void(error_code, boost::json::value)> h)
{
    asio::post(impl_->strand(),
               [i = impl_, t = std::move(text), m = std::move(match), timeout, h = std::move(h)]() mutable {
                   i->request(std::move(t), std::move(m), timeout, std::move(h));
               });
}

void client::start_close(asio::any_completion_handler<void(error_code)> h)
{
    asio::post(impl_->strand(), [i = impl_, h = std::move(h)]() mutable { i->close(std::move(h)); });
}

void client::reconnect()
{
    asio::post(impl_->strand(), [i = impl_] { i->reconnect(); });
}

bool client::is_connected() const noexcept
{
    return impl_->state() == client_state::connected;
}

client_state client::state() const noexcept
{
    return impl_->state();
}

client_stats client::stats() const noexcept
{
    return impl_->stats();
}

std::string_view to_string(client_state s) noexcept
{
    switch (s) {
    case client_state::idle: return "idle";
    case client_state::connecting: return "connecting";
    case client_state::connected: return "connected";
    case client_state::reconnecting: return "reconnecting";
    case client_state::closing: return "closing";
    case client_state::closed: return "closed";
    }
    return "unknown";
}

}  // namespace tether
