// tether testing kit: the server side of tether's resume convention, written on Beast directly.
// (test_server's connections allow one operation at a time and record every message received;
// this server reads and writes each connection at once and keeps only what is unacknowledged.)
#include <tether/testing/resume_server.hpp>

#include "waiters.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <deque>
#include <exception>
#include <iostream>
#include <list>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

namespace tether::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

// Every network operation completes with an error code rather than throwing.
constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

constexpr auto request_read_timeout = std::chrono::seconds(10);
constexpr auto reject_write_timeout = std::chrono::seconds(5);
constexpr auto ws_handshake_timeout = std::chrono::seconds(5);
constexpr auto tls_handshake_timeout = std::chrono::seconds(5);

using plain_ws = websocket::stream<beast::tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

// A message as sent: serialized once, shared by the kept list and every outbox it is queued in.
using text_ptr = std::shared_ptr<const std::string>;

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

text_ptr cumulative_ack_text(std::uint64_t seq)
{
    return std::make_shared<const std::string>(R"({"type":"ack","seq":)" + std::to_string(seq) + "}");
}

text_ptr id_ack_text(json::string_view id)
{
    return std::make_shared<const std::string>(json::serialize(json::object{{"type", "ack"}, {"id", id}}));
}

// A member that is a non-negative integer; empty when absent or anything else.
std::optional<std::uint64_t> unsigned_member(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
}

// Decimal digits and nothing else (a Last-Event-ID header, a last_seq parameter).
std::optional<std::uint64_t> parse_seq(std::string_view s)
{
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return n;
}

std::string percent_encode(std::string_view s)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char ch : s) {
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            out += static_cast<char>(ch);
        } else {
            out += '%';
            out += hex[ch >> 4];
            out += hex[ch & 0xF];
        }
    }
    return out;
}

}  // namespace

namespace detail {

// One accepted TCP connection: its stream, and the queue its writer drains. The reader is the
// coroutine that accepted it; the writer is a second one, started after the upgrade, so that a
// write never waits for a read (Beast allows one of each at a time).
struct resume_connection {
    resume_connection(const net::any_io_executor& ex, tcp::socket socket, ssl::context* tls)
        : ws(make_stream(std::move(socket), tls)), wake(ex)
    {
    }

    static std::variant<plain_ws, tls_ws> make_stream(tcp::socket socket, ssl::context* tls)
    {
        if (tls) return std::variant<plain_ws, tls_ws>(std::in_place_type<tls_ws>, std::move(socket), *tls);
        return std::variant<plain_ws, tls_ws>(std::in_place_type<plain_ws>, std::move(socket));
    }

    beast::tcp_stream& tcp() noexcept
    {
        return std::visit([](auto& w) -> beast::tcp_stream& { return beast::get_lowest_layer(w); }, ws);
    }

    std::variant<plain_ws, tls_ws> ws;
    net::steady_timer wake;       // the writer sleeps on it while the outbox is empty; cancel() wakes it
    std::deque<text_ptr> outbox;  // to be written, in order
    bool ended = false;           // dropped or finished: nothing more is queued or written

    void send(text_ptr text)
    {
        if (ended) return;
        outbox.push_back(std::move(text));
        wake.cancel();
    }

    void drop() noexcept
    {
        ended = true;
        outbox.clear();
        tcp().close();  // closes the socket and cancels the stream's timer; pending operations fail
        wake.cancel();
    }
};

using resume_connection_ptr = std::shared_ptr<resume_connection>;

struct resume_kept_message {
    std::uint64_t seq;
    text_ptr text;
};

// What the server knows of one session; it outlives connections and a stop()/start().
struct resume_session {
    explicit resume_session(const net::any_io_executor& ex) : ack_timer(ex) {}

