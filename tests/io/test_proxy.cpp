// HTTP proxies (a real tinyproxy started on loopback by the tests, and two broken ones), the
// proxy environment variables, and credentials that must never show up in any message.
#include <tether/client.hpp>

#include "support.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace tether::test;
using tether::client;
using tether::error;
using tether::error_code;
using tether::testing::server_connection;
using tether::testing::server_options;
using tether::testing::test_server;
using tcp = asio::ip::tcp;
namespace json = boost::json;

namespace {

// A port nothing listens on (it was free a moment ago).
std::uint16_t closed_port()
{
    asio::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

// tinyproxy from Debian, in the foreground on 127.0.0.1, stopped by the destructor.
class tinyproxy {
public:
    explicit tinyproxy(std::string basic_auth = {})
    {
        dir_ = std::filesystem::temp_directory_path() / ("tether-tinyproxy-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        // The port is chosen free and handed over, so another process could take it in between:
        // try a few.
        for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) start(basic_auth);
        BOOST_REQUIRE_MESSAGE(pid_ > 0, "tinyproxy did not start; log:\n" << log());
    }
    ~tinyproxy()
    {
        stop();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    tinyproxy(const tinyproxy&) = delete;
    tinyproxy& operator=(const tinyproxy&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url(const std::string& userinfo = {}) const
    {
        return "http://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" + std::to_string(port_);
    }
    std::string log() const
    {
        std::ifstream in(dir_ / "tinyproxy.log");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

private:
    void start(const std::string& basic_auth)
    {
        port_ = closed_port();
        {
            std::ofstream conf(dir_ / "tinyproxy.conf");
            conf << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nLogLevel Connect\n"
                 << "Allow 127.0.0.1\n";
            if (!basic_auth.empty()) conf << "BasicAuth " << basic_auth << "\n";
        }
        const std::string conf = (dir_ / "tinyproxy.conf").string();
        const std::string log = (dir_ / "tinyproxy.log").string();
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        const char* argv[] = {"tinyproxy", "-d", "-c", conf.c_str(), nullptr};
        pid_t pid = -1;
        const int rc = posix_spawnp(&pid, "tinyproxy", &actions, nullptr, const_cast<char* const*>(argv), environ);
        posix_spawn_file_actions_destroy(&actions);
        BOOST_REQUIRE_MESSAGE(rc == 0, "cannot run tinyproxy (scripts/dev deps installs it)");
        pid_ = pid;
        if (!wait_listening()) stop();
    }

    // Polls until the proxy accepts connections, for at most 5 s; false if it exited meanwhile.
    bool wait_listening()
    {
        asio::io_context ioc;
        const auto deadline = clock_type::now() + 5s;
        while (clock_type::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return false;
            }
            tcp::socket s(ioc);
            error_code ec;
            s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
            if (!ec) return true;
            asio::steady_timer t(ioc, 20ms);
            t.wait();
        }
        return false;
    }

    void stop()
    {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

// Sets environment variables for one test and restores them after.
class scoped_env {
public:
    void set(const std::string& name, const std::string& value)
    {
        const char* old = std::getenv(name.c_str());
        saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
        ::setenv(name.c_str(), value.c_str(), 1);
    }
    ~scoped_env()
    {
        for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
            if (it->second)
                ::setenv(it->first.c_str(), it->second->c_str(), 1);
            else
                ::unsetenv(it->first.c_str());
        }
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

const json::value hello = json::parse(R"({"type":"user","text":"through the proxy"})");

tether::client_config proxied(std::string url, std::string proxy_url)
{
    auto cfg = fast_config(std::move(url));
    cfg.tls.ca_file = pki("ca.pem");
    cfg.proxy.url = std::move(proxy_url);
    cfg.proxy.use_environment = false;
    return cfg;
}

// Connects, echoes one message, closes; returns the connect error.
error_code echo_once(asio::io_context& ioc, client& c)
{
    error_code result;
    run(ioc, [&]() -> asio::awaitable<void> {
        auto [ec] = co_await c.async_connect(use_tuple);
        result = ec;
        if (ec) co_return;
        co_await c.async_send(hello, use_tuple);
        auto [rec, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST(!rec);
        BOOST_TEST(v == hello);
        co_await c.async_close(use_tuple);
    });
    return result;
}

// Every text the client produced for the application: events, errors, descriptions.
std::string everything_said(const event_log& log)
{
    std::string all;
    for (const auto& e : log.events()) all += e.text + "\n" + e.reason.reason + "\n" + describe(e.reason) + "\n";
    return all;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(proxy)

BOOST_AUTO_TEST_CASE(wss_and_ws_tunnel_through_tinyproxy)
{
    tinyproxy proxy;
    for (const bool secure : {true, false}) {
        BOOST_TEST_CONTEXT((secure ? "wss" : "ws"))
        {
            asio::io_context ioc;
            server_options options;
            if (secure) options.tls = tether::testing::tls_identity{pki("server.pem"), pki("server.key"), {}};
            test_server server(ioc.get_executor(), {}, options);
            client c(ioc.get_executor(), proxied(server.url(), proxy.url()));
            BOOST_TEST(!echo_once(ioc, c));
            BOOST_TEST(server.requests().size() == 1u);
        }
    }
    // Both tunnels went through the proxy: it logged two CONNECTs to the server.
    const std::string log = proxy.log();
    std::size_t connects = 0;
    for (auto at = log.find("CONNECT 127.0.0.1:"); at != std::string::npos; at = log.find("CONNECT 127.0.0.1:", at + 1))
        ++connects;
    BOOST_TEST(connects == 2u, log);
}

BOOST_AUTO_TEST_CASE(basic_auth_to_the_proxy)
{
    tinyproxy proxy("alice s3cret-proxy-pass");
    asio::io_context ioc;
    test_server server(ioc.get_executor());
    // Percent-encoded credentials are decoded before they are sent.
    client c(ioc.get_executor(), proxied(server.url(), proxy.url("alice:s3cret%2Dproxy%2Dpass")));
    BOOST_TEST(!echo_once(ioc, c));
}

BOOST_AUTO_TEST_CASE(wrong_proxy_credentials_are_permanent_and_never_printed)
{
    tinyproxy proxy("alice s3cret-proxy-pass");
    scenario s({});
    auto cfg = proxied(s.server.url(), proxy.url("alice:wrong-Pa55word"));
    cfg.token_provider = [] { return std::string("bearer-S3CRET"); };
    const auto ec = s.run_until_finished(cfg);
    BOOST_TEST((ec == error::proxy_auth_required));
    BOOST_TEST((ec == tether::condition::permanent));
    BOOST_TEST(s.log.count("reconnecting") == 0u);
    BOOST_REQUIRE(s.log.count("close") == 1u);
    const auto why = s.log.all("close")[0].reason;  // all() returns a copy: a reference would dangle
    BOOST_TEST((why.kind == tether::disconnect_kind::proxy));
    BOOST_TEST(why.http_status == 401u);  // tinyproxy's answer to wrong credentials
    BOOST_TEST(s.server.requests().empty());
    const std::string said = everything_said(s.log);
    BOOST_TEST(said.find("wrong-Pa55word") == std::string::npos, said);
    BOOST_TEST(said.find("S3CRET") == std::string::npos, said);
}

BOOST_AUTO_TEST_CASE(missing_proxy_credentials_get_407)
{
    tinyproxy proxy("alice s3cret-proxy-pass");
    scenario s({});
    const auto ec = s.run_until_finished(proxied(s.server.url(), proxy.url()));
    BOOST_TEST((ec == error::proxy_auth_required));
    BOOST_TEST(s.log.count("reconnecting") == 0u);
    BOOST_REQUIRE(s.log.count("close") == 1u);
    BOOST_TEST(s.log.all("close")[0].reason.http_status == 407u);
}

BOOST_AUTO_TEST_CASE(a_proxy_that_refuses_connections_is_transient)
{
    scenario s({});
    auto cfg = proxied(s.server.url(), "http://127.0.0.1:" + std::to_string(closed_port()));
    cfg.policy = tether::seed_policy{.delay = 5ms, .max_retries = 2};
    const auto ec = s.run_until_finished(cfg);
    BOOST_TEST((ec == asio::error::connection_refused));
    BOOST_TEST((ec == tether::condition::transient));
    BOOST_TEST(s.log.count("reconnecting") == 2u);
    BOOST_TEST((s.log.all("close")[0].reason.kind == tether::disconnect_kind::proxy));
    BOOST_TEST(s.server.requests().empty());
}

// A "proxy" that answers CONNECT with something that is not HTTP, and one that answers 502.
BOOST_AUTO_TEST_CASE(a_proxy_that_does_not_speak_http_or_refuses_the_tunnel)
{
    struct row {
        std::string answer;
        error expected;
        unsigned status;
    };
    const row rows[] = {
        {"SSH-2.0-OpenSSH_9.2\r\n\r\n", error::proxy_failed, 0},
        {"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", error::proxy_failed, 502},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.answer)
        {
            scenario s({});
            tcp::acceptor fake(s.ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
            asio::co_spawn(
                s.ioc,
                [&]() -> asio::awaitable<void> {
                    for (;;) {
                        auto [ec, sock] = co_await fake.async_accept(use_tuple);
                        if (ec) co_return;
                        std::array<char, 1024> request{};
                        co_await sock.async_read_some(asio::buffer(request), use_tuple);
                        co_await asio::async_write(sock, asio::buffer(r.answer), use_tuple);
                    }
                },
                asio::detached);
            auto cfg = proxied(s.server.url(), "127.0.0.1:" + std::to_string(fake.local_endpoint().port()));
            cfg.policy = tether::never_policy{};
            const auto ec = s.run_until_finished(cfg);
            BOOST_TEST((ec == r.expected));
            BOOST_TEST((ec == tether::condition::transient));
            BOOST_REQUIRE(s.log.count("close") == 1u);
            BOOST_TEST(s.log.all("close")[0].reason.http_status == r.status);
            fake.close();
        }
    }
}

BOOST_AUTO_TEST_CASE(the_environment_is_honoured_and_explicit_configuration_wins)
{
    tinyproxy proxy;
    const std::string nowhere = "http://127.0.0.1:" + std::to_string(closed_port());
    // Connects once (policy never) and closes; the connect error and, on failure, the stage.
    auto attempt = [](const tether::client_config& cfg) {
        asio::io_context ioc;
        test_server server(ioc.get_executor());
        event_log log(ioc.get_executor());
        auto c = cfg;
        c.url = server.url();
        c.policy = tether::never_policy{};
        client cl(ioc.get_executor(), c, log.callbacks());
        error_code result;
        run(ioc, [&]() -> asio::awaitable<void> {
            auto [ec] = co_await cl.async_connect(use_tuple);
            result = ec;
            co_await cl.async_close(use_tuple);
        });
        return std::pair(result, log.count("close") ? log.all("close")[0].reason.kind : tether::disconnect_kind::user);
    };
    auto cfg = fast_config("ws://127.0.0.1:1/");
    {
        scoped_env env;
        env.set("http_proxy", nowhere);
        const auto [ec, kind] = attempt(cfg);  // went to the proxy from the environment, which is down
        BOOST_TEST((kind == tether::disconnect_kind::proxy));
    }
    {
        scoped_env env;
        env.set("HTTP_PROXY", nowhere);  // never read: CGI servers let clients set it
        BOOST_TEST(!attempt(cfg).first);
    }
    {
        scoped_env env;
        env.set("http_proxy", nowhere);
        env.set("NO_PROXY", "localhost, 127.0.0.1");
        BOOST_TEST(!attempt(cfg).first);
    }
    {
        scoped_env env;
        env.set("http_proxy", nowhere);
        auto direct = cfg;
        direct.proxy.use_environment = false;
        BOOST_TEST(!attempt(direct).first);
        auto explicit_proxy = cfg;
        explicit_proxy.proxy.url = proxy.url();
        BOOST_TEST(!attempt(explicit_proxy).first);
    }
    {
        scoped_env env;
        env.set("http_proxy", "socks5://127.0.0.1:1080");
        asio::io_context ioc;
        try {
            client c(ioc.get_executor(), fast_config("ws://127.0.0.1:1/"));
            BOOST_ERROR("an unsupported proxy scheme was accepted");
        } catch (const std::invalid_argument& e) {
            BOOST_TEST(std::string(e.what()).rfind("http_proxy:", 0) == 0u, e.what());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(credentials)

// Tokens reach the server only in the Authorization header, never any text the client produces.
BOOST_AUTO_TEST_CASE(tokens_never_appear_in_events_or_errors)
{
    const auto reject_401 = [](server_connection& c) -> asio::awaitable<void> { co_await c.async_reject(401); };
    for (const std::string token : {"tok-S3CRET", "tok-S3CRET\r\nX-Injected: 1"}) {
        BOOST_TEST_CONTEXT(json::serialize(json::value(token)))
        {
            scenario s(reject_401);
            auto cfg = fast_config(s.server.url());
            cfg.token_provider = [token] { return token; };
            cfg.policy = tether::never_policy{};
            s.run_until_finished(cfg);
            BOOST_TEST(s.log.size() > 0u);
            const std::string said = everything_said(s.log);
            BOOST_TEST(said.find("S3CRET") == std::string::npos, said);
            for (const auto& r : s.server.requests()) BOOST_TEST(r.header_value("X-Injected").empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_token_is_never_sent_in_plaintext_to_a_remote_host)
{
    asio::io_context ioc;
    auto cfg = fast_config("ws://sessions.example.com/");
    cfg.token_provider = [] { return std::string("t"); };
    try {
        client c(ioc.get_executor(), cfg);
        BOOST_ERROR("a plaintext token to a remote host was accepted");
    } catch (const std::invalid_argument& e) {
        BOOST_TEST(std::string(e.what()).find("allow_plaintext_token") != std::string::npos, e.what());
    }
    cfg.allow_plaintext_token = true;  // the explicit opt-in
    BOOST_CHECK_NO_THROW(client(ioc.get_executor(), cfg));
}

BOOST_AUTO_TEST_SUITE_END()
