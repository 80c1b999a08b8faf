#include <tether/proxy.hpp>

#include <tether/disconnect.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <openssl/x509_vfy.h>
#include <stdexcept>

namespace {

// The first field an invalid proxy URL is rejected for, and whether the message leaks `secret`.
std::string rejection(std::string_view url)
{
    try {
        tether::parse_proxy_url(url, "proxy.url");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

tether::environment_lookup env(std::map<std::string, std::string> vars)
{
    return [vars](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end() || it->second.empty()) return std::nullopt;
        return it->second;
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy)

BOOST_AUTO_TEST_CASE(parses_proxy_urls)
{
    struct row {
        const char* in;
        const char* host;
        const char* port;
        const char* authorization;
    };
    const row rows[] = {
        {"http://proxy.corp:3128", "proxy.corp", "3128", ""},
        {"proxy.corp:3128", "proxy.corp", "3128", ""},
        {"HTTP://Proxy.Corp", "proxy.corp", "1080", ""},
        {"http://[::1]:8080/", "::1", "8080", ""},
        {"http://alice:s3cret@127.0.0.1:8888", "127.0.0.1", "8888", "Basic YWxpY2U6czNjcmV0"},
        {"http://al%40ce:p%3Ass@proxy:1", "proxy", "1", "Basic YWxAY2U6cDpzcw=="},  // al@ce:p:ss
        {"http://alice@proxy:1", "proxy", "1", "Basic YWxpY2U6"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.in)
        {
            const auto p = tether::parse_proxy_url(r.in, "proxy.url");
            BOOST_TEST(p.host == r.host);
            BOOST_TEST(p.port == r.port);
            BOOST_TEST(p.authorization == r.authorization);
            BOOST_TEST(p.display().find("s3cret") == std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(rejects_bad_proxy_urls_without_echoing_them)
{
    for (const char* bad : {"https://proxy:443", "socks5://proxy:1080", "http://:8080", "http://proxy:0",
                            "http://proxy:99999", "http://proxy:abc", "http://u:p%0Ass@proxy:1", "http://[bad"}) {
        BOOST_TEST_CONTEXT(bad)
        {
            const std::string what = rejection(bad);
            BOOST_TEST(what.rfind("proxy.url: ", 0) == 0u, what);
        }
    }
    BOOST_TEST(rejection("http://u:SECRET%0A@proxy:1").find("SECRET") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(no_proxy_lists)
{
    struct row {
        const char* list;
        const char* host;
        bool matches;
    };
    const row rows[] = {
        {"", "example.com", false},
        {"*", "example.com", true},
        {"example.com", "example.com", true},
        {"example.com", "api.example.com", true},
        {".example.com", "api.example.com", true},
        {".example.com", "example.com", true},
        {"example.com", "badexample.com", false},
        {"EXAMPLE.com", "Api.Example.COM", true},
        {"other.org, example.com:443 ,x", "example.com", true},
        {"127.0.0.1", "127.0.0.1", true},
        {"127.0.0.1", "127.0.0.10", false},
        {"::1", "::1", true},
        {"[::1]:8080", "::1", true},
        {"localhost", "127.0.0.1", false},  // names and addresses are not resolved
        {",,", "example.com", false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("'" << r.list << "' vs " << r.host)
        {
            BOOST_TEST(tether::no_proxy_matches(r.list, r.host) == r.matches);
        }
    }
}

BOOST_AUTO_TEST_CASE(selects_from_configuration_then_environment)
{
    const auto wss = tether::parse_ws_url("wss://api.example.com/s");
    const auto ws = tether::parse_ws_url("ws://api.example.com/s");
    struct row {
        const char* what;
        const tether::ws_url& target;
        tether::proxy_config cfg;
        std::map<std::string, std::string> vars;
        const char* expected;  // "" = direct
        const char* source;
    };
    const row rows[] = {
        {"nothing set", wss, {}, {}, "", ""},
        {"https_proxy for wss", wss, {}, {{"https_proxy", "http://p1:1"}}, "p1:1", "https_proxy"},
        {"HTTPS_PROXY for wss", wss, {}, {{"HTTPS_PROXY", "http://p2:2"}}, "p2:2", "HTTPS_PROXY"},
        {"lower case first", wss, {}, {{"https_proxy", "p1:1"}, {"HTTPS_PROXY", "p2:2"}}, "p1:1", "https_proxy"},
        {"http_proxy for ws", ws, {}, {{"http_proxy", "p3:3"}, {"https_proxy", "p1:1"}}, "p3:3", "http_proxy"},
        {"never HTTP_PROXY", ws, {}, {{"HTTP_PROXY", "p3:3"}}, "", ""},
        {"not http_proxy for wss", wss, {}, {{"http_proxy", "p3:3"}}, "", ""},
        {"no_proxy", wss, {}, {{"https_proxy", "p1:1"}, {"no_proxy", "example.com"}}, "", ""},
        {"NO_PROXY", wss, {}, {{"https_proxy", "p1:1"}, {"NO_PROXY", "*"}}, "", ""},
        {"empty means unset", wss, {}, {{"https_proxy", ""}}, "", ""},
        {"explicit wins", wss, {.url = "http://mine:9"}, {{"https_proxy", "p1:1"}}, "mine:9", "proxy.url"},
        {"explicit ignores NO_PROXY", wss, {.url = "mine:9"}, {{"NO_PROXY", "*"}}, "mine:9", "proxy.url"},
        {"explicit no_proxy", wss, {.url = "mine:9", .no_proxy = ".example.com"}, {}, "", ""},
        {"environment off", wss, {.use_environment = false}, {{"https_proxy", "p1:1"}}, "", ""},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            const auto p = tether::select_proxy(r.target, r.cfg, env(r.vars));
            BOOST_TEST((p ? p->display() : std::string()) == r.expected);
            BOOST_TEST((p ? p->source : std::string()) == r.source);
        }
    }
    try {
        tether::select_proxy(wss, {}, env({{"HTTPS_PROXY", "socks5://p:1"}}));
        BOOST_ERROR("accepted a socks proxy");
    } catch (const std::invalid_argument& e) {
        BOOST_TEST(std::string(e.what()).rfind("HTTPS_PROXY: ", 0) == 0u, e.what());
    }
}

BOOST_AUTO_TEST_CASE(builds_the_connect_request)
{
    auto p = tether::parse_proxy_url("http://alice:s3cret@proxy:3128", "proxy.url");
    BOOST_TEST(tether::connect_request(tether::parse_ws_url("wss://api.example.com/x"), p) ==
               "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
               "Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n");
    p.authorization.clear();
    BOOST_TEST(tether::connect_request(tether::parse_ws_url("ws://[::1]:8080/"), p) ==
               "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(base64_matches_rfc_4648)
{
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"\xff\xfe", "//4="},
    };
    for (const auto& [in, out] : vectors) BOOST_TEST(tether::base64_encode(in) == out);
}

BOOST_AUTO_TEST_CASE(proxy_failures_are_classified)
{
    using tether::failure_class;
    BOOST_TEST((tether::classify(tether::proxy_status_disconnect(407)) == failure_class::permanent));
    BOOST_TEST((tether::proxy_status_disconnect(407).error == tether::error::proxy_auth_required));
    BOOST_TEST((tether::proxy_status_disconnect(401).error == tether::error::proxy_auth_required));
    BOOST_TEST((tether::classify(tether::proxy_status_disconnect(403)) == failure_class::permanent));
    BOOST_TEST((tether::classify(tether::proxy_status_disconnect(502)) == failure_class::transient));
    BOOST_TEST((tether::proxy_status_disconnect(502).error == tether::error::proxy_failed));
    BOOST_TEST(tether::describe(tether::proxy_status_disconnect(407)).find("407") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls_verification)

BOOST_AUTO_TEST_CASE(each_refusal_has_its_error_and_is_permanent)
{
    using tether::error;
    struct row {
        long verify_result;
        error expected;
    };
    const row rows[] = {
        {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, error::tls_untrusted},
        {X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, error::tls_untrusted},
        {X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, error::tls_untrusted},
        {X509_V_ERR_HOSTNAME_MISMATCH, error::tls_host_mismatch},
        {X509_V_ERR_IP_ADDRESS_MISMATCH, error::tls_host_mismatch},
        {X509_V_ERR_CERT_HAS_EXPIRED, error::tls_expired},
        {X509_V_ERR_CERT_NOT_YET_VALID, error::tls_expired},
        {X509_V_ERR_CERT_REVOKED, error::tls_invalid},
        {X509_V_ERR_CERT_SIGNATURE_FAILURE, error::tls_invalid},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(X509_verify_cert_error_string(r.verify_result))
        {
            const auto d = tether::tls_verify_disconnect(r.verify_result);
            BOOST_TEST((d.kind == tether::disconnect_kind::tls));
            BOOST_TEST((d.error == r.expected));
            BOOST_TEST(tether::is_permanent(d.error));
            BOOST_TEST((tether::classify(d) == tether::failure_class::permanent));
            BOOST_TEST(tether::describe(d).find(X509_verify_cert_error_string(r.verify_result)) != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
