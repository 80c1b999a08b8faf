// Acknowledged sends and resumable receives against scripted servers: what goes on the wire (the
// stamps, the resends, the acknowledgements back, the upgrade's offer), what the application sees
// (each position once, gaps reported) and the retained buffer's bound.
#include "support.hpp"

#include <tether/resume.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <vector>

using tether::client;
using tether::error_code;
using tether::testing::server_connection;
using tether::testing::test_server;
using namespace tether::test;

namespace {

std::string event_text(std::uint64_t seq)
{
    return R"({"type":"event","seq":)" + std::to_string(seq) + "}";
}

std::uint64_t seq_of(const std::string& text)
{
    return boost::json::parse(text).at("seq").to_number<std::uint64_t>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resume)

BOOST_AUTO_TEST_CASE(unacknowledged_messages_go_out_again_stamped_and_in_order_after_a_reconnect)
{
    asio::io_context ioc;
    std::vector<std::vector<std::string>> seen(2);  // what each connection received
    int connections = 0;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        const int n = connections++;
        co_await c.async_accept();
        if (n == 0) {
            // Three messages arrive; none is acknowledged; the connection drops.
            for (int i = 0; i < 3; ++i) {
                auto m = co_await c.async_receive();
                if (!m) co_return;
                seen[0].push_back(*m);
            }
            c.drop();
            co_return;
        }
        // The next connection gets all three again, then a fourth; one cumulative ack for them.
        for (int i = 0; i < 4; ++i) {
            auto m = co_await c.async_receive();
            if (!m) co_return;
            seen[1].push_back(*m);
        }
        co_await c.async_send(R"({"type":"ack","seq":4})");
        co_await c.async_echo();
    });
    auto cfg = fast_config(server.url());
    cfg.resume.sends.enabled = true;
    cfg.resume.sends.completion = tether::send_completion::acknowledged;
    client c(ioc.get_executor(), cfg);
    std::vector<error_code> results(4);
    int completed = 0;
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([](error_code) {});
        for (int i = 0; i < 3; ++i)
            c.async_send(R"({"type":"m","i":)" + std::to_string(i) + "}", [&, i](error_code ec) {
                results[i] = ec;
                ++completed;
            });
        BOOST_TEST(co_await eventually([&] { return connections == 2; }));
        BOOST_TEST(completed == 0);  // acknowledged completion: nothing acknowledged yet
        c.async_send(std::string(R"({"type":"m","i":3})"), [&](error_code ec) {
            results[3] = ec;
            ++completed;
        });
        BOOST_TEST(co_await eventually([&] { return completed == 4; }));
        const auto s = c.stats();
        BOOST_TEST(s.messages_acknowledged == 4u);
        BOOST_TEST(s.messages_unacknowledged == 0u);
        BOOST_TEST(s.messages_resent == 3u);
        co_await c.async_close(use_tuple);
    });
    for (const error_code& ec : results) BOOST_TEST(!ec);
    BOOST_REQUIRE_EQUAL(seen[0].size(), 3u);
    BOOST_TEST(seen[0][0] == R"({"seq":1,"type":"m","i":0})");
    BOOST_REQUIRE_EQUAL(seen[1].size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) BOOST_TEST(seq_of(seen[1][i]) == i + 1);
    BOOST_TEST(seen[1][3] == R"({"seq":4,"type":"m","i":3})");
}

BOOST_AUTO_TEST_CASE(each_position_is_delivered_once_the_upgrade_offers_the_last_and_gaps_are_reported)
{
    asio::io_context ioc;
    int connections = 0;
    std::vector<std::string> acks;  // the client's acknowledgements, as received
    std::vector<std::string> offers;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        const int n = connections++;
        offers.push_back(c.request().header_value("Last-Event-ID"));
        co_await c.async_accept();
        if (n == 0) {
            // 1, 2, 2 again, then 5: a duplicate and a gap. Then wait for the client's ack of 5.
            for (std::uint64_t seq : {1, 2, 2, 5}) co_await c.async_send(event_text(seq));
            for (;;) {
                auto m = co_await c.async_receive();
                if (!m) co_return;
                acks.push_back(*m);
                if (seq_of(*m) == 5) break;
            }
            c.drop();
            co_return;
        }
        // The replay starts at the offer; 5 is sent again anyway (a careless server).
        for (std::uint64_t seq : {5, 6}) co_await c.async_send(event_text(seq));
        co_await c.async_echo();
    });
    auto cfg = fast_config(server.url());
    cfg.resume.receives.enabled = true;
    cfg.resume.receives.ack_delay = 5ms;
    std::vector<tether::client_event> gaps;
    tether::client_callbacks cb;
    cb.on_event = [&](const tether::client_event& e) {
        if (e.kind == tether::event_kind::gap) gaps.push_back(e);
    };
    client c(ioc.get_executor(), cfg, cb);
    std::vector<std::uint64_t> delivered;
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([](error_code) {});
        while (delivered.size() < 4) {
            auto [ec, v] = co_await c.async_receive(use_tuple);
            BOOST_REQUIRE(!ec);
            delivered.push_back(v.at("seq").to_number<std::uint64_t>());
        }
        BOOST_TEST(co_await eventually([&] { return c.stats().duplicates_dropped == 2; }));
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(delivered == (std::vector<std::uint64_t>{1, 2, 5, 6}));
    BOOST_REQUIRE_EQUAL(offers.size(), 2u);
    BOOST_TEST(offers[0] == "");  // nothing delivered yet: nothing offered
    BOOST_TEST(offers[1] == "5");
    BOOST_REQUIRE(!acks.empty());
    BOOST_TEST(acks.back() == R"({"type":"ack","seq":5})");
    BOOST_REQUIRE_EQUAL(gaps.size(), 1u);
    BOOST_TEST(gaps[0].expected == 3u);
    BOOST_TEST(gaps[0].position == 5u);
    const auto s = c.stats();
    BOOST_TEST(s.gaps == 1u);
    BOOST_TEST(s.resume_position == 6u);
    BOOST_TEST(s.acks_sent >= 1u);
}

