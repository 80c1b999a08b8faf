// interop_client: drives tether::client with co_await against a peer no one here wrote (Node `ws`,
// Python `websockets`; see peer.mjs and peer.py), one scenario per run. run.sh starts the peer.
//
// usage: interop_client URL SCENARIO [N]
//   echo   URL /echo...: connect with a token provider and a custom header, send N messages and
//          receive them echoed in order, keep the heartbeat (20 ms) up for 0.5 s without a
//          timeout on that one connection, close.
//   push   URL /push/N...: receive the peer's N pushed messages in order, one echo, close.
//   4001   URL /close/4001...: the seed policy (delay 10 ms) retries 3 times after 10, 20, 30 ms,
//          then async_run ends with error::session_not_found.
//   4003   URL /close/4003...: no retry; async_run ends with error::unauthorized.
//   resume URL ?session=...: acknowledged sends and resumable receives (resume_config::sequenced())
//          against resume_peer.py, which aborts one connection and refuses one upgrade with 503:
//          send N messages, each completing when acknowledged, and receive the peer's N events,
//          positions 1..N once each and in order; close (which acknowledges the last).
// Prints "ok: ..." or "FAIL: ..." per check, then a summary line; exits 0 when every check passed.
#include <tether/client.hpp>
#include <tether/disconnect.hpp>
#include <tether/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto heartbeat_interval = 20ms;
constexpr auto heartbeat_deadline = 100ms;  // a ping goes out every interval + deadline: ~4 in the watch
constexpr auto heartbeat_watch = 500ms;
constexpr auto retry_delay = 10ms;    // the seed policy's 2 s, scaled down
constexpr auto scenario_limit = 30s;  // hard bound on one run

const char* const token = "interop-token";

// Counts and prints the checks.
class checks {
public:
    bool operator()(bool ok, const std::string& what)
    {
        std::printf("%s: %s\n", ok ? "ok" : "FAIL", what.c_str());
        std::fflush(stdout);
        (ok ? passed : failed) += 1;
        return ok;
    }
    unsigned passed = 0;
    unsigned failed = 0;
};

// What the client's callbacks reported, and how often the token provider ran.
struct recorder {
    unsigned connected = 0;
    unsigned tokens = 0;
    std::vector<tether::reconnect_event> reconnecting;
    std::vector<tether::disconnect> closes;
    std::vector<std::string> errors;

    tether::client_callbacks callbacks()
    {
        tether::client_callbacks cb;
        cb.on_connected = [this](unsigned) { ++connected; };
        cb.on_reconnecting = [this](const tether::reconnect_event& e) { reconnecting.push_back(e); };
        cb.on_close = [this](const tether::disconnect& d) { closes.push_back(d); };
        cb.on_error = [this](tether::error_code, const std::string& what) { errors.push_back(what); };
        return cb;
    }
};

std::string describe_errors(const recorder& r)
{
    std::string out;
    for (const auto& e : r.errors) out += (out.empty() ? "" : "; ") + e;
    for (const auto& e : r.reconnecting)
        out += (out.empty() ? "" : "; ") + ("reconnecting: " + tether::describe(e.reason));
    for (const auto& d : r.closes) out += (out.empty() ? "" : "; ") + ("closed: " + tether::describe(d));
    return out.empty() ? "none" : out;
}

// With `pad`, a "pad" of that many bytes of repeated words: it compresses well.
json::value interop_message(int i, std::size_t pad = 0)
{
    json::object m;
    m["type"] = "interop";
    m["i"] = i;
    m["text"] = "caf\u00e9 \"quoted\" \\ #" + std::to_string(i);
    if (pad) {
        std::string words;
        while (words.size() < pad) words += "lorem ipsum dolor sit amet " + std::to_string(i) + ' ';
        words.resize(pad);
        m["pad"] = words;
    }
    return m;
}

json::value push_message(int i)
{
    json::object m;
    m["type"] = "push";
    m["i"] = i;
    return m;
}