    resume_session_stats stats;
    std::uint64_t last_accepted = 0;
    std::deque<resume_kept_message> kept;  // published, not acknowledged: consecutive seqs, oldest first
    std::uint64_t sent_up_to = 0;          // the highest seq handed to a connection: tells replays from first sends
    std::weak_ptr<resume_connection> newest;
    std::size_t unacked = 0;      // accepted since the last cumulative ack
    std::uint64_t ack_round = 0;  // bumped by every cumulative ack, so that an older delayed one is void
    net::steady_timer ack_timer;  // the ack_delay of the first unacknowledged message
};

// What the server, its connections and its timers share. They hold it by shared_ptr, so that it
// outlives the resume_server object for as long as anything of it still runs on the executor.
struct resume_core : std::enable_shared_from_this<resume_core> {
    resume_core(net::any_io_executor executor, resume_server_options opts)
        : ex(std::move(executor)), options(std::move(opts)), port(options.listen.port), acceptor(ex),
          tls(options.listen.tls ? make_server_tls(*options.listen.tls) : nullptr)
    {
    }

    net::any_io_executor ex;
    resume_server_options options;
    std::uint16_t port;
    tcp::acceptor acceptor;
    std::unique_ptr<ssl::context> tls;  // set: every connection is TLS
    bool running = false;
    bool destroyed = false;
    // Bumped on every start, so that a stale accept loop recognises itself and ends.
    std::uint64_t generation = 0;
    resume_server::message_handler handler;
    std::map<std::string, resume_session, std::less<>> sessions;  // nodes are stable: references stay valid
    std::list<std::weak_ptr<resume_connection>> connections;
    change_waiters waiters;  // the async_wait_until calls under way

    void notify() noexcept { waiters.notify(); }

    resume_session& session_named(std::string_view id)
    {
        auto it = sessions.find(id);
        if (it == sessions.end())
            it = sessions.emplace(std::piecewise_construct, std::forward_as_tuple(id), std::forward_as_tuple(ex)).first;
        return it->second;
    }

    // Acknowledgements go to the session's newest connection: the one the client listens on.
    void send_ack(resume_session& s, text_ptr text)
    {
        auto c = s.newest.lock();
        if (!c || c->ended) return;
        c->send(std::move(text));
        ++s.stats.acks_sent;
    }

    void cumulative_ack(resume_session& s)
    {
        s.unacked = 0;
        ++s.ack_round;
        s.ack_timer.cancel();
        send_ack(s, cumulative_ack_text(s.last_accepted));
    }

    // The client acknowledged server messages up to `m` (an ack, or Last-Event-ID).
    void client_acked(resume_session& s, std::uint64_t m)
    {
        if (m > s.stats.published) {
            ++s.stats.malformed;  // it cannot have seen what was never published
            m = s.stats.published;
        }
        s.stats.client_acked = std::max(s.stats.client_acked, m);
        while (!s.kept.empty() && s.kept.front().seq <= m) s.kept.pop_front();
        s.stats.kept = s.kept.size();
    }

    // A connection of `s` completed its upgrade: it becomes the newest, gets the initial ack and
    // the replay, all queued before anything published later.
    void open(resume_session& s, const resume_connection_ptr& c, std::uint64_t last_event_id)
    {
        ++s.stats.connections;
        s.newest = c;
        client_acked(s, last_event_id);
        if (options.acknowledge) cumulative_ack(s);
        for (const auto& k : s.kept) {
            if (k.seq <= s.sent_up_to)
                ++s.stats.replayed;
            else
                s.sent_up_to = k.seq;
            c->send(k.text);
        }
        notify();
    }

    void acknowledge_accepted(resume_session& s, const json::object& message)
    {
        if (!options.acknowledge) return;
        if (options.per_message_acks) {
            const auto* id = message.if_contains("id");
            if (id && id->is_string())
                send_ack(s, id_ack_text(id->get_string()));
            else
                cumulative_ack(s);
            return;
        }
        if (++s.unacked >= std::max<std::size_t>(options.ack_every, 1)) {
            cumulative_ack(s);
            return;
        }
        if (s.unacked > 1) return;  // the timer of an earlier message runs
        s.ack_timer.expires_after(options.ack_delay);
        s.ack_timer.async_wait([self = shared_from_this(), &s, round = s.ack_round](const error_code& ec) {
            if (ec || self->destroyed || s.ack_round != round || s.unacked == 0) return;
            self->cumulative_ack(s);
            self->notify();
        });
    }

