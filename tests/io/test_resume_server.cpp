// The testing kit's resume server against a raw Beast client that speaks tether's resume
// convention by hand: the initial ack, dedupe, cumulative and per-message acks, replay after
// Last-Event-ID (or last_seq), trimming by client acks, and state that survives stop()/start().
#include "support.hpp"

#include <tether/testing/resume_server.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using tether::error_code;
using tether::testing::resume_server;
using tether::testing::resume_server_options;
using namespace tether::test;

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace json = boost::json;

namespace {

// One client connection, by hand. Every read is bounded: a connection that receives nothing for
// 5 s ends, so a missing message fails the test instead of hanging it.
class raw_client {
public:
    explicit raw_client(asio::any_io_executor ex) : ws_(std::move(ex)) {}

    /// Connects to 127.0.0.1:`port` and upgrades at `target`, with `Last-Event-ID` when given.
    asio::awaitable<error_code> async_connect(std::uint16_t port, std::string target,
                                              std::optional<std::uint64_t> last_event_id = {})
    {
        auto& tcp = beast::get_lowest_layer(ws_);
        tcp.expires_after(5s);
        const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
        auto [ec] = co_await tcp.async_connect(endpoint, use_tuple);
        tcp.expires_never();  // from here on the websocket stream's own timeouts apply
        if (ec) co_return ec;
        // Without it, a second small message waits for the server's delayed ACK (40 ms or more),
        // longer than some of the ack delays under test.
        tcp.socket().set_option(asio::ip::tcp::no_delay(true));
        websocket::stream_base::timeout opt{};
        opt.handshake_timeout = 5s;
        opt.idle_timeout = 5s;
        opt.keep_alive_pings = false;
        ws_.set_option(opt);
        if (last_event_id)
            ws_.set_option(websocket::stream_base::decorator(
                [id = std::to_string(*last_event_id)](websocket::request_type& r) { r.set("Last-Event-ID", id); }));
        auto [handshake_ec] = co_await ws_.async_handshake("127.0.0.1:" + std::to_string(port), target, use_tuple);
        co_return handshake_ec;
    }

    asio::awaitable<error_code> async_send_text(std::string text)
    {
        ws_.text(true);
        auto [ec, n] = co_await ws_.async_write(asio::buffer(text), use_tuple);
        co_return ec;
    }
    asio::awaitable<error_code> async_send(const json::object& o) { return async_send_text(json::serialize(o)); }

    /// As async_connect, and fails the test (throwing) unless the upgrade succeeded.
    asio::awaitable<void> async_open(std::uint16_t port, std::string target,
                                     std::optional<std::uint64_t> last_event_id = {})
    {
        const auto ec = co_await async_connect(port, std::move(target), last_event_id);
        BOOST_REQUIRE_MESSAGE(!ec, "the upgrade failed: " << ec.message());
    }

    /// The next message, a JSON object; empty when the connection ended or stayed silent for 5 s.
    asio::awaitable<std::optional<json::object>> async_receive()
    {
        beast::flat_buffer buffer;
        auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
        if (ec) co_return std::nullopt;
        auto v = json::parse(beast::buffers_to_string(buffer.data()));
        if (!v.is_object()) co_return std::nullopt;
        co_return std::move(v.as_object());
    }

