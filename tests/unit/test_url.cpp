#include <tether/url.hpp>

#include <boost/test/unit_test.hpp>

#include <stdexcept>

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(parses_ws_and_wss)
{
    struct row {
        const char* in;
        tether::ws_url out;
    };
    const row rows[] = {
        {"ws://example.com", {false, "example.com", "80", "/", "example.com"}},
        {"wss://example.com/", {true, "example.com", "443", "/", "example.com"}},
        {"WSS://Example.COM:8443/a/b?x=1&y=%20", {true, "example.com", "8443", "/a/b?x=1&y=%20", "example.com:8443"}},
        {"ws://127.0.0.1:9000/ws", {false, "127.0.0.1", "9000", "/ws", "127.0.0.1:9000"}},
        {"ws://[::1]:9000/", {false, "::1", "9000", "/", "[::1]:9000"}},
        {"wss://host:443/p", {true, "host", "443", "/p", "host"}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.in)
        {
            BOOST_TEST((tether::parse_ws_url(r.in) == r.out));
        }
    }
}

BOOST_AUTO_TEST_CASE(rejects_what_cannot_be_a_websocket_url)
{
    for (const char* bad : {"", "example.com", "http://example.com", "ftp://x", "ws://", "ws://host:0/",
                            "ws://host:70000/", "ws://host:abc/", "ws://user:pw@host/", "ws://host/#frag"}) {
        BOOST_TEST_CONTEXT(bad)
        {
            try {
                tether::parse_ws_url(bad);
                BOOST_ERROR("accepted");
            } catch (const std::invalid_argument& e) {
                BOOST_TEST(std::string(e.what()).starts_with("url: "));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(percent_encoding_keeps_only_unreserved)
{
    BOOST_TEST(tether::percent_encode("abc-XYZ_0.9~") == "abc-XYZ_0.9~");
    BOOST_TEST(tether::percent_encode("a b/c?d#e&f=g%") == "a%20b%2Fc%3Fd%23e%26f%3Dg%25");
    BOOST_TEST(tether::percent_encode("\xC3\xA9") == "%C3%A9");
}

BOOST_AUTO_TEST_CASE(sessions_url_building)
{
    struct row {
        const char* base;
        const char* session;
        const char* org;
        const char* out;
    };
    const row rows[] = {
        {"https://api.example.com", "session-123", "org-456",
         "wss://api.example.com/v1/sessions/ws/session-123/subscribe?organization_uuid=org-456"},
        {"https://api.example.com/", "s", "o", "wss://api.example.com/v1/sessions/ws/s/subscribe?organization_uuid=o"},
        {"http://127.0.0.1:8080", "s", "o", "ws://127.0.0.1:8080/v1/sessions/ws/s/subscribe?organization_uuid=o"},
        {"wss://h/prefix", "s", "o", "wss://h/prefix/v1/sessions/ws/s/subscribe?organization_uuid=o"},
        {"HTTPS://h", "a/b?c", "x&y=z", "wss://h/v1/sessions/ws/a%2Fb%3Fc/subscribe?organization_uuid=x%26y%3Dz"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.base << " " << r.session << " " << r.org)
        {
            BOOST_TEST(tether::sessions_url(r.base, r.session, r.org) == r.out);
        }
    }
}

BOOST_AUTO_TEST_CASE(sessions_url_names_the_missing_field)
{
    auto field_of = [](const char* b, const char* s, const char* o) -> std::string {
        try {
            tether::sessions_url(b, s, o);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what()).substr(0, std::string(e.what()).find(':'));
        }
        return "";
    };
    BOOST_TEST(field_of("", "s", "o") == "base_url");
    BOOST_TEST(field_of("https://h", "", "o") == "session_id");
    BOOST_TEST(field_of("https://h", "s", "") == "organization_id");
    BOOST_TEST(field_of("ftp://h", "s", "o") == "base_url");
}

BOOST_AUTO_TEST_CASE(loopback_hosts)
{
    for (const char* h : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"})
        BOOST_TEST(tether::is_loopback_host(h));
    for (const char* h : {"example.com", "10.0.0.1", "127.example.com", "::2", "localhost.example.com"})
        BOOST_TEST(!tether::is_loopback_host(h));
}

BOOST_AUTO_TEST_SUITE_END()
