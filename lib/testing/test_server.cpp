// tether testing kit: the scripted in-process WebSocket server.
#include <tether/testing/test_server.hpp>

#include "waiters.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <exception>
#include <iostream>
#include <list>
#include <utility>
#include <variant>

namespace tether::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

// Every network operation completes with an error code rather than throwing.
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

constexpr auto request_read_timeout = std::chrono::seconds(10);
constexpr auto reject_write_timeout = std::chrono::seconds(5);
// Bounds the opening and the closing handshake of the server side.
constexpr auto ws_handshake_timeout = std::chrono::seconds(5);
constexpr auto tls_handshake_timeout = std::chrono::seconds(5);

using plain_ws = websocket::stream<beast::tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

std::unique_ptr<ssl::context> make_server_tls(const tls_identity& id)
{
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
    ctx->use_certificate_chain_file(id.certificate_file);
    ctx->use_private_key_file(id.key_file, ssl::context::pem);
    if (!id.client_ca_file.empty()) {
        ctx->load_verify_file(id.client_ca_file);
        ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    return ctx;
}

}  // namespace

namespace detail {

// What the server and its connections share. Connections and coroutines hold it by shared_ptr,
// so it outlives the test_server object for as long as anything still runs on the io_context.
struct server_core : std::enable_shared_from_this<server_core> {
    server_core(net::any_io_executor ex, const server_options& options)
        : ex_(std::move(ex)), port_(options.port), acceptor_(ex_),
          tls_(options.tls ? make_server_tls(*options.tls) : nullptr), deflate_(options.permessage_deflate)
    {
    }

    net::any_io_executor ex_;
    std::uint16_t port_;
    tcp::acceptor acceptor_;
    std::unique_ptr<ssl::context> tls_;  // set: every connection is TLS
    bool deflate_ = false;
    std::size_t tls_failures_ = 0;
    test_server::handler handler_;
    bool running_ = false;
    bool destroyed_ = false;
    // Bumped on every start, so that a stale accept loop recognises itself and ends.
    std::uint64_t generation_ = 0;

    std::vector<upgrade_request> requests_;
    std::vector<std::string> messages_;
    std::list<std::weak_ptr<server_connection::state>> connections_;
    change_waiters waiters_;  // the async_wait_until calls under way

    void listen();
    void stop() noexcept;
    void notify() noexcept { waiters_.notify(); }
};

}  // namespace detail

struct server_connection::state {
    state(std::shared_ptr<detail::server_core> s, tcp::socket socket)
        : server(std::move(s)), ws(make_stream(*server, std::move(socket))), silence(server->ex_)
    {
    }

    static std::variant<plain_ws, tls_ws> make_stream(detail::server_core& core, tcp::socket socket)
    {
        if (core.tls_) return std::variant<plain_ws, tls_ws>(std::in_place_type<tls_ws>, std::move(socket), *core.tls_);
        return std::variant<plain_ws, tls_ws>(std::in_place_type<plain_ws>, std::move(socket));
    }

    beast::tcp_stream& tcp() noexcept
    {
        return std::visit([](auto& w) -> beast::tcp_stream& { return beast::get_lowest_layer(w); }, ws);
    }

    std::shared_ptr<detail::server_core> server;
    std::variant<plain_ws, tls_ws> ws;              // every operation below visits it
    http::request<http::string_body> http_request;  // ws.async_accept needs the parsed request
    upgrade_request request;
    net::steady_timer silence;  // async_stay_silent waits on it; drop() cancels it
    bool dropped = false;

    void drop() noexcept
    {
        dropped = true;
        tcp().close();  // closes the socket and cancels the stream's timer
        silence.cancel();
    }
};

// --- upgrade_request ---------------------------------------------------------------------------

std::string upgrade_request::header_value(std::string_view name) const
{
    for (const auto& h : headers)
        if (beast::iequals(h.name, name)) return h.value;
    return {};
}

// --- server_connection -------------------------------------------------------------------------

server_connection::server_connection(std::shared_ptr<state> s) : state_(std::move(s)) {}

const upgrade_request& server_connection::request() const noexcept
{
    return state_->request;
}

