// A program that compiles Asio and Beast its own way and uses tether beside them, as a service
// that already has Asio code (or links another library that compiles it) would. It is built twice
// (tests/consumer/meson.build): with header-only Asio and Beast against libtether.so, and with its
// own separate compilation (TETHER_GUEST_SEPARATE: separate.cpp holds Asio's, its SSL's and
// Beast's sources) linked with tether's objects, where a strong Asio symbol in tether would collide
// with the program's at link time.
//
// On one io_context, the program's own Beast echo server answers a tether client; then error codes
// cross the boundary both ways. Each check names what it proves; the exit status is their verdict.
#include <tether/tether.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <exception>
#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const std::string& what)
{
    std::cout << (ok ? "ok   " : "FAIL ") << what << '\n';
    if (!ok) ++failures;
}

// The program's own WebSocket server: Beast compiled the program's way.
asio::awaitable<void> echo(asio::ip::tcp::acceptor& acceptor)
{
    beast::websocket::stream<asio::ip::tcp::socket> ws(co_await acceptor.async_accept(asio::use_awaitable));
    co_await ws.async_accept(asio::use_awaitable);
    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buffer, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;  // the client's close
        ws.text(ws.got_text());
        co_await ws.async_write(buffer.data(), asio::use_awaitable);
        buffer.consume(n);
    }
}

asio::awaitable<void> exchange(tether::client& client)
{
    co_await client.async_connect(asio::use_awaitable);
    for (int i = 0; i < 100; ++i) {
        boost::json::object message;  // not braced in the co_await: GCC 12 miscompiles that
        message["type"] = "guest";
        message["n"] = i;
        co_await client.async_send(message, asio::use_awaitable);
        const boost::json::value reply = co_await client.async_receive(asio::use_awaitable);
        if (reply.at("n") != i) throw std::runtime_error("reply " + boost::json::serialize(reply) + " to message " + std::to_string(i));
    }
    co_await client.async_close(asio::use_awaitable);
}

}  // namespace

int main()
{
    asio::io_context ioc;
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(ioc, echo(acceptor), asio::detached);

    tether::client_config config;
    config.url = "ws://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/guest";
    config.policy = tether::never_policy{};
    tether::client client(ioc.get_executor(), config);
    bool exchanged = false;
    asio::co_spawn(ioc, exchange(client), [&](std::exception_ptr failure) {
        try {
            if (failure) std::rethrow_exception(failure);
            exchanged = true;
        } catch (const std::exception& e) {
            std::cout << "exchange: " << e.what() << '\n';
        }
    });
    ioc.run();
    check(exchanged, "a tether client and the program's own Beast server exchanged 100 messages on one io_context");
    check(client.stats().messages_received == 100, "tether counted the 100 replies");

    // Error codes made by the program, judged by tether: Asio's categories are objects that the
    // program and the library share, or these comparisons fail inside libtether.
    check(tether::is_permanent(asio::error::host_not_found), "tether sees the program's asio::error::host_not_found (netdb category)");
    const boost::system::error_code verify_failed(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED),
                                                  asio::error::get_ssl_category());
    check(tether::is_permanent(verify_failed), "tether sees the program's SSL verification failure (asio's ssl category)");
    check(!tether::is_permanent(asio::error::connection_refused), "a refused connection stays transient");

    // And tether's codes judged by the program, through Beast's condition.
    check(tether::make_error_code(tether::protocol_error::masked_frame) == beast::websocket::condition::protocol_violation,
          "the program's Beast condition recognises tether's protocol_error::masked_frame");
    check(tether::make_error_code(tether::error::unauthorized) != beast::websocket::condition::protocol_violation,
          "and not tether's error::unauthorized");

    std::cout << (failures ? "guest: FAILED\n" : "guest: tether is a good guest\n");
    return failures ? 1 : 0;
}
