// A service that holds many sessions at once on a thread pool: 50 clients, one server, each
// client sending and receiving ten messages and then closing.
//
//   thread_pool_service            runs against an embedded echo server on 127.0.0.1
//   thread_pool_service ws://...   opens the 50 sessions to that (echoing) server instead
//
// Every tether::client serialises its own work on an internal strand, so clients can share a
// multi-threaded executor without any locking in the application.
#include <tether/tether.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;

constexpr int session_count = 50;
constexpr int messages_per_session = 10;

// One session: connect, send ten numbered messages, read the ten echoes back in order, close.
// Throws on any failure, so finishing normally means the session worked.
asio::awaitable<void> session(tether::client& client, int id)
{
    co_await client.async_connect(asio::use_awaitable);

    for (int n = 0; n < messages_per_session; ++n) {
        boost::json::object message{{"type", "work"}, {"session", id}, {"n", n}};
        co_await client.async_send(message, asio::use_awaitable);
    }
    for (int n = 0; n < messages_per_session; ++n) {
        const boost::json::value reply = co_await client.async_receive(asio::use_awaitable);
        if (reply.at("session") != id || reply.at("n") != n)
            throw std::runtime_error("unexpected reply " + boost::json::serialize(reply));
    }

    co_await client.async_close(asio::use_awaitable);
}

int main(int argc, char** argv)
{
    const auto started = std::chrono::steady_clock::now();

    // The embedded server is not thread safe, so it gets an io_context and a thread of its own.
    asio::io_context server_context;
    std::optional<tether::testing::test_server> server;
    std::thread server_thread;
    std::string url = argc > 1 ? argv[1] : "";
    if (url.empty()) {
        server.emplace(server_context.get_executor());
        url = server->url();
        server_thread = std::thread([&] { server_context.run(); });
    }

    // The service: a pool of threads, and all the clients on it.
    const unsigned thread_count = std::max(2u, std::thread::hardware_concurrency());
    asio::thread_pool pool(thread_count);

    std::vector<std::unique_ptr<tether::client>> clients;
    for (int i = 0; i < session_count; ++i)
        clients.push_back(std::make_unique<tether::client>(pool.get_executor(), tether::client_config{.url = url}));

    std::atomic<int> succeeded = 0;
    for (int i = 0; i < session_count; ++i) {
        asio::co_spawn(pool, session(*clients[i], i), [&succeeded, i](std::exception_ptr failure) {
            if (!failure) {
                ++succeeded;
                return;
            }
            try {
                std::rethrow_exception(failure);
            } catch (const boost::system::system_error& e) {
                std::cerr << "session " << i << " failed: " << e.code().message() << '\n';
            } catch (const std::exception& e) {
                std::cerr << "session " << i << " failed: " << e.what() << '\n';
            }
        });
    }

    // join() returns once the pool has run out of work: every session has finished and closed.
    pool.join();
    clients.clear();

    if (server) {
        asio::post(server_context, [&] { server->stop(); });  // stop it on its own thread
        server_thread.join();                                  // its io_context then runs dry
    }

    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    std::cout << succeeded << " of " << session_count << " sessions succeeded on " << thread_count << " threads, "
              << succeeded * messages_per_session << " messages echoed, " << elapsed.count() << " ms\n";
    return succeeded == session_count ? 0 : 1;
}