net::awaitable<error_code> server_connection::async_accept()
{
    auto s = state_;
    if (s->dropped) co_return net::error::operation_aborted;
    // The server never pings by itself: tests rely on the client's heartbeat alone.
    websocket::stream_base::timeout opt{};
    opt.handshake_timeout = ws_handshake_timeout;
    opt.idle_timeout = websocket::stream_base::none();
    opt.keep_alive_pings = false;
    websocket::permessage_deflate deflate;
    deflate.server_enable = s->server->deflate_;
    co_return co_await std::visit(
        [&](auto& ws) -> net::awaitable<error_code> {
            ws.set_option(opt);
            ws.set_option(deflate);
            auto [ec] = co_await ws.async_accept(s->http_request, use_nothrow);
            co_return ec;
        },
        s->ws);
}

net::awaitable<error_code> server_connection::async_reject(unsigned status, std::vector<header> headers)
{
    auto s = state_;
    if (s->dropped) co_return net::error::operation_aborted;
    if (status < 100 || status > 999) co_return net::error::invalid_argument;

    http::response<http::string_body> res;
    res.version(s->http_request.version());
    res.result(status);
    for (const auto& h : headers) res.insert(h.name, h.value);
    res.set(http::field::connection, "close");
    res.set(http::field::content_type, "text/plain");
    res.body() = "rejected by tether test_server\n";
    res.prepare_payload();

    s->tcp().expires_after(reject_write_timeout);
    auto [ec, n] =
        co_await std::visit([&](auto& ws) { return http::async_write(ws.next_layer(), res, use_nothrow); }, s->ws);
    (void)n;
    // The request was read in full, so closing now sends a FIN after the response, not a reset.
    beast::error_code ignored;
    s->tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    s->tcp().close();
    co_return ec;
}

net::awaitable<error_code> server_connection::async_send(std::string text)
{
    auto s = state_;
    if (s->dropped) co_return net::error::operation_aborted;
    auto [ec, n] = co_await std::visit(
        [&](auto& ws) {
            ws.text(true);
            return ws.async_write(net::buffer(text), use_nothrow);
        },
        s->ws);
    (void)n;
    co_return ec;
}

net::awaitable<error_code> server_connection::async_send(message m)
{
    auto s = state_;
    if (s->dropped) co_return net::error::operation_aborted;
    auto [ec, n] = co_await std::visit(
        [&](auto& ws) {
            ws.binary(m.kind == message_kind::binary);
            return ws.async_write(net::buffer(m.payload), use_nothrow);
        },
        s->ws);
    (void)n;
    co_return ec;
}

net::awaitable<error_code> server_connection::async_send_raw(std::string bytes)
{
    auto s = state_;
    if (s->dropped) co_return net::error::operation_aborted;
    auto [ec, n] = co_await std::visit(
        [&](auto& ws) { return net::async_write(ws.next_layer(), net::buffer(bytes), use_nothrow); }, s->ws);
    (void)n;
    co_return ec;
}

net::awaitable<std::optional<std::string>> server_connection::async_receive()
{
    for (;;) {
        auto m = co_await async_receive_message();
        if (!m) co_return std::nullopt;
        if (m->kind == message_kind::text) co_return std::move(m->payload);  // only text is part of the script
    }
}

net::awaitable<std::optional<message>> server_connection::async_receive_message()
{
    auto s = state_;
    if (s->dropped) co_return std::nullopt;
    beast::flat_buffer buffer;
    // A pending read is what makes Beast answer pings and close frames.
    auto [ec, n] = co_await std::visit([&](auto& ws) { return ws.async_read(buffer, use_nothrow); }, s->ws);
    (void)n;
    if (ec) co_return std::nullopt;
    const bool text = std::visit([](auto& ws) { return ws.got_text(); }, s->ws);
    message m{text ? message_kind::text : message_kind::binary, beast::buffers_to_string(buffer.data())};
    if (text) {
        s->server->messages_.push_back(m.payload);
        s->server->notify();
    }
    co_return m;
}