BOOST_AUTO_TEST_CASE(a_full_retained_buffer_holds_new_sends_back_until_acknowledgements_make_room)
{
    asio::io_context ioc;
    std::vector<std::string> received;
    server_connection* live = nullptr;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        live = &c;
        co_await c.async_accept();
        for (;;) {
            auto m = co_await c.async_receive();
            if (!m) break;
            received.push_back(*m);
        }
        live = nullptr;
    });
    auto cfg = fast_config(server.url());
    cfg.resume.sends.enabled = true;
    cfg.resume.sends.max_messages = 4;
    client c(ioc.get_executor(), cfg);
    int completed = 0;
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([](error_code) {});
        co_await c.async_connect(use_tuple);
        for (int i = 0; i < 10; ++i)
            c.async_send(std::string(R"({"type":"m"})"), [&](error_code ec) { completed += ec ? 0 : 1; });
        BOOST_TEST(co_await eventually([&] { return received.size() == 4; }));
        co_await pause(30ms);  // nothing more goes out: the buffer is full
        BOOST_TEST(received.size() == 4u);
        BOOST_TEST(c.stats().messages_unacknowledged == 4u);
        BOOST_TEST(c.stats().send_queue_depth == 6u);
        // Acknowledging two makes room for two.
        co_await live->async_send(R"({"type":"ack","seq":2})");
        BOOST_TEST(co_await eventually([&] { return received.size() == 6; }));
        co_await pause(30ms);
        BOOST_TEST(received.size() == 6u);
        co_await live->async_send(R"({"type":"ack","seq":10})");
        BOOST_TEST(co_await eventually([&] { return received.size() == 10 && completed == 10; }));
        BOOST_TEST(seq_of(received.back()) == 10u);
        co_await c.async_close(use_tuple);
    });
}

BOOST_AUTO_TEST_CASE(a_full_retained_buffer_fails_new_sends_when_configured_to)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        while (co_await c.async_receive()) {
        }
    });
    auto cfg = fast_config(server.url());
    cfg.resume.sends.enabled = true;
    cfg.resume.sends.max_messages = 3;
    cfg.resume.sends.on_full = tether::when_full::fail;
    client c(ioc.get_executor(), cfg);
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([](error_code) {});
        co_await c.async_connect(use_tuple);
        std::vector<error_code> results;
        for (int i = 0; i < 5; ++i) {
            auto [ec] = co_await c.async_send(std::string(R"({"type":"m"})"), use_tuple);
            results.push_back(ec);
        }
        BOOST_TEST(!results[0]);
        BOOST_TEST(!results[2]);
        BOOST_TEST(results[3] == error_code(tether::error::retained_buffer_full));
        BOOST_TEST(results[4] == error_code(tether::error::retained_buffer_full));
        BOOST_TEST(c.stats().messages_unacknowledged == 3u);
        co_await c.async_close(use_tuple);
    });
}

BOOST_AUTO_TEST_CASE(per_message_acknowledgements_complete_each_send_by_its_id)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        // Acknowledges "b" first, then "a"; never "c".
        std::vector<std::string> ids;
        for (int i = 0; i < 3; ++i) {
            auto m = co_await c.async_receive();
            if (!m) co_return;
            ids.push_back(std::string(boost::json::parse(*m).at("id").as_string()));
        }
        co_await c.async_send(R"({"type":"ack","id":")" + ids[1] + "\"}");
        co_await c.async_send(R"({"type":"ack","id":")" + ids[0] + "\"}");
        co_await c.async_echo();
    });
    auto cfg = fast_config(server.url());
    cfg.resume.sends.enabled = true;
    cfg.resume.sends.style = tether::ack_style::per_message;
    cfg.resume.sends.stamp_field = "";
    cfg.resume.sends.completion = tether::send_completion::acknowledged;
    client c(ioc.get_executor(), cfg);
    std::vector<std::string> order;
    run(ioc, [&]() -> asio::awaitable<void> {
        c.async_run([](error_code) {});
        for (std::string id : {"a", "b", "c"})
            c.async_send(R"({"type":"m","id":")" + id + "\"}", [&, id](error_code ec) {
                if (!ec) order.push_back(id);
            });
        auto [ec] = co_await c.async_send(std::string(R"({"type":"m"})"), use_tuple);
        BOOST_TEST(ec == error_code(tether::error::unidentified_message));
        BOOST_TEST(co_await eventually([&] { return order.size() == 2; }));
        co_await pause(20ms);
        BOOST_TEST(c.stats().messages_unacknowledged == 1u);  // c
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(order == (std::vector<std::string>{"b", "a"}));
}

BOOST_AUTO_TEST_SUITE_END()
