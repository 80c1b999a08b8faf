// wss://: certificate verification and its three named failures, mutual TLS, a peer that never
// answers the closing handshake, permessage-deflate and the message size limit.
#include <tether/client.hpp>

#include "support.hpp"

#include <boost/json/parse.hpp>

#include <stdexcept>

using namespace tether::test;
using tether::client;
using tether::error;
using tether::error_code;
using tether::testing::server_connection;
using tether::testing::server_options;
using tether::testing::test_server;
using tether::testing::tls_identity;
namespace json = boost::json;

namespace {

server_options tls_server(const std::string& name, std::string client_ca = {})
{
    return {.tls = tls_identity{pki(name + ".pem"), pki(name + ".key"), std::move(client_ca)}};
}

tether::client_config trusting_config(std::string url)
{
    auto cfg = fast_config(std::move(url));
    cfg.tls.ca_file = pki("ca.pem");
    cfg.token_provider = [] { return std::string("tls-secret-token"); };
    return cfg;
}

const json::value hello = json::parse(R"({"type":"user","text":"over TLS"})");

// Connects, echoes one message and closes; returns the connect error.
error_code echo_once(asio::io_context& ioc, client& c)
{
    error_code result;
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await c.async_connect(use_tuple);
        result = ec;
        if (ec) co_return;
        auto [sent] = co_await c.async_send(hello, use_tuple);
        BOOST_TEST(!sent);
        auto [rec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(!rec);
        BOOST_TEST(v == hello);
        co_await c.async_close(use_tuple);
    });
    return result;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(a_verified_server_gets_the_token_over_tls)
{
    for (const std::string host : {"127.0.0.1", "localhost"}) {
        BOOST_TEST_CONTEXT(host)
        {
            asio::io_context ioc;
            test_server server(ioc.get_executor(), {}, tls_server("server"));
            client c(ioc.get_executor(), trusting_config("wss://" + host + ":" + std::to_string(server.port()) + "/s"));
            BOOST_TEST(!echo_once(ioc, c));
            BOOST_REQUIRE(server.requests().size() == 1u);
            BOOST_TEST(server.requests()[0].header_value("Authorization") == "Bearer tls-secret-token");
            BOOST_TEST(server.tls_handshake_failures() == 0u);
        }
    }
}

// Each refused certificate has its own error, is permanent (the seed policy stops at once), and
// the upgrade request, which carries the token, is never sent.
BOOST_AUTO_TEST_CASE(refused_certificates_say_why_and_never_get_the_token)
{
    struct row {
        const char* certificate;
        const char* ca_file;
        error expected;
        const char* says;
    };
    const row rows[] = {
        {"untrusted", "ca.pem", error::tls_untrusted, "issuer"},
        {"server", "", error::tls_untrusted, "issuer"},  // the test CA is not in the system store
        {"wrong-host", "ca.pem", error::tls_host_mismatch, "mismatch"},
        {"expired", "ca.pem", error::tls_expired, "expired"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.certificate << " with ca_file '" << r.ca_file << "'")
        {
            scenario s({}, tls_server(r.certificate));
            auto cfg = trusting_config(s.server.url());
            cfg.tls.ca_file = *r.ca_file ? pki(r.ca_file) : std::string();
            const auto ec = s.run_until_finished(cfg);
            BOOST_TEST((ec == r.expected));
            BOOST_TEST((ec == tether::condition::permanent));
            BOOST_TEST(s.log.count("reconnecting") == 0u);
            BOOST_REQUIRE(s.log.count("close") == 1u);
            const auto why = s.log.all("close")[0];  // all() returns a copy: a reference would dangle
            BOOST_TEST((why.reason.kind == tether::disconnect_kind::tls));
            BOOST_TEST(why.text.find(r.says) != std::string::npos, "'" << why.text << "' should say " << r.says);
            BOOST_TEST(s.server.requests().empty());  // no upgrade request, so no token
            BOOST_TEST(s.server.tls_handshake_failures() == 1u);
        }
    }
}

BOOST_AUTO_TEST_CASE(verification_off_accepts_any_certificate)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), {}, tls_server("untrusted"));
    auto cfg = trusting_config(server.url());
    cfg.tls.verify_peer = false;
    client c(ioc.get_executor(), cfg);
    BOOST_TEST(!echo_once(ioc, c));
}

