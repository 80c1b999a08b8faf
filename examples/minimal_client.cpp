// The smallest useful tether program: connect, send one message, read the reply, close.
//
//   minimal_client            runs against an embedded echo server on 127.0.0.1 (self-contained)
//   minimal_client ws://...   talks to that server instead
//
// Every tether operation takes an Asio completion token; here it is `asio::use_awaitable`, so
// each call is `co_await`ed and a failure throws `boost::system::system_error`.
#include <tether/tether.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <iostream>
#include <optional>
#include <string>

namespace asio = boost::asio;

// One conversation with the server, written top to bottom as if it were blocking code.
asio::awaitable<void> talk(tether::client& client)
{
    // Connects, retrying per the reconnect policy (the default allows 5 retries, 2 s apart).
    co_await client.async_connect(asio::use_awaitable);
    std::cout << "connected\n";

    // tether exchanges JSON objects that carry a string "type".
    boost::json::object hello{{"type", "user"}, {"text", "hello"}};
    co_await client.async_send(hello, asio::use_awaitable);

    // The embedded server echoes, so the first message back is our own.
    boost::json::value reply = co_await client.async_receive(asio::use_awaitable);
    std::cout << "received " << boost::json::serialize(reply) << '\n';

    // Flushes what is still queued, closes with 1000 and stops reconnecting.
    co_await client.async_close(asio::use_awaitable);
    std::cout << "closed\n";
}

int main(int argc, char** argv)
{
    asio::io_context ioc;  // one thread runs everything: the client and the embedded server

    // Without an argument, start an echo server on 127.0.0.1 and an ephemeral port.
    std::optional<tether::testing::test_server> server;
    std::string url;
    if (argc > 1) {
        url = argv[1];
    } else {
        server.emplace(ioc.get_executor());
        url = server->url();
    }

    tether::client client(ioc.get_executor(), {.url = url});

    int exit_code = 1;
    asio::co_spawn(ioc, talk(client), [&](std::exception_ptr failure) {
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const boost::system::system_error& e) {
                std::cerr << "failed: " << e.code().message() << '\n';
            } catch (const std::exception& e) {
                std::cerr << "failed: " << e.what() << '\n';
            }
        } else {
            exit_code = 0;
        }
        if (server) server->stop();  // nothing is left to do, so ioc.run() returns
    });
    ioc.run();
    return exit_code;
}
