#include <tether/config.hpp>

#include <boost/test/unit_test.hpp>

#include <functional>
#include <stdexcept>

using namespace std::chrono_literals;

namespace {

// The field an invalid configuration is rejected for: the text before the first ':'.
std::string rejected_field(const std::function<void(tether::client_config&)>& mutate)
{
    tether::client_config cfg{.url = "ws://127.0.0.1:1/"};
    mutate(cfg);
    try {
        cfg.validate();
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        return what.substr(0, what.find(':'));
    }
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(defaults_are_the_original_numbers_and_valid)
{
    tether::client_config cfg{.url = "wss://example.com/"};
    BOOST_CHECK_NO_THROW(cfg.validate());
    BOOST_TEST(cfg.ping_interval.count() == 30000);
    BOOST_TEST(cfg.max_message_size == 16u * 1024 * 1024);
    BOOST_TEST(cfg.tls.verify_peer);
    BOOST_TEST(!cfg.permessage_deflate);
    BOOST_TEST(!cfg.allow_plaintext_token);
    BOOST_TEST(cfg.proxy.use_environment);
}

BOOST_AUTO_TEST_CASE(each_invalid_field_is_named)
{
    using cfg = tether::client_config;
    struct row {
        const char* field;
        std::function<void(cfg&)> mutate;
    };
    const row rows[] = {
        {"", [](cfg&) {}},
        {"url", [](cfg& c) { c.url.clear(); }},
        {"url", [](cfg& c) { c.url = "http://example.com"; }},
        {"headers[0].name",
         [](cfg& c) {
             c.headers = {{"", "v"}};
         }},
        {"headers[1].name",
         [](cfg& c) {
             c.headers = {{"ok", "v"}, {"bad name", "v"}};
         }},
        {"headers[0].value",
         [](cfg& c) {
             c.headers = {{"X-A", "v\r\nInjected: 1"}};
         }},
        // The handshake's own fields, in any case: a second copy would break the upgrade.
        {"headers[0].name", [](cfg& c) { c.headers = {{"sec-websocket-key", "x"}}; }},
        {"headers[1].name", [](cfg& c) { c.headers = {{"X-A", "v"}, {"Upgrade", "h2c"}}; }},
        {"headers[0].name", [](cfg& c) { c.headers = {{"Sec-WebSocket-Protocol", "chat"}}; }},
        {"headers[0].name", [](cfg& c) { c.headers = {{"HOST", "elsewhere"}}; }},
        {"user_agent", [](cfg& c) { c.user_agent = "a\nb"; }},
        {"connect_timeout", [](cfg& c) { c.connect_timeout = 0ms; }},
        {"handshake_timeout", [](cfg& c) { c.handshake_timeout = -1ms; }},
        {"ping_interval", [](cfg& c) { c.ping_interval = -1ms; }},
        {"pong_timeout", [](cfg& c) { c.pong_timeout = 0ms; }},
        {"", [](cfg& c) { c.ping_interval = 0ms, c.pong_timeout = 0ms; }},  // heartbeat off
        {"max_message_size", [](cfg& c) { c.max_message_size = 0; }},
        {"receive_buffer_capacity", [](cfg& c) { c.receive_buffer_capacity = 0; }},
        {"send_queue_capacity", [](cfg& c) { c.send_queue_capacity = 0; }},
        {"close_timeout", [](cfg& c) { c.close_timeout = 0ms; }},
        {"tls.key_file", [](cfg& c) { c.tls.certificate_file = "client.pem"; }},
        {"tls.certificate_file", [](cfg& c) { c.tls.key_file = "client.key"; }},
        {"proxy.url", [](cfg& c) { c.proxy.url = "https://proxy:3128"; }},
        {"proxy.url", [](cfg& c) { c.proxy.url = "http://proxy:port"; }},
        // Credentials in plaintext: only to loopback, unless explicitly allowed.
        {"", [](cfg& c) { c.token_provider = [] { return std::string("t"); }; }},
        {"url",
         [](cfg& c) {
             c.url = "ws://example.com/";
             c.token_provider = [] { return std::string("t"); };
         }},
        {"url",
         [](cfg& c) {
             c.url = "ws://10.0.0.1/";
             c.headers = {{"authorization", "Basic eDp5"}};
         }},
        {"",
         [](cfg& c) {
             c.url = "ws://example.com/";
             c.token_provider = [] { return std::string("t"); };
             c.allow_plaintext_token = true;
         }},
        {"",
         [](cfg& c) {
             c.url = "wss://example.com/";
             c.token_provider = [] { return std::string("t"); };
         }},
        {"", [](cfg& c) { c.url = "ws://example.com/"; }},  // no credentials at all
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("field " << r.field)
        {
            BOOST_TEST(rejected_field(r.mutate) == r.field);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
