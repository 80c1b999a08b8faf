#include "harness.hpp"

#include "../conformance/raw_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstdlib>

namespace tether::fuzz {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using conformance::client_frame;
using conformance::clock_type;
namespace opcode = conformance::opcode;

// GCC 12 miscompiles `co_await` inside an `if` or `while` condition: results go to locals first.

void require(bool ok, const char* what)
{
    if (ok) return;
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
}

namespace {

// One io_context and one listener for the whole run: a fresh client per input.
struct world {
    asio::io_context ioc;
    conformance::raw_server server{ioc.get_executor()};
};

world& the_world()
{
    static world w;
    return w;
}

asio::awaitable<void> serve(conformance::raw_server& server, const exchange_options& o, exchange_result& r, bool& done)
{
    const auto deadline = clock_type::now() + 3s;
    auto accepted = co_await server.async_accept(deadline);
    if (accepted) {
        std::string bytes = o.bytes;
        const std::string accept = conformance::sec_websocket_accept(accepted->key());
        for (auto at = bytes.find("{ACCEPT}"); at != std::string::npos; at = bytes.find("{ACCEPT}", at + accept.size()))
            bytes.replace(at, 8, accept);
        if (o.send_101_first) co_await accepted->async_write(accepted->accept_response());
        co_await accepted->async_write(bytes);
        r.sent = std::move(bytes);
        // FIN: whatever the client was waiting for will not come. Then read what it writes.
        co_await accepted->async_finish(deadline, r.frames);
        require(accepted->peer_closed(), "the client did not close its connection within 3 s of the server's FIN");
    }
    done = true;
}

asio::awaitable<void> consume(client& c, const exchange_options& o, exchange_result& r)
{
    for (;;) {
        auto [ec, v] = co_await c.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        r.delivered.push_back(v);
        if (o.echo) c.async_send(v, asio::detached);
    }
}

bool registered_close_code(std::uint16_t code)
{
    // RFC 6455 7.4.1 and the IANA registry; 3000 and above are for libraries and applications.
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || code >= 3000;
}

}  // namespace

exchange_result run_exchange(const exchange_options& o)
{
    world& w = the_world();
    exchange_result r;
    bool served = false, finished = false;

    client_config cfg;
    cfg.url = w.server.url("/fuzz");
    cfg.connect_timeout = 2s;
    cfg.handshake_timeout = 2s;
    cfg.close_timeout = 2s;
    cfg.ping_interval = o.ping_interval;
    cfg.pong_timeout = o.ping_interval > 0ms ? o.ping_interval : 10s;
    cfg.policy = never_policy{};
    if (o.max_message_size) cfg.max_message_size = o.max_message_size;
    if (o.receive_capacity) cfg.receive_buffer_capacity = o.receive_capacity;

    std::optional<client> c;
    client_callbacks callbacks;
    if (!o.use_receive) {
        callbacks.on_message = [&](const json::value& v) {
            r.delivered.push_back(v);
            if (o.echo) c->async_send(v, asio::detached);
        };
    }
    callbacks.on_close = [&](const disconnect& d) { r.ended = d; };
    c.emplace(w.ioc.get_executor(), std::move(cfg), std::move(callbacks));

    asio::co_spawn(w.ioc, serve(w.server, o, r, served), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    c->async_run([&](error_code) { finished = true; });
    if (o.use_receive) asio::co_spawn(w.ioc, consume(*c, o, r), asio::detached);

    w.ioc.restart();
    w.ioc.run_for(5s);  // returns as soon as everything has finished
    require(finished && served, "the exchange did not finish within 5 s");
    r.stats = c->stats();
    c.reset();
    w.ioc.restart();
    w.ioc.run_for(1s);
    return r;
}

void check_established_link(const exchange_options& o, const exchange_result& r, std::string_view server_bytes)
{
    require(r.ended.has_value(), "the client finished without reporting why (on_close)");
    const disconnect& d = *r.ended;
    switch (d.kind) {
    case disconnect_kind::close_frame:
    case disconnect_kind::transport:
    case disconnect_kind::protocol:
    case disconnect_kind::message_too_big: break;
    case disconnect_kind::heartbeat_timeout: require(o.ping_interval > 0ms, "heartbeat timeout with the heartbeat off"); break;
    case disconnect_kind::http_status:
        // Only the upgrade-response target gets here, before any link was established.
        require(r.stats.connections == 0, "an HTTP status after the upgrade succeeded");
        require(d.http_status != 101 && d.http_status != 0, "a 101 (or no status) reported as a rejection");
        break;
    default: require(false, "a disconnect kind that a served connection cannot end with");
    }
    if (d.kind == disconnect_kind::close_frame)
        require(d.close_code == 0 || registered_close_code(d.close_code), "accepted a close frame with a reserved close code");

    for (const auto& v : r.delivered) {
        const auto* obj = v.if_object();
        const auto* type = obj ? obj->if_contains("type") : nullptr;
        require(type && type->is_string(), "delivered a message that is not an object with a string type");
    }
    require(r.stats.messages_received == r.delivered.size(), "stats.messages_received differs from the messages delivered");

    // The server's pings, in order, as far as its bytes parse as frames.
    std::vector<std::string> pings;
    {
        std::string rest(server_bytes);
        bool too_big = false;
        while (auto f = conformance::take_frame(rest, too_big))
            if (f->op == opcode::ping) pings.push_back(f->payload);
    }

    // What the client wrote.
    std::size_t closes = 0, pongs = 0, texts = 0;
    std::uint16_t close_code = 0;
    for (const client_frame& f : r.frames) {
        require(closes == 0, "the client wrote a frame after its close frame");
        require(f.masked, "the client wrote an unmasked frame");
        require(f.rsv == 0, "the client set reserved bits");
        require(f.fin, "the client fragmented a message");
        require(f.op < 0x8 || f.payload.size() <= 125, "the client wrote a control frame over 125 bytes");
        switch (f.op) {
        case opcode::text:
            require(o.echo, "the client wrote a text frame nobody sent");
            require(texts < r.delivered.size() && f.payload == json::serialize(r.delivered[texts]),
                    "the client's echo differs from the message delivered");
            ++texts;
            break;
        case opcode::pong:
            require(pongs < pings.size() && f.payload == pings[pongs], "a pong that answers no ping, or out of order");
            ++pongs;
            break;
        case opcode::ping: require(o.ping_interval > 0ms, "a ping with the heartbeat off"); break;
        case opcode::close:
            ++closes;
            close_code = f.close_code();
            break;
        default: require(false, "the client wrote a binary or reserved opcode");
        }
    }
    if (d.kind == disconnect_kind::close_frame) {
        require(closes == 1, "the server's close frame was not answered");
        require(close_code == (d.close_code ? d.close_code : 1000), "the close answer's code differs from the server's");
    }
    if (closes && d.kind == disconnect_kind::protocol)
        require(close_code == 1002 || close_code == 1007, "a protocol failure closed with a code other than 1002/1007");
    if (closes && d.kind == disconnect_kind::message_too_big) require(close_code == 1009, "too big, but not closed with 1009");
}

}  // namespace tether::fuzz