BOOST_AUTO_TEST_CASE(mutual_tls_presents_the_client_certificate)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), {}, tls_server("server", pki("ca.pem")));
    auto cfg = trusting_config(server.url());
    cfg.tls.certificate_file = pki("client.pem");
    cfg.tls.key_file = pki("client.key");
    client c(ioc.get_executor(), cfg);
    BOOST_TEST(!echo_once(ioc, c));
    BOOST_REQUIRE(server.requests().size() == 1u);
    BOOST_TEST(server.requests()[0].client_certificate.find("tether test client") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(mutual_tls_without_a_certificate_fails_in_the_handshake)
{
    scenario s({}, tls_server("server", pki("ca.pem")));
    auto cfg = trusting_config(s.server.url());
    cfg.policy = tether::never_policy{};
    const auto ec = s.run_until_finished(cfg);
    BOOST_TEST(ec);
    BOOST_REQUIRE(s.log.count("close") == 1u);
    BOOST_TEST((s.log.all("close")[0].reason.kind == tether::disconnect_kind::tls), s.log.all("close")[0].text);
    BOOST_TEST(s.server.requests().empty());
}

BOOST_AUTO_TEST_CASE(tls_files_that_do_not_load_throw_naming_the_field)
{
    asio::io_context ioc;
    auto expect_throw = [&](tether::client_config cfg, const std::string& field) {
        try {
            client c(ioc.get_executor(), std::move(cfg));
            BOOST_ERROR("no exception for " << field);
        } catch (const std::invalid_argument& e) {
            BOOST_TEST(std::string(e.what()).rfind(field + ":", 0) == 0u, e.what());
        }
    };
    auto cfg = trusting_config("wss://127.0.0.1:1/");
    cfg.tls.ca_file = pki("missing.pem");
    expect_throw(cfg, "tls.ca_file");
    cfg = trusting_config("wss://127.0.0.1:1/");
    cfg.tls.ca_path = pki("missing-dir");
    expect_throw(cfg, "tls.ca_path");
    cfg = trusting_config("wss://127.0.0.1:1/");
    cfg.tls.certificate_file = pki("client.pem");
    expect_throw(cfg, "tls.key_file");  // a certificate without its key
    cfg.tls.key_file = pki("server.key");
    expect_throw(cfg, "tls.key_file");  // a key that is not the certificate's
}

// The server sends a close frame, then neither answers the client's close frame nor sends TLS's
// close_notify nor closes TCP. The client must not wait for it beyond its handshake timeout.
BOOST_AUTO_TEST_CASE(a_peer_that_never_finishes_closing_does_not_hang_the_client)
{
    const std::string close_1001("\x88\x02\x03\xe9", 4);
    scenario s(
        [&](server_connection& c) -> asio::awaitable<void> {
            co_await c.async_accept();
            co_await c.async_send_raw(close_1001);
            co_await c.async_stay_silent(30s);
        },
        tls_server("server"));
    auto cfg = trusting_config(s.server.url());
    cfg.handshake_timeout = 200ms;
    cfg.policy = tether::never_policy{};
    const auto start = clock_type::now();
    s.run_until_finished(cfg);
    BOOST_TEST(((clock_type::now() - start) < 5s));
    BOOST_REQUIRE(s.log.count("close") == 1u);
    BOOST_TEST(s.log.all("close")[0].reason.close_code == 1001);
}

BOOST_AUTO_TEST_CASE(close_against_a_silent_tls_peer_is_bounded_by_close_timeout)
{
    asio::io_context ioc;
    test_server server(
        ioc.get_executor(),
        [](server_connection& c) -> asio::awaitable<void> {
            co_await c.async_accept();
            co_await c.async_stay_silent(30s);
        },
        tls_server("server"));
    auto cfg = trusting_config(server.url());
    cfg.close_timeout = 300ms;
    cfg.handshake_timeout = 10s;  // so that only close_timeout can end the wait
    client c(ioc.get_executor(), cfg);
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await c.async_connect(use_tuple);
        BOOST_TEST(!ec);
        const auto start = clock_type::now();
        co_await c.async_close(use_tuple);
        BOOST_TEST(((clock_type::now() - start) < 3s));
    });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(an_oversized_message_closes_with_1009_and_is_counted)
{
    scenario s([](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        co_await c.async_send(R"({"type":"user","pad":")" + std::string(4096, 'x') + "\"}");
        co_await c.async_receive();  // until the client closes
    });
    auto cfg = fast_config(s.server.url());
    cfg.max_message_size = 1024;
    cfg.policy = tether::never_policy{};
    const auto ec = s.run_until_finished(cfg);
    BOOST_TEST((ec == error::message_too_big));
    BOOST_TEST(s.c->stats().messages_too_big == 1u);
    BOOST_TEST(s.c->stats().messages_received == 0u);
}