// Receives one message, or nothing (reported as a failed check) when the receive fails.
asio::awaitable<std::optional<json::value>> receive(tether::client& c, const recorder& r, checks& check,
                                                    const std::string& what)
{
    auto [ec, v] = co_await c.async_receive(use_tuple);
    if (ec) {
        check(false, what + ": receive failed: " + ec.message() + " (" + describe_errors(r) + ")");
        co_return std::nullopt;
    }
    co_return std::optional<json::value>(std::move(v));
}

asio::awaitable<bool> connect(tether::client& c, recorder& r, checks& check)
{
    auto [ec] = co_await c.async_connect(use_tuple);
    const bool ok =
        check(!ec, "connects with a bearer token and a custom header (" +
                       (ec ? ec.message() + "; errors: " + describe_errors(r) : std::string("connected")) + ")");
    co_return ok;
}

asio::awaitable<void> close(tether::client& c, checks& check)
{
    auto [ec] = co_await c.async_close(use_tuple);
    check(!ec && c.state() == tether::client_state::closed,
          "closes cleanly (" + (ec ? ec.message() : std::string("state ") + std::string(to_string(c.state()))) + ")");
}

asio::awaitable<void> scenario_echo(tether::client& c, recorder& r, checks& check, int n, std::size_t pad)
{
    const bool connected = co_await connect(c, r, check);
    if (!connected) co_return;

    std::vector<json::value> sent;
    for (int i = 1; i <= n; ++i) {
        sent.push_back(interop_message(i, pad));
        auto [ec] = co_await c.async_send(sent.back(), use_tuple);
        if (ec) {
            check(false, "send " + std::to_string(i) + ": " + ec.message());
            co_return;
        }
    }
    check(true, "sends " + std::to_string(n) + " messages");

    bool in_order = true;
    std::string mismatch;
    for (int i = 0; i < n; ++i) {
        auto got = co_await receive(c, r, check, "echo " + std::to_string(i + 1));
        if (!got) co_return;
        if (*got != sent[i]) {
            in_order = false;
            mismatch =
                "echo " + std::to_string(i + 1) + " is " + json::serialize(*got) + ", sent " + json::serialize(sent[i]);
            break;
        }
    }
    check(in_order, in_order ? "receives all " + std::to_string(n) + " echoed, equal and in order" : mismatch);

    // The heartbeat: a ping 20 ms after the previous pong deadline; a silence of 100 ms after a ping
    // would end the link. Watching it for 500 ms on a quiet link shows that the peer answers them.
    asio::steady_timer watch(co_await asio::this_coro::executor, heartbeat_watch);
    co_await watch.async_wait(use_tuple);
    const auto s = c.stats();
    check(s.heartbeat_timeouts == 0,
          "heartbeat at 20 ms for 0.5 s: no timeout (" + std::to_string(s.heartbeat_timeouts) + " timeouts)");
    check(s.connections == 1 && c.is_connected() && r.reconnecting.empty(),
          "heartbeat: still on the first connection (" + std::to_string(s.connections) + " connections, " +
              std::to_string(r.reconnecting.size()) + " reconnects; errors: " + describe_errors(r) + ")");
    check(s.messages_sent == static_cast<unsigned>(n) && s.messages_received == static_cast<unsigned>(n) &&
              s.messages_ignored == 0 && s.messages_malformed == 0,
          "stats: " + std::to_string(s.messages_sent) + " sent, " + std::to_string(s.messages_received) +
              " received, " + std::to_string(s.messages_ignored + s.messages_malformed) + " dropped");
    check(r.tokens == 1, "the token provider ran once (" + std::to_string(r.tokens) + ")");
    co_await close(c, check);
}

