// A reconnect policy of your own. A policy is any callable that takes why the last connection
// ended and the history since the last healthy link, and returns "retry after d" or "stop":
//
//   std::optional<std::chrono::milliseconds>(const tether::disconnect&, const tether::reconnect_history&)
//
// This one retries quickly when the server announces a restart (close 1012) or overload (close
// 1013), backs off exponentially for anything else, and stops on permanent failures or after
// `max_failures` failures in a row.
//
//   custom_policy            shows it against an embedded server that restarts twice, then dies
//   custom_policy ws://...   uses it for one exchange with that server
#include <tether/tether.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Builds the policy. It is a plain lambda: pure, so it is easy to test without any network.
auto restart_aware_policy(unsigned max_failures)
{
    return [max_failures](const tether::disconnect& why,
                          const tether::reconnect_history& history) -> tether::reconnect_decision {
        // Bad credentials and the like cannot get better by retrying; neither can a user's close.
        const auto kind = tether::classify(why);
        if (kind == tether::failure_class::permanent || kind == tether::failure_class::user) return std::nullopt;

        // `attempts` counts failures since the last healthy link, this one included.
        if (history.attempts >= max_failures) return std::nullopt;

        // 1012 "service restart" and 1013 "try again later": the server will be back at once.
        if (why.kind == tether::disconnect_kind::close_frame && (why.close_code == 1012 || why.close_code == 1013))
            return 10ms;

        // Otherwise 50 ms, 100 ms, 200 ms, ... capped at 5 s, spread by +-20 % so that many
        // clients do not come back in lockstep, and never sooner than the server's Retry-After.
        const auto doubling = std::min(history.attempts - 1, 10u);
        const auto base = std::min<std::chrono::milliseconds>(50ms * (1 << doubling), 5s);
        const auto delay =
            std::chrono::duration_cast<std::chrono::milliseconds>(base * (0.8 + 0.4 * history.random));
        return std::max(delay, why.retry_after.value_or(0ms));
    };
}

// Since a policy is a pure function, its decisions can be printed (or unit-tested) directly.
void show_decisions()
{
    const auto policy = restart_aware_policy(4);
    const auto show = [&](const tether::disconnect& why, unsigned attempts) {
        tether::reconnect_history history;
        history.attempts = attempts;
        const auto decision = policy(why, history);
        std::cout << "  " << tether::describe(why) << ", failure " << attempts << ": "
                  << (decision ? "retry in " + std::to_string(decision->count()) + " ms" : std::string("stop")) << '\n';
    };
    std::cout << "decisions:\n";
    show(tether::close_frame_disconnect(1012, "service restart"), 1);
    show(tether::close_frame_disconnect(1013, "try again later"), 2);
    show(tether::close_frame_disconnect(4003, "unauthorized"), 1);
    show(tether::http_status_disconnect(503, "1"), 1);
    for (unsigned n = 1; n <= 4; ++n)
        show(tether::error_disconnect(tether::disconnect_kind::connect, asio::error::connection_refused), n);
}

// Connects, exchanges one message, and then, against the embedded server, kills the server and
// lets the policy give up. Returns true when everything went as expected.
asio::awaitable<bool> run(tether::client& client, tether::testing::test_server* server)
{
    co_await client.async_connect(asio::use_awaitable);

    if (server) {
        // The embedded server closes the first two connections right after the upgrade (1012,
        // then 1013); the policy brings the client back within milliseconds each time. Only the
        // third connection greets us, so this receive simply waits through the restarts.
        const auto welcome = co_await client.async_receive(asio::use_awaitable);
        std::cout << "received " << boost::json::serialize(welcome) << '\n';
    }

    boost::json::object hello{{"type", "hello"}};
    co_await client.async_send(hello, asio::use_awaitable);
    const auto echo = co_await client.async_receive(asio::use_awaitable);
    std::cout << "received " << boost::json::serialize(echo) << '\n';

    if (!server) {
        co_await client.async_close(asio::use_awaitable);
        co_return true;
    }

    // The server goes away for good: every attempt is refused, the delays grow, and after
    // max_failures the policy says stop. async_run then completes with the last error.
    server->stop();
    const auto [ec] = co_await client.async_run(asio::as_tuple(asio::use_awaitable));
    std::cout << "gave up: " << ec.message() << '\n';
    co_return ec.failed();
}

int main(int argc, char** argv)
{
    show_decisions();

    asio::io_context ioc;

    // Without an argument: a server that announces a restart on the first connection, overload on
    // the second, and from the third on sends a welcome and echoes.
    std::optional<tether::testing::test_server> server;
    std::string url = argc > 1 ? argv[1] : "";
    int connections = 0;
    if (url.empty()) {
        server.emplace(ioc.get_executor(),
                       [&connections](tether::testing::server_connection& c) -> asio::awaitable<void> {
                           const int n = ++connections;
                           co_await c.async_accept();
                           if (n == 1) {
                               co_await c.async_close(1012, "service restart");
                           } else if (n == 2) {
                               co_await c.async_close(1013, "try again later");
                           } else {
                               co_await c.async_send(R"({"type":"welcome"})");
                               co_await c.async_echo();
                           }
                       });
        url = server->url();
    }

    tether::client client(ioc.get_executor(),
                          {.url = url, .policy = restart_aware_policy(4)},
                          {.on_connected = [](unsigned attempt) { std::cout << "connected, attempt " << attempt << '\n'; },
                           .on_reconnecting = [](const tether::reconnect_event& e) {
                               std::cout << "attempt " << e.attempt << " in " << e.delay.count()
                                         << " ms after " << tether::describe(e.reason) << '\n';
                           }});

    int exit_code = 1;
    asio::co_spawn(ioc, run(client, server ? &*server : nullptr), [&](std::exception_ptr failure, bool ok) {
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const boost::system::system_error& e) {
                std::cerr << "failed: " << e.code().message() << '\n';
            } catch (const std::exception& e) {
                std::cerr << "failed: " << e.what() << '\n';
            }
        } else if (ok && (!server || connections == 3)) {
            exit_code = 0;
        }
        if (server) server->stop();
    });
    ioc.run();
    return exit_code;
}