    /// Closes the TCP connection without a close frame.
    void drop() { beast::get_lowest_layer(ws_).close(); }

private:
    websocket::stream<beast::tcp_stream> ws_;
};

// Waits (bounded) until `predicate` holds on the server; a test failure otherwise.
asio::awaitable<void> expect(resume_server& server, std::function<bool()> predicate)
{
    const auto ec = co_await server.async_wait_until(std::move(predicate), 5s);
    BOOST_TEST(!ec, "the server's condition did not hold within 5 s");
}

std::string target(std::string_view session)
{
    return "/?session=" + std::string(session);
}

// A client message as tether's resume mode sends it: "seq" first.
json::object client_message(std::uint64_t seq)
{
    return json::object{{"seq", seq}, {"type", "msg"}, {"n", seq}};
}

bool is_ack(const std::optional<json::object>& m, std::uint64_t seq)
{
    return m && m->size() == 2 && m->contains("type") && m->at("type") == "ack" && m->contains("seq") &&
           m->at("seq").to_number<std::uint64_t>() == seq;
}

bool is_id_ack(const std::optional<json::object>& m, std::string_view id)
{
    return m && m->size() == 2 && m->contains("type") && m->at("type") == "ack" && m->contains("id") &&
           m->at("id").is_string() && std::string_view(m->at("id").get_string()) == id;
}

bool is_event(const std::optional<json::object>& m, std::uint64_t seq)
{
    return m && m->contains("type") && m->at("type") == "event" && m->contains("seq") &&
           m->at("seq").to_number<std::uint64_t>() == seq;
}

std::string show(const std::optional<json::object>& m)
{
    return m ? json::serialize(*m) : "(nothing)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resume_server_kit)

BOOST_AUTO_TEST_CASE(the_first_ack_carries_the_last_accepted_seq_and_each_seq_is_delivered_once)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor(), {.ack_delay = 20ms});
    std::vector<std::uint64_t> delivered;
    server.on_message([&](std::string_view session, const json::object& m) {
        BOOST_TEST(session == "a");
        delivered.push_back(m.at("seq").to_number<std::uint64_t>());
    });
    BOOST_TEST(server.url("a b") == "ws://127.0.0.1:" + std::to_string(server.port()) + "/?session=a%20b");
    run(ioc, [&]() -> asio::awaitable<void> {
        raw_client first(ioc.get_executor());
        co_await first.async_open(server.port(), target("a"));
        auto m = co_await first.async_receive();
        BOOST_TEST(is_ack(m, 0), show(m));  // nothing accepted yet
        for (std::uint64_t seq = 1; seq <= 3; ++seq) co_await first.async_send(client_message(seq));
        m = co_await first.async_receive();
        BOOST_TEST(is_ack(m, 3), show(m));  // one cumulative ack, ack_delay after the first

        // Resent after a lost ack: dropped, and each answered with the position.
        co_await first.async_send(client_message(2));
        co_await first.async_send(client_message(3));
        for (int i = 0; i < 2; ++i) {
            m = co_await first.async_receive();
            BOOST_TEST(is_ack(m, 3), show(m));
        }
        co_await first.async_send(client_message(5));  // a gap: dropped
        co_await first.async_send(client_message(4));
        co_await first.async_send_text("not json");
        co_await first.async_send_text(R"({"type":"msg"})");  // no seq
        co_await expect(server, [&] { return server.stats("a").malformed == 2; });
        BOOST_TEST(server.last_accepted("a") == 4u);

        // A new connection learns the position at once, before the delayed ack of 4 is due.
        first.drop();
        raw_client second(ioc.get_executor());
        co_await second.async_open(server.port(), target("a"));
        m = co_await second.async_receive();
        BOOST_TEST(is_ack(m, 4), show(m));
        second.drop();
        co_await expect(server, [&] { return server.live_connections() == 0; });
    });
    BOOST_TEST(delivered == (std::vector<std::uint64_t>{1, 2, 3, 4}), boost::test_tools::per_element());
    const auto s = server.stats("a");
    BOOST_TEST(s.accepted == 4u);
    BOOST_TEST(s.duplicates == 2u);
    BOOST_TEST(s.gaps == 1u);
    BOOST_TEST(s.malformed == 2u);
    BOOST_TEST(s.connections == 2u);
    BOOST_TEST(server.stats("never").connections == 0u);
}

BOOST_AUTO_TEST_CASE(cumulative_acks_follow_every_ack_every_accepted_messages)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor(), {.ack_every = 64, .ack_delay = 10s});  // the count alone
    run(ioc, [&]() -> asio::awaitable<void> {
        raw_client c(ioc.get_executor());
        co_await c.async_open(server.port(), target("count"));
        auto m = co_await c.async_receive();
        BOOST_TEST(is_ack(m, 0), show(m));
        for (std::uint64_t seq = 1; seq <= 130; ++seq) co_await c.async_send(client_message(seq));
        m = co_await c.async_receive();
        BOOST_TEST(is_ack(m, 64), show(m));
        m = co_await c.async_receive();
        BOOST_TEST(is_ack(m, 128), show(m));
        co_await expect(server, [&] { return server.last_accepted("count") == 130; });
        BOOST_TEST(server.stats("count").acks_sent == 3u);  // 129 and 130 wait for their delay
    });
}