    // A duplicate is answered at once, so that a client whose ack was lost learns the position.
    void acknowledge_duplicate(resume_session& s, const json::object& message)
    {
        if (!options.acknowledge) return;
        const auto* id = message.if_contains("id");
        if (options.per_message_acks && id && id->is_string())
            send_ack(s, id_ack_text(id->get_string()));
        else
            cumulative_ack(s);
    }

    // One text message from a connection of `session_id`, whichever connection it came on.
    void receive(const std::string& session_id, std::string_view text)
    {
        auto& s = session_named(session_id);
        error_code ec;
        auto v = json::parse(text, ec);
        if (ec || !v.is_object()) {
            ++s.stats.malformed;
            notify();
            return;
        }
        const auto& o = v.get_object();
        const auto* type = o.if_contains("type");
        if (type && type->is_string() && type->get_string() == "ack") {
            const auto m = unsigned_member(o, "seq");
            if (m)
                client_acked(s, *m);
            else
                ++s.stats.malformed;
            notify();
            return;
        }
        const auto n = unsigned_member(o, "seq");
        if (!n || *n == 0) {
            ++s.stats.malformed;
        } else if (*n <= s.last_accepted) {
            ++s.stats.duplicates;
            acknowledge_duplicate(s, o);
        } else if (*n > s.last_accepted + 1) {
            ++s.stats.gaps;
        } else {
            s.last_accepted = *n;
            ++s.stats.accepted;
            if (handler) {
                const auto h = handler;  // a copy: the handler may replace itself
                h(session_id, o);
            }
            acknowledge_accepted(s, o);
        }
        notify();
    }

    std::uint64_t publish(std::string_view session_id, json::object message)
    {
        const auto* type = message.if_contains("type");
        if (type && type->is_string() && type->get_string() == "ack")
            throw std::invalid_argument("tether resume_server: \"ack\" is reserved for acknowledgements");
        auto& s = session_named(session_id);
        const auto seq = ++s.stats.published;
        message["seq"] = seq;
        auto text = std::make_shared<const std::string>(json::serialize(message));
        s.kept.push_back({seq, text});
        s.stats.kept = s.kept.size();
        if (auto c = s.newest.lock(); c && !c->ended) {
            c->send(std::move(text));
            s.sent_up_to = seq;
        }
        return seq;
    }

    void drop_all() noexcept
    {
        // drop() only posts completions, so no entry is erased while this loop runs.
        for (const auto& weak : connections)
            if (auto c = weak.lock()) c->drop();
    }

    void listen();
    void stop() noexcept;
};

}  // namespace detail