asio::awaitable<void> scenario_push(tether::client& c, recorder& r, checks& check, int n)
{
    const bool connected = co_await connect(c, r, check);
    if (!connected) co_return;

    bool in_order = true;
    std::string mismatch;
    for (int i = 1; i <= n; ++i) {
        auto got = co_await receive(c, r, check, "push " + std::to_string(i));
        if (!got) co_return;
        const json::value want = push_message(i);
        if (*got != want) {
            in_order = false;
            mismatch = "push " + std::to_string(i) + " is " + json::serialize(*got);
            break;
        }
    }
    check(in_order, in_order ? "receives the peer's " + std::to_string(n) + " pushed messages in order" : mismatch);

    const json::value last = interop_message(0);
    auto [ec] = co_await c.async_send(last, use_tuple);
    check(!ec, "sends after the pushes (" + (ec ? ec.message() : std::string("sent")) + ")");
    auto got = co_await receive(c, r, check, "echo after the pushes");
    if (!got) co_return;
    check(*got == last, "receives its echo (" + json::serialize(*got) + ")");
    co_await close(c, check);
}

asio::awaitable<void> scenario_close(tether::client& c, recorder& r, checks& check, std::uint16_t code)
{
    // The peer accepts every upgrade and then closes, so async_connect would succeed; async_run
    // completes when the policy has stopped.
    const bool retried = code == 4001;
    auto [ec] = co_await c.async_run(use_tuple);
    const tether::error_code want = retried ? tether::error::session_not_found : tether::error::unauthorized;
    check(ec == want, "async_run ends with " + want.message() + " (got: " + ec.message() + ")");
    check(tether::is_permanent(ec) == !retried, std::string("the error is ") + (retried ? "transient" : "permanent"));

    const unsigned retries = retried ? 3 : 0;
    check(r.reconnecting.size() == retries,
          std::to_string(retries) + " retries (" + std::to_string(r.reconnecting.size()) + " reconnecting events)");
    bool as_policy = r.reconnecting.size() == retries;
    for (std::size_t k = 0; as_policy && k < r.reconnecting.size(); ++k) {
        const auto& e = r.reconnecting[k];
        as_policy = e.attempt == k + 2 && e.delay == retry_delay * static_cast<int>(k + 1) &&
                    e.reason.kind == tether::disconnect_kind::close_frame && e.reason.close_code == code;
    }
    if (retried)
        check(as_policy, "retries per the seed policy: attempts 2, 3, 4 after 10, 20, 30 ms, each on close 4001");

    const auto s = c.stats();
    check(s.connections == retries + 1 && r.connected == retries + 1,
          std::to_string(retries + 1) + " upgrades (" + std::to_string(s.connections) + ")");
    check(r.tokens == retries + 1, "a token for every attempt (" + std::to_string(r.tokens) + " for " +
                                       std::to_string(s.attempts) + " attempts)");
    check(r.closes.size() == 1 && r.closes[0].close_code == code,
          "on_close once, with close " + std::to_string(code) + " (" +
              (r.closes.empty() ? std::string("none") : tether::describe(r.closes.back())) + ")");
    auto [connect_ec] = co_await c.async_connect(use_tuple);
    check(connect_ec == want, "async_connect afterwards reports the same final error (" + connect_ec.message() + ")");
}