BOOST_AUTO_TEST_CASE(a_cumulative_ack_follows_ack_delay_after_the_first_unacknowledged_message)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor(), {.ack_every = 64, .ack_delay = 30ms});
    run(ioc, [&]() -> asio::awaitable<void> {
        raw_client c(ioc.get_executor());
        co_await c.async_open(server.port(), target("delay"));
        auto m = co_await c.async_receive();
        BOOST_TEST(is_ack(m, 0), show(m));
        const auto sent = clock_type::now();
        for (std::uint64_t seq = 1; seq <= 3; ++seq) co_await c.async_send(client_message(seq));
        m = co_await c.async_receive();  // no ack of 1 or 2 on its own
        const auto waited = clock_type::now() - sent;
        BOOST_TEST(is_ack(m, 3), show(m));
        BOOST_TEST(waited >= 30ms);
        BOOST_TEST(waited < 5s);
    });
}

BOOST_AUTO_TEST_CASE(per_message_acks_name_each_message_by_its_id)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor(), {.per_message_acks = true});
    run(ioc, [&]() -> asio::awaitable<void> {
        raw_client c(ioc.get_executor());
        co_await c.async_open(server.port(), target("ids"));
        auto m = co_await c.async_receive();
        BOOST_TEST(is_ack(m, 0), show(m));  // the first ack stays cumulative
        const json::object first{{"seq", 1}, {"type", "msg"}, {"id", "first"}};
        const json::object second{{"seq", 2}, {"type", "msg"}, {"id", "second"}};
        co_await c.async_send(first);
        co_await c.async_send(second);
        co_await c.async_send(first);              // a duplicate
        co_await c.async_send(client_message(3));  // no id
        m = co_await c.async_receive();
        BOOST_TEST(is_id_ack(m, "first"), show(m));
        m = co_await c.async_receive();
        BOOST_TEST(is_id_ack(m, "second"), show(m));
        m = co_await c.async_receive();
        BOOST_TEST(is_id_ack(m, "first"), show(m));
        m = co_await c.async_receive();
        BOOST_TEST(is_ack(m, 3), show(m));
    });
    BOOST_TEST(server.stats("ids").accepted == 3u);
    BOOST_TEST(server.stats("ids").duplicates == 1u);
}

BOOST_AUTO_TEST_CASE(acknowledge_false_sends_no_ack_at_all)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor(), {.ack_every = 2, .ack_delay = 5ms, .acknowledge = false});
    run(ioc, [&]() -> asio::awaitable<void> {
        raw_client c(ioc.get_executor());
        co_await c.async_open(server.port(), target("mute"));
        for (std::uint64_t seq = 1; seq <= 4; ++seq) co_await c.async_send(client_message(seq));
        co_await c.async_send(client_message(2));
        co_await expect(server, [&] { return server.stats("mute").duplicates == 1; });
        co_await pause(30ms);  // several ack delays: any ack would be on its way by now
        server.publish("mute", {{"type", "event"}});
        auto m = co_await c.async_receive();
        BOOST_TEST(is_event(m, 1), show(m));  // the first message of all
    });
    BOOST_TEST(server.stats("mute").accepted == 4u);
    BOOST_TEST(server.stats("mute").acks_sent == 0u);
}