namespace {

using connection = detail::resume_connection;
using connection_ptr = detail::resume_connection_ptr;
using impl_ptr = std::shared_ptr<detail::resume_core>;

net::awaitable<error_code> tls_handshake(connection& c)
{
    auto* tls = std::get_if<tls_ws>(&c.ws);
    if (!tls) co_return error_code{};
    c.tcp().expires_after(tls_handshake_timeout);
    auto [ec] = co_await tls->next_layer().async_handshake(ssl::stream_base::server, use_nothrow);
    co_return ec;
}

net::awaitable<void> reject(connection& c, const http::request<http::string_body>& req, std::string why)
{
    http::response<http::string_body> res{http::status::bad_request, req.version()};
    res.set(http::field::connection, "close");
    res.set(http::field::content_type, "text/plain");
    res.body() = "tether resume_server: " + std::move(why) + "\n";
    res.prepare_payload();
    c.tcp().expires_after(reject_write_timeout);
    auto [ec, n] =
        co_await std::visit([&](auto& ws) { return http::async_write(ws.next_layer(), res, use_nothrow); }, c.ws);
    (void)ec;
    (void)n;
    // The request was read in full, so closing now sends a FIN after the response, not a reset.
    beast::error_code ignored;
    c.tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
    c.drop();
}

// Drains the outbox until the connection ends.
net::awaitable<void> write_loop(connection_ptr c)
{
    for (;;) {
        while (!c->outbox.empty() && !c->ended) {
            const auto text = c->outbox.front();  // held across the write: drop() clears the outbox
            c->outbox.pop_front();
            auto [ec, n] = co_await std::visit(
                [&](auto& ws) {
                    ws.text(true);
                    return ws.async_write(net::buffer(*text), use_nothrow);
                },
                c->ws);
            (void)n;
            if (ec) {
                c->drop();
                co_return;
            }
        }
        if (c->ended) co_return;
        c->wake.expires_at(net::steady_timer::time_point::max());
        auto [ec] = co_await c->wake.async_wait(use_nothrow);  // cancelled by send() or drop()
        (void)ec;
    }
}

// The reader: reads the upgrade request, completes the upgrade, starts the writer, then reads
// messages until the connection ends.
net::awaitable<void> run_connection(impl_ptr core, connection_ptr c,
                                    std::list<std::weak_ptr<connection>>::iterator entry)
{
    // However this coroutine ends, the connection is closed (which ends the writer too), stops
    // counting as live, and waiters re-check.
    struct unregister {
        impl_ptr core;
        connection_ptr c;
        std::list<std::weak_ptr<connection>>::iterator entry;
        ~unregister()
        {
            c->drop();
            core->connections.erase(entry);
            core->notify();
        }
    } guard{core, c, entry};

    try {
        const auto tls_ec = co_await tls_handshake(*c);
        if (tls_ec) co_return;
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        c->tcp().expires_after(request_read_timeout);
        auto [ec, n] = co_await std::visit(
            [&](auto& ws) { return http::async_read(ws.next_layer(), buffer, req, use_nothrow); }, c->ws);
        (void)n;
        // The websocket stream applies its own timeouts; the TCP stream's timer must be off.
        c->tcp().expires_never();
        if (ec || c->ended || core->destroyed) co_return;

        // The session and the client's position: ?session=<id>, Last-Event-ID or ?last_seq=.
        auto target = boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
        if (!target) co_return co_await reject(*c, req, "the request target does not parse");
        std::optional<std::string> session_id;
        std::optional<std::uint64_t> last_seen = 0;
        for (const auto& param : target->params()) {
            if (param.key == "session") session_id = param.value;
            if (param.key == "last_seq") last_seen = parse_seq(param.value);
        }
        if (const auto header = req["Last-Event-ID"]; !header.empty())
            last_seen = parse_seq(std::string_view(header.data(), header.size()));
        if (!session_id) co_return co_await reject(*c, req, "no session=<id> in the query");
        if (!last_seen) co_return co_await reject(*c, req, "Last-Event-ID (or last_seq) is no number");

        // The server never pings by itself, as test_server: tests rely on the client's heartbeat.
        websocket::stream_base::timeout opt{};
        opt.handshake_timeout = ws_handshake_timeout;
        opt.idle_timeout = websocket::stream_base::none();
        opt.keep_alive_pings = false;
        websocket::permessage_deflate deflate;
        deflate.server_enable = core->options.listen.permessage_deflate;
        auto [accept_ec] = co_await std::visit(
            [&](auto& ws) {
                ws.set_option(opt);
                ws.set_option(deflate);
                return ws.async_accept(req, use_nothrow);
            },
            c->ws);
        if (accept_ec || c->ended || core->destroyed) co_return;

        core->open(core->session_named(*session_id), c, *last_seen);
        net::co_spawn(core->ex, write_loop(c), net::detached);

        buffer.clear();
        for (;;) {
            // A pending read is what makes Beast answer pings and close frames.
            auto [read_ec, size] =
                co_await std::visit([&](auto& ws) { return ws.async_read(buffer, use_nothrow); }, c->ws);
            if (read_ec || c->ended) co_return;
            const bool text = std::visit([](auto& ws) { return ws.got_text(); }, c->ws);
            if (text) {
                const auto data = buffer.cdata();
                core->receive(*session_id, std::string_view(static_cast<const char*>(data.data()), size));
            } else {
                ++core->session_named(*session_id).stats.malformed;
                core->notify();
            }
            buffer.consume(size);
        }
    } catch (const std::exception& e) {
        std::cerr << "tether resume_server: a connection ended on an exception (the message handler's?): " << e.what()
                  << '\n';
    } catch (...) {
        std::cerr << "tether resume_server: a connection ended on an exception\n";
    }
}

net::awaitable<void> accept_loop(impl_ptr core, std::uint64_t generation)
{
    for (;;) {
        auto [ec, socket] = co_await core->acceptor.async_accept(use_nothrow);
        // After stop() (or a stop() + start()) this loop is stale: the new one owns the acceptor.
        if (!core->running || core->generation != generation || core->destroyed) co_return;
        if (ec) continue;  // e.g. the peer reset before we accepted; keep listening
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);

        // Registered now, not when the coroutine starts, so that a stop() in between drops it.
        auto c = std::make_shared<connection>(core->ex, std::move(socket), core->tls.get());
        core->connections.push_back(c);
        auto entry = std::prev(core->connections.end());
        net::co_spawn(core->ex, run_connection(core, c, entry), net::detached);
    }
}