net::awaitable<error_code> server_connection::async_close(std::uint16_t code, std::string reason)
{
    auto s = state_;
    if (s->dropped) co_return net::error::operation_aborted;
    // Beast's close sends the frame, reads until the peer's close frame (bounded by the
    // handshake timeout), then tears the TCP connection down.
    websocket::close_reason cr;
    cr.code = code;  // any code, application ones (4000-4999) included
    cr.reason = std::move(reason);
    auto [ec] = co_await std::visit([&](auto& ws) { return ws.async_close(cr, use_nothrow); }, s->ws);
    co_return ec;
}

net::awaitable<void> server_connection::async_echo()
{
    for (;;) {
        auto m = co_await async_receive_message();
        if (!m) co_return;
        const auto ec = co_await async_send(std::move(*m));
        if (ec) co_return;
    }
}

net::awaitable<void> server_connection::async_stay_silent(std::chrono::milliseconds d)
{
    auto s = state_;
    if (s->dropped) co_return;
    s->silence.expires_after(d);
    // Ends early with operation_aborted when the server stops or the connection is dropped.
    auto [ec] = co_await s->silence.async_wait(use_nothrow);
    (void)ec;
}

void server_connection::drop() noexcept
{
    state_->drop();
}

// --- the server's coroutines ---------------------------------------------------------------------

namespace {

using core_ptr = std::shared_ptr<detail::server_core>;
using state_ptr = std::shared_ptr<server_connection::state>;

std::string peer_certificate_subject(server_connection::state& st)
{
    auto* tls = std::get_if<tls_ws>(&st.ws);
    if (!tls) return {};
    X509* cert = SSL_get1_peer_certificate(tls->next_layer().native_handle());
    if (!cert) return {};
    std::string subject;
    if (BIO* bio = BIO_new(BIO_s_mem())) {
        X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_ONELINE);
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        subject.assign(data, static_cast<std::size_t>(n));
        BIO_free(bio);
    }
    X509_free(cert);
    return subject;
}

// Over TLS, the handshake comes first; the TCP stream's timer bounds it.
net::awaitable<error_code> tls_handshake(server_connection::state& st)
{
    auto* tls = std::get_if<tls_ws>(&st.ws);
    if (!tls) co_return error_code{};
    st.tcp().expires_after(tls_handshake_timeout);
    auto [ec] = co_await tls->next_layer().async_handshake(ssl::stream_base::server, use_nothrow);
    co_return ec;
}

upgrade_request to_upgrade_request(const http::request<http::string_body>& req)
{
    upgrade_request r;
    r.target = std::string(req.target());
    for (const auto& field : req)
        r.headers.push_back(header{std::string(field.name_string()), std::string(field.value())});
    r.received_at = std::chrono::steady_clock::now();
    return r;
}

net::awaitable<void> default_handler(server_connection& c)
{
    // (The result goes through a local: g++ 12 miscompiles co_await inside a condition.)
    const auto ec = co_await c.async_accept();
    if (!ec) co_await c.async_echo();
}

net::awaitable<void> run_connection(core_ptr core, state_ptr st,
                                    std::list<std::weak_ptr<server_connection::state>>::iterator entry,
                                    test_server::handler h)
{
    // However this coroutine ends, the connection stops counting as live and waiters re-check.
    struct unregister {
        core_ptr core;
        std::list<std::weak_ptr<server_connection::state>>::iterator entry;
        ~unregister()
        {
            core->connections_.erase(entry);
            core->notify();
        }
    } guard{core, entry};

    try {
        const auto tls_ec = co_await tls_handshake(*st);
        if (tls_ec) {
            ++core->tls_failures_;
            core->notify();
            st->drop();
            co_return;
        }
        beast::flat_buffer buffer;
        st->tcp().expires_after(request_read_timeout);
        auto [ec, n] = co_await std::visit(
            [&](auto& ws) { return http::async_read(ws.next_layer(), buffer, st->http_request, use_nothrow); }, st->ws);
        (void)n;
        // The websocket stream applies its own timeouts; the TCP stream's timer must be off.
        st->tcp().expires_never();
        if (ec || st->dropped || core->destroyed_) {
            st->drop();
            co_return;
        }

        st->request = to_upgrade_request(st->http_request);
        st->request.client_certificate = peer_certificate_subject(*st);
        core->requests_.push_back(st->request);
        core->notify();

        server_connection conn{st};
        if (h)
            co_await h(conn);
        else
            co_await default_handler(conn);
    } catch (const std::exception& e) {
        std::cerr << "tether test_server: the connection handler threw: " << e.what() << '\n';
        st->drop();
    } catch (...) {
        std::cerr << "tether test_server: the connection handler threw\n";
        st->drop();
    }
}