BOOST_AUTO_TEST_CASE(kept_messages_are_replayed_after_last_event_id_and_trimmed_by_client_acks)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor(), {.ack_delay = 10ms});
    for (int i = 1; i <= 5; ++i) BOOST_TEST(server.publish("r", {{"type", "event"}, {"n", i}}) == std::uint64_t(i));
    BOOST_CHECK_THROW(server.publish("r", {{"type", "ack"}}), std::invalid_argument);
    run(ioc, [&]() -> asio::awaitable<void> {
        // The first connection gets the backlog: first sends, not replays.
        raw_client first(ioc.get_executor());
        co_await first.async_open(server.port(), target("r"));
        auto m = co_await first.async_receive();
        BOOST_TEST(is_ack(m, 0), show(m));
        for (std::uint64_t seq = 1; seq <= 5; ++seq) {
            m = co_await first.async_receive();
            BOOST_TEST(is_event(m, seq), show(m));
        }
        BOOST_TEST(server.stats("r").replayed == 0u);
        BOOST_TEST(server.stats("r").kept == 5u);
        const json::object ack_of_2{{"type", "ack"}, {"seq", 2}};
        co_await first.async_send(ack_of_2);
        co_await expect(server, [&] { return server.stats("r").kept == 3; });
        BOOST_TEST(server.stats("r").client_acked == 2u);

        // The client delivered up to 3: the next connection gets 4 and 5 again, then new ones.
        raw_client second(ioc.get_executor());
        co_await second.async_open(server.port(), target("r"), 3);
        m = co_await second.async_receive();
        BOOST_TEST(is_ack(m, 0), show(m));
        for (std::uint64_t seq = 4; seq <= 5; ++seq) {
            m = co_await second.async_receive();
            BOOST_TEST(is_event(m, seq), show(m));
        }
        auto s = server.stats("r");
        BOOST_TEST(s.replayed == 2u);
        BOOST_TEST(s.kept == 2u);  // Last-Event-ID acknowledges too
        BOOST_TEST(s.client_acked == 3u);

        // The abandoned first connection still delivers: its message is accepted, its ack and the
        // next publication go to the newest connection alone.
        bool first_got_more = false;
        bool first_ended = false;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                first_got_more = (co_await first.async_receive()).has_value();
                first_ended = true;
            },
            asio::detached);
        co_await first.async_send(client_message(1));
        m = co_await second.async_receive();
        BOOST_TEST(is_ack(m, 1), show(m));
        server.publish("r", {{"type", "event"}, {"n", 6}});
        m = co_await second.async_receive();
        BOOST_TEST(is_event(m, 6), show(m));
        co_await pause(20ms);  // had the first connection been sent anything, it would have arrived
        BOOST_TEST(!first_got_more);
        first.drop();
        const bool ended = co_await eventually([&] { return first_ended; });
        BOOST_TEST(ended);

        // The query parameter last_seq works as the header does.
        raw_client third(ioc.get_executor());
        co_await third.async_open(server.port(), target("r") + "&last_seq=5");
        m = co_await third.async_receive();
        BOOST_TEST(is_ack(m, 1), show(m));
        m = co_await third.async_receive();
        BOOST_TEST(is_event(m, 6), show(m));
        const json::object ack_of_6{{"type", "ack"}, {"seq", 6}};
        co_await third.async_send(ack_of_6);
        co_await expect(server, [&] { return server.stats("r").kept == 0; });
        s = server.stats("r");
        BOOST_TEST(s.replayed == 3u);
        BOOST_TEST(s.client_acked == 6u);
        BOOST_TEST(s.connections == 3u);
        BOOST_TEST(s.published == 6u);
    });
}