asio::awaitable<void> scenario_resume(tether::client& c, recorder& r, checks& check, int n)
{
    c.async_run([](tether::error_code) {});
    int acknowledged = 0, failed = 0;
    std::string first_failure;
    for (int i = 1; i <= n; ++i)
        c.async_send(json::value{{"type", "msg"}, {"n", i}}, [&](tether::error_code ec) {
            if (!ec) return void(++acknowledged);
            if (failed++ == 0) first_failure = ec.message();
        });
    bool in_order = true;
    std::string mismatch;
    for (int i = 1; i <= n; ++i) {
        auto got = co_await receive(c, r, check, "event " + std::to_string(i));
        if (!got) co_return;
        const auto* seq = got->is_object() ? got->as_object().if_contains("seq") : nullptr;
        if (in_order && (!seq || *seq != i)) {
            in_order = false;
            mismatch = "event " + std::to_string(i) + " is " + json::serialize(*got);
        }
    }
    check(in_order, in_order ? "receives the peer's " + std::to_string(n) + " events, positions 1.." +
                                   std::to_string(n) + " once each, in order"
                             : mismatch);
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         acknowledged + failed < n && std::chrono::steady_clock::now() < deadline;) {
        t.expires_after(5ms);
        co_await t.async_wait(use_tuple);
    }
    check(acknowledged == n && failed == 0, "every send completes acknowledged (" + std::to_string(acknowledged) +
                                                " of " + std::to_string(n) + ", " + std::to_string(failed) + " failed" +
                                                (failed ? ": " + first_failure : "") + ")");
    const auto s = c.stats();
    check(s.connections >= 2, std::to_string(s.connections) + " connections");
    std::printf("resume: %llu connections, %llu messages resent, %llu duplicates dropped, %llu gaps, %llu acks sent\n",
                static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.messages_resent),
                static_cast<unsigned long long>(s.duplicates_dropped), static_cast<unsigned long long>(s.gaps),
                static_cast<unsigned long long>(s.acks_sent));
    check(s.gaps == 0, "no gap in the peer's positions");
    co_await close(c, check);
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: interop_client URL echo|deflate|push|4001|4003|resume [N]\n");
        return 2;
    }
    const std::string url = argv[1];
    const std::string scenario = argv[2];
    const int n = argc == 4 ? std::atoi(argv[3]) : 5;
    // deflate: echo with permessage-deflate offered, and messages of 16 KiB that compress well.
    const bool deflate = scenario == "deflate";
    const bool resume = scenario == "resume";
    if (scenario != "echo" && !deflate && scenario != "push" && scenario != "4001" && scenario != "4003" && !resume) {
        std::fprintf(stderr, "interop_client: unknown scenario '%s'\n", scenario.c_str());
        return 2;
    }
    if (n < 1 || n > 1000) {
        std::fprintf(stderr, "interop_client: N must be 1..1000\n");
        return 2;
    }

    asio::io_context ioc;
    recorder r;
    checks check;

    tether::client_config cfg;
    cfg.url = url;
    cfg.headers.push_back({"X-Interop", "library"});
    cfg.token_provider = [&r] {
        ++r.tokens;
        return std::string(token);
    };
    cfg.ping_interval = heartbeat_interval;
    cfg.pong_timeout = heartbeat_deadline;
    cfg.connect_timeout = 5s;
    cfg.handshake_timeout = 5s;
    cfg.close_timeout = 5s;
    cfg.policy = tether::seed_policy{.delay = retry_delay, .jitter = 0};  // the schedule is checked
    cfg.permessage_deflate = deflate;
    if (resume) {
        cfg.resume = tether::resume_config::sequenced();
        cfg.resume.sends.completion = tether::send_completion::acknowledged;
    }

    std::optional<tether::client> c;
    try {
        c.emplace(ioc.get_executor(), cfg, r.callbacks());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "interop_client: %s\n", e.what());
        return 2;
    }

    std::function<asio::awaitable<void>()> body;
    if (scenario == "echo" || deflate)
        body = [&]() { return scenario_echo(*c, r, check, n, deflate ? 16 * 1024 : 0); };
    else if (scenario == "push")
        body = [&]() { return scenario_push(*c, r, check, n); };
    else if (resume)
        body = [&]() { return scenario_resume(*c, r, check, n); };
    else
        body = [&]() { return scenario_close(*c, r, check, static_cast<std::uint16_t>(std::stoi(scenario))); };

    bool done = false;
    std::exception_ptr failure;
    asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
        done = true;
        failure = e;
        ioc.stop();
    });
    ioc.run_for(scenario_limit);
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            check(false, std::string("the scenario threw: ") + e.what());
        }
    }
    if (!done) {
        check(false, "the scenario did not finish within 30 s");
        std::printf("%s: %u of %u checks failed\n", scenario.c_str(), check.failed, check.passed + check.failed);
        std::fflush(stdout);
        std::_Exit(1);  // the client and the coroutine are still mid-flight: leave without unwinding them
    }
    if (check.failed == 0)
        std::printf("%s: all %u checks passed\n", scenario.c_str(), check.passed);
    else
        std::printf("%s: %u of %u checks failed\n", scenario.c_str(), check.failed, check.passed + check.failed);
    return check.failed == 0 ? 0 : 1;
}
