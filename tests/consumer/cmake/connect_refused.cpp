// tether::tether alone, without the testing kit: a client told never to reconnect, pointed at a
// loopback port where nothing listens, fails its connect with "connection refused".
#include <tether/tether.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <iostream>
#include <optional>
#include <string>

namespace asio = boost::asio;

int main()
{
    asio::io_context ioc;

    // A port that was free a moment ago: bound, then closed.
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::address_v4::loopback(), 0});
    const auto port = acceptor.local_endpoint().port();
    acceptor.close();

    tether::client_config config;
    config.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    config.policy = tether::never_policy{};
    tether::client client(ioc.get_executor(), config);

    std::optional<tether::error_code> result;
    client.async_connect([&result](tether::error_code ec) { result = ec; });
    ioc.run();

    if (result && *result == asio::error::connection_refused) {
        std::cout << "connect_refused: " << result->message() << ", as expected\n";
        return 0;
    }
    std::cerr << "connect_refused: " << (result ? result->message() : "the connect never completed") << '\n';
    return 1;
}