net::awaitable<void> accept_loop(core_ptr core, std::uint64_t generation)
{
    for (;;) {
        auto [ec, socket] = co_await core->acceptor_.async_accept(use_nothrow);
        // After stop() (or a stop() + start()) this loop is stale: the new one owns the acceptor.
        if (!core->running_ || core->generation_ != generation || core->destroyed_) co_return;
        if (ec) continue;  // e.g. the peer reset before we accepted; keep listening
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);

        // Registered now, not when the coroutine starts, so that a stop() in between drops it.
        auto st = std::make_shared<server_connection::state>(core, std::move(socket));
        core->connections_.push_back(st);
        auto entry = std::prev(core->connections_.end());
        // The handler is the one current at accept time.
        net::co_spawn(core->ex_, run_connection(core, st, entry, core->handler_), net::detached);
    }
}

net::awaitable<error_code> wait_until(core_ptr core, std::function<bool()> predicate, std::chrono::milliseconds limit)
{
    return core->waiters_.wait_until(core->ex_, core, std::move(predicate), limit);
}

}  // namespace

// --- server_core -------------------------------------------------------------------------------

void detail::server_core::listen()
{
    port_ = listen_on_loopback(acceptor_, port_);
    running_ = true;
    ++generation_;
    net::co_spawn(ex_, accept_loop(shared_from_this(), generation_), net::detached);
}

void detail::server_core::stop() noexcept
{
    running_ = false;
    beast::error_code ignored;
    acceptor_.close(ignored);
    // drop() only posts completions, so no entry is erased while this loop runs.
    for (const auto& weak : connections_)
        if (auto st = weak.lock()) st->drop();
}

// --- test_server -------------------------------------------------------------------------------

struct test_server::impl : detail::server_core {
    using server_core::server_core;
};

test_server::test_server(net::any_io_executor ex, handler h, std::uint16_t port)
    : test_server(std::move(ex), std::move(h), server_options{.port = port})
{
}

test_server::test_server(net::any_io_executor ex, handler h, server_options options)
    : impl_(std::make_shared<impl>(std::move(ex), options))
{
    impl_->handler_ = std::move(h);
    impl_->listen();
}

test_server::~test_server()
{
    impl_->destroyed_ = true;
    impl_->handler_ = nullptr;  // releases whatever the test's handler captured
    impl_->stop();
    impl_->notify();
}

std::uint16_t test_server::port() const noexcept
{
    return impl_->port_;
}

std::string test_server::url(std::string_view target) const
{
    std::string u = (impl_->tls_ ? "wss://127.0.0.1:" : "ws://127.0.0.1:") + std::to_string(impl_->port_);
    if (target.empty() || target.front() != '/') u += '/';
    u += target;
    return u;
}

void test_server::set_handler(handler h)
{
    impl_->handler_ = std::move(h);
}

void test_server::stop()
{
    impl_->stop();
}

void test_server::start()
{
    if (impl_->running_) return;
    impl_->listen();
}

const std::vector<upgrade_request>& test_server::requests() const noexcept
{
    return impl_->requests_;
}

const std::vector<std::string>& test_server::messages() const noexcept
{
    return impl_->messages_;
}

std::size_t test_server::live_connections() const noexcept
{
    return impl_->connections_.size();
}

std::size_t test_server::tls_handshake_failures() const noexcept
{
    return impl_->tls_failures_;
}

net::awaitable<error_code> test_server::async_wait_until(std::function<bool()> predicate,
                                                         std::chrono::milliseconds limit)
{
    return wait_until(impl_, std::move(predicate), limit);
}

}  // namespace tether::testing
