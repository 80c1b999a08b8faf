// A tether client driven by callbacks alone, without coroutines in the application code: the
// style of the original transport. It sends three messages, prints what comes back and closes
// once it has seen all three.
//
//   callback_client            runs against an embedded echo server on 127.0.0.1 (self-contained)
//   callback_client ws://...   talks to that server instead
#include <tether/tether.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <functional>
#include <iostream>
#include <optional>
#include <string>

namespace asio = boost::asio;
namespace json = boost::json;

// A small application object that owns its client and reacts to its events. Callbacks run on
// the client's strand one at a time, so the members need no locking.
class greeter {
public:
    static constexpr int message_count = 3;

    greeter(asio::any_io_executor ex, std::string url)
        : client_(ex, {.url = std::move(url)},
                  {
                      .on_message = [this](const json::value& m) { on_message(m); },
                      .on_connected = [](unsigned attempt) { std::cout << "connected, attempt " << attempt << '\n'; },
                      .on_reconnecting =
                          [](const tether::reconnect_event& e) {
                              std::cout << "retrying in " << e.delay.count()
                                        << " ms: " << tether::describe(e.reason) << '\n';
                          },
                      .on_close = [](const tether::disconnect& d) { std::cout << "finished: " << tether::describe(d) << '\n'; },
                      .on_error = [](tether::error_code, const std::string& what) { std::cerr << "error: " << what << '\n'; },
                  })
    {
    }

    // Starts the client; `done` runs once it has finished for good (no error after our close).
    void start(std::function<void(tether::error_code)> done)
    {
        client_.async_run(std::move(done));

        // Sends may be queued before the link is up: they wait, in order, and go out once the
        // client is connected. Each completion handler reports whether its message was written.
        for (int n = 1; n <= message_count; ++n) {
            client_.async_send(json::value{{"type", "greeting"}, {"n", n}}, [n](tether::error_code ec) {
                if (ec) std::cerr << "message " << n << " failed: " << ec.message() << '\n';
            });
        }
    }

    int received() const { return received_; }

private:
    void on_message(const json::value& message)
    {
        std::cout << "received " << json::serialize(message) << '\n';
        if (++received_ == message_count) {
            // Seen everything: close politely. `async_run`'s handler then completes without error.
            client_.async_close([](tether::error_code ec) { std::cout << "closed: " << ec.message() << '\n'; });
        }
    }

    tether::client client_;
    int received_ = 0;
};

int main(int argc, char** argv)
{
    asio::io_context ioc;

    // Without an argument, start an echo server on 127.0.0.1 and an ephemeral port.
    std::optional<tether::testing::test_server> server;
    std::string url = argc > 1 ? argv[1] : "";
    if (url.empty()) {
        server.emplace(ioc.get_executor());
        url = server->url();
    }

    greeter app(ioc.get_executor(), url);
    int exit_code = 1;
    app.start([&](tether::error_code ec) {
        std::cout << "run finished: " << (ec ? ec.message() : "ok") << '\n';
        if (!ec && app.received() == greeter::message_count) exit_code = 0;
        if (server) server->stop();  // nothing is left to do, so ioc.run() returns
    });
    ioc.run();
    return exit_code;
}
