#include <tether/sessions.hpp>

#include "support.hpp"

#include <boost/json/parse.hpp>

using namespace tether::test;
using tether::error;
using tether::error_code;
using tether::testing::server_connection;
using tether::testing::test_server;
namespace json = boost::json;

namespace {

const json::value interrupt{{"subtype", "interrupt"}};

tether::sessions_options options_for(const test_server& server)
{
    return {.base_url = "http://127.0.0.1:" + std::to_string(server.port()),
            .session_id = "session 123",
            .organization_id = "org-456",
            .token_provider = [] { return std::string("oauth-token"); },
            .control_timeout = 2s};
}

// Answers every control request with a matching control_response, after an unrelated message.
asio::awaitable<void> control_responder(server_connection& c)
{
    co_await c.async_accept();
    for (;;) {
        auto text = co_await c.async_receive();
        if (!text) break;
        const json::value msg = json::parse(*text);
        if (msg.at("type") != "control_request") continue;
        co_await c.async_send(R"({"type":"assistant","note":"unrelated"})");
        json::object response{{"type", "control_response"},
                              {"response", {{"subtype", "success"}, {"request_id", msg.at("request_id")}}}};
        co_await c.async_send(json::serialize(response));
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sessions)

BOOST_AUTO_TEST_CASE(profile_builds_url_headers_and_seed_policy)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    tether::sessions_client s(ioc.get_executor(), options_for(server));
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await s.connection().async_connect(use_tuple);
        BOOST_TEST(!ec);
        co_await s.connection().async_close(use_tuple);
    });
    BOOST_REQUIRE(server.requests().size() == 1u);
    const auto& req = server.requests()[0];
    BOOST_TEST(req.target == "/v1/sessions/ws/session%20123/subscribe?organization_uuid=org-456");
    BOOST_TEST(req.header_value("authorization") == "Bearer oauth-token");
    BOOST_TEST(req.header_value("anthropic-version") == "2023-06-01");
}

BOOST_AUTO_TEST_CASE(options_are_validated)
{
    asio::io_context ioc;
    tether::sessions_options o{.base_url = "https://h", .session_id = "s", .organization_id = "o"};
    BOOST_CHECK_THROW(tether::sessions_client(ioc.get_executor(), o), std::invalid_argument);  // no token provider
    o.token_provider = [] { return std::string("t"); };
    o.session_id.clear();
    BOOST_CHECK_THROW(tether::sessions_client(ioc.get_executor(), o), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(control_request_wire_form_and_response_matching)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), control_responder);
    tether::sessions_client s(ioc.get_executor(), options_for(server));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await s.connection().async_connect(use_tuple);

        auto [ec, id] = co_await s.async_send_control_request(interrupt, use_tuple);
        BOOST_TEST(!ec);
        co_await server.async_wait_until([&] { return server.messages().size() == 1; });
        const json::value sent = json::parse(server.messages()[0]);
        const json::value expected =
            json::parse(R"({"type":"control_request","request_id":")" + id + R"(","request":{"subtype":"interrupt"}})");
        BOOST_TEST(sent == expected);

        auto [rec_ec, response] = co_await s.async_control_request(interrupt, use_tuple);
        BOOST_TEST(!rec_ec);
        const json::value second = json::parse(server.messages()[1]);
        BOOST_TEST(response.at("type") == "control_response");
        BOOST_TEST(response.at("response").at("request_id") == second.at("request_id"));
        BOOST_TEST(second.at("request_id") != sent.at("request_id"));

        // Everything else still reaches the application: the response to the first (fire and
        // forget) request, and the unrelated messages.
        std::vector<std::string> types;
        for (int i = 0; i < 3; ++i) {
            auto [e, v] = co_await s.connection().async_receive(use_tuple);
            types.emplace_back(v.at("type").as_string());
        }
        BOOST_TEST((types == std::vector<std::string>{"assistant", "control_response", "assistant"}));

        const json::value reply{{"type", "control_response"}, {"response", {{"subtype", "success"}}}};
        auto [resp_ec] = co_await s.async_send_control_response(reply, use_tuple);
        BOOST_TEST(!resp_ec);
        co_await s.connection().async_close(use_tuple);
    });
}

BOOST_AUTO_TEST_CASE(control_request_times_out_without_a_response)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        for (;;) {
            auto text = co_await c.async_receive();
            if (!text) break;
        }
    });
    auto o = options_for(server);
    o.control_timeout = 50ms;
    tether::sessions_client s(ioc.get_executor(), o);
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await s.connection().async_connect(use_tuple);
        const auto start = clock_type::now();
        auto [ec, v] = co_await s.async_control_request(interrupt, use_tuple);
        BOOST_TEST((ec == error::request_timeout));
        BOOST_TEST((clock_type::now() - start >= 50ms));
        co_await s.connection().async_close(use_tuple);
    });
}

BOOST_AUTO_TEST_CASE(control_request_fails_when_the_link_drops)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        auto first = co_await c.async_receive();
        if (first) c.drop();
    });
    auto cfg = tether::make_sessions_config(options_for(server));
    cfg.policy = tether::seed_policy{.delay = 10ms};
    tether::sessions_client s(ioc.get_executor(), cfg, {}, 5s);
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await s.connection().async_connect(use_tuple);
        auto [ec, v] = co_await s.async_control_request(interrupt, use_tuple);
        BOOST_TEST((ec == error::connection_lost));
        co_await s.connection().async_close(use_tuple);
    });
}

BOOST_AUTO_TEST_SUITE_END()
