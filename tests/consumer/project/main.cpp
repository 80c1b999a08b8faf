// A small program as a user of tether would write it: a co_await client against tether's test
// server, which is scripted to turn the first attempt away with HTTP 503 and echo afterwards.
// It is built both against tether as a Meson subproject and against an installed tether.
#include <tether/testing/test_server.hpp>
#include <tether/tether.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <exception>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<void> exchange(tether::client& client)
{
    co_await client.async_connect(asio::use_awaitable);
    boost::json::object hello{{"type", "user"}, {"text", "hello from a consumer"}};
    co_await client.async_send(hello, asio::use_awaitable);
    const boost::json::value reply = co_await client.async_receive(asio::use_awaitable);
    if (reply.at("text") != "hello from a consumer") throw std::runtime_error("unexpected reply");
    co_await client.async_close(asio::use_awaitable);
}

int main()
{
    asio::io_context ioc;

    int attempts = 0;
    tether::testing::test_server server(ioc.get_executor(),
                                        [&attempts](tether::testing::server_connection& c) -> asio::awaitable<void> {
                                            if (++attempts == 1) {
                                                co_await c.async_reject(503);
                                            } else {
                                                co_await c.async_accept();
                                                co_await c.async_echo();
                                            }
                                        });

    tether::client_config config;
    config.url = server.url("/consumer");
    config.policy = tether::seed_policy{.delay = 10ms};
    tether::client client(ioc.get_executor(), config);

    int exit_code = 1;
    asio::co_spawn(ioc, exchange(client), [&](std::exception_ptr failure) {
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                std::cerr << "consumer: " << e.what() << '\n';
            }
        } else if (attempts == 2 && server.messages().size() == 1) {
            std::cout << "consumer: connected after a 503, exchanged one message, closed\n";
            exit_code = 0;
        }
        server.stop();
    });
    ioc.run();
    return exit_code;
}