net::awaitable<error_code> wait_until(impl_ptr core, std::function<bool()> predicate, std::chrono::milliseconds limit)
{
    return core->waiters.wait_until(core->ex, core, std::move(predicate), limit);
}

}  // namespace

void detail::resume_core::listen()
{
    port = listen_on_loopback(acceptor, port);
    running = true;
    ++generation;
    net::co_spawn(ex, accept_loop(shared_from_this(), generation), net::detached);
}

void detail::resume_core::stop() noexcept
{
    running = false;
    beast::error_code ignored;
    acceptor.close(ignored);
    drop_all();
    // No connection is left to take a pending ack; the next one starts with an ack of everything.
    for (auto& [id, s] : sessions) {
        s.unacked = 0;
        ++s.ack_round;
        s.ack_timer.cancel();
    }
}

struct resume_server::impl : detail::resume_core {
    using resume_core::resume_core;
};

// --- resume_server -----------------------------------------------------------------------------

resume_server::resume_server(net::any_io_executor ex, resume_server_options options)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(options)))
{
    impl_->listen();
}

resume_server::~resume_server()
{
    impl_->destroyed = true;
    impl_->handler = nullptr;  // releases whatever the test's handler captured
    impl_->stop();
    impl_->notify();
}

std::uint16_t resume_server::port() const noexcept
{
    return impl_->port;
}

std::string resume_server::url(std::string_view session) const
{
    return (impl_->tls ? "wss://127.0.0.1:" : "ws://127.0.0.1:") + std::to_string(impl_->port) +
           "/?session=" + percent_encode(session);
}

void resume_server::on_message(message_handler h)
{
    impl_->handler = std::move(h);
}

std::uint64_t resume_server::publish(std::string_view session, json::object message)
{
    return impl_->publish(session, std::move(message));
}

resume_session_stats resume_server::stats(std::string_view session) const
{
    const auto it = impl_->sessions.find(session);
    return it == impl_->sessions.end() ? resume_session_stats{} : it->second.stats;
}

std::uint64_t resume_server::last_accepted(std::string_view session) const
{
    const auto it = impl_->sessions.find(session);
    return it == impl_->sessions.end() ? 0 : it->second.last_accepted;
}

void resume_server::drop_connections()
{
    impl_->drop_all();
}

void resume_server::stop()
{
    impl_->stop();
}

void resume_server::start()
{
    if (impl_->running) return;
    impl_->listen();
}

std::size_t resume_server::live_connections() const noexcept
{
    return impl_->connections.size();
}

net::awaitable<error_code> resume_server::async_wait_until(std::function<bool()> predicate,
                                                           std::chrono::milliseconds limit)
{
    return wait_until(impl_, std::move(predicate), limit);
}

}  // namespace tether::testing