BOOST_AUTO_TEST_CASE(session_state_survives_stop_and_start)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor(), {.ack_delay = 10ms});
    const auto port = server.port();
    run(ioc, [&]() -> asio::awaitable<void> {
        raw_client before(ioc.get_executor());
        co_await before.async_open(port, target("s"));
        auto m = co_await before.async_receive();
        BOOST_TEST(is_ack(m, 0), show(m));
        for (std::uint64_t seq = 1; seq <= 3; ++seq) co_await before.async_send(client_message(seq));
        m = co_await before.async_receive();
        BOOST_TEST(is_ack(m, 3), show(m));
        server.publish("s", {{"type", "event"}});
        server.publish("s", {{"type", "event"}});
        for (std::uint64_t seq = 1; seq <= 2; ++seq) {
            m = co_await before.async_receive();
            BOOST_TEST(is_event(m, seq), show(m));
        }

        server.stop();
        m = co_await before.async_receive();
        BOOST_TEST(!m.has_value(), show(m));  // dropped
        co_await expect(server, [&] { return server.live_connections() == 0; });
        raw_client refused(ioc.get_executor());
        const auto refused_ec = co_await refused.async_connect(port, target("s"));
        BOOST_TEST(refused_ec);  // nobody listens

        server.start();
        BOOST_TEST(server.port() == port);
        raw_client after(ioc.get_executor());
        co_await after.async_open(port, target("s"), 1);
        m = co_await after.async_receive();
        BOOST_TEST(is_ack(m, 3), show(m));
        m = co_await after.async_receive();
        BOOST_TEST(is_event(m, 2), show(m));
        co_await after.async_send(client_message(3));  // resent: its ack was lost, say
        co_await after.async_send(client_message(4));
        m = co_await after.async_receive();
        BOOST_TEST(is_ack(m, 3), show(m));  // the duplicate's, at once
        m = co_await after.async_receive();
        BOOST_TEST(is_ack(m, 4), show(m));  // ack_delay later
    });
    const auto s = server.stats("s");
    BOOST_TEST(s.accepted == 4u);
    BOOST_TEST(s.duplicates == 1u);
    BOOST_TEST(s.replayed == 1u);
    BOOST_TEST(s.connections == 2u);
}

BOOST_AUTO_TEST_CASE(an_upgrade_without_a_session_or_with_a_bad_last_event_id_is_refused)
{
    asio::io_context ioc;
    resume_server server(ioc.get_executor());
    run(ioc, [&]() -> asio::awaitable<void> {
        raw_client nameless(ioc.get_executor());
        const auto nameless_ec = co_await nameless.async_connect(server.port(), "/");
        BOOST_TEST(nameless_ec);
        raw_client bad(ioc.get_executor());
        const auto bad_ec = co_await bad.async_connect(server.port(), target("x") + "&last_seq=soon");
        BOOST_TEST(bad_ec);
        co_await expect(server, [&] { return server.live_connections() == 0; });
    });
    BOOST_TEST(server.stats("x").connections == 0u);
}

BOOST_AUTO_TEST_CASE(after_stop_and_after_destruction_nothing_is_left_on_the_io_context)
{
    asio::io_context ioc;
    std::optional<resume_server> server;
    server.emplace(ioc.get_executor(), resume_server_options{.ack_delay = 10s});
    bool done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            // The client lives in the coroutine: its stream's timer ends with it.
            raw_client c(ioc.get_executor());
            co_await c.async_open(server->port(), target("end"));
            auto m = co_await c.async_receive();
            BOOST_TEST(is_ack(m, 0), show(m));
            co_await c.async_send(client_message(1));  // arms the 10 s ack delay
            server->publish("end", {{"type", "event"}});
            m = co_await c.async_receive();
            BOOST_TEST(is_event(m, 1), show(m));
            server->stop();
            m = co_await c.async_receive();
            BOOST_TEST(!m.has_value());
            done = true;
        },
        asio::detached);
    // Runs out of work well before the ack delay: no timer, accept or read of the server is left.
    ioc.run_for(5s);
    BOOST_TEST(done);
    BOOST_TEST(ioc.stopped());

    // Destruction while a connection is open and a delayed ack is due ends everything too.
    ioc.restart();
    server->start();
    done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            raw_client d(ioc.get_executor());
            co_await d.async_open(server->port(), target("end"), 1);
            auto m = co_await d.async_receive();
            BOOST_TEST(is_ack(m, 1), show(m));
            co_await d.async_send(client_message(2));
            co_await expect(*server, [&] { return server->last_accepted("end") == 2; });
            server.reset();
            m = co_await d.async_receive();
            BOOST_TEST(!m.has_value());
            done = true;
        },
        asio::detached);
    ioc.run_for(5s);
    BOOST_TEST(done);
    BOOST_TEST(ioc.stopped());
}

BOOST_AUTO_TEST_SUITE_END()