// A frame header announcing 2^63 - 1 bytes is refused from the header alone: nothing is
// allocated for it, and the client closes with 1009 at once.
BOOST_AUTO_TEST_CASE(a_huge_announced_length_is_refused_before_allocation)
{
    std::string header("\x81\x7f\x7f\xff\xff\xff\xff\xff\xff\xff", 10);
    scenario s([&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        co_await c.async_send_raw(header);
        co_await c.async_stay_silent(5s);
    });
    auto cfg = fast_config(s.server.url());
    cfg.policy = tether::never_policy{};
    const auto ec = s.run_until_finished(cfg);
    BOOST_TEST((ec == error::message_too_big), ec.message());
    BOOST_TEST(s.c->stats().messages_too_big == 1u);
}

BOOST_AUTO_TEST_CASE(permessage_deflate_round_trips_when_enabled)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), {}, server_options{.permessage_deflate = true});
    auto cfg = fast_config(server.url());
    cfg.permessage_deflate = true;
    client c(ioc.get_executor(), cfg);
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        const json::value big{{"type", "assistant"}, {"text", std::string(100000, 'a')}};
        co_await c.async_send(big, use_tuple);
        auto [ec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(!ec);
        BOOST_TEST(v == big);
        co_await c.async_close(use_tuple);
    });
    BOOST_REQUIRE(server.requests().size() == 1u);
    BOOST_TEST(server.requests()[0].header_value("Sec-WebSocket-Extensions").find("permessage-deflate") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(permessage_deflate_is_off_by_default)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), {}, server_options{.permessage_deflate = true});
    client c(ioc.get_executor(), fast_config(server.url()));
    BOOST_TEST(!echo_once(ioc, c));
    BOOST_TEST(server.requests()[0].header_value("Sec-WebSocket-Extensions").empty());
}

// 64 MiB of zeros deflate to about 64 KiB. The inflated size counts against the limit, so the
// client stops at 1 MiB of output and closes with 1009 instead of inflating all of it.
BOOST_AUTO_TEST_CASE(a_decompression_bomb_stops_at_max_message_size)
{
    scenario s(
        [](server_connection& c) -> asio::awaitable<void> {
            co_await c.async_accept();
            co_await c.async_send(std::string(64 << 20, '0'));
            co_await c.async_receive();
        },
        server_options{.permessage_deflate = true});
    auto cfg = fast_config(s.server.url());
    cfg.permessage_deflate = true;
    cfg.max_message_size = 1 << 20;
    cfg.policy = tether::never_policy{};
    const auto ec = s.run_until_finished(cfg);
    BOOST_TEST((ec == error::message_too_big));
    BOOST_TEST(s.c->stats().messages_too_big == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
