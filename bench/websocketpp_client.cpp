// bench-websocketpp URL SECONDS: websocketpp (Debian's libwebsocketpp-dev, asio_no_tls_client
// config, Boost.Asio) receiving from the generator, doing the same JSON check per message as
// tether. Prints one JSON line: messages, seconds, cpu_seconds (this process), malformed, version.
// websocketpp 0.8.2 does not compile as C++20, so this program is built as C++17, on its own,
// without tether's Asio separate-compilation defines.
#include "measure.hpp"

#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

using client_type = websocketpp::client<websocketpp::config::asio_client>;

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: bench-websocketpp URL SECONDS\n");
        return 2;
    }
    const std::string url = argv[1];
    bench::window w;
    w.seconds = std::atof(argv[2]);
    w.use_process_cpu = true;
    boost::json::parser parser;
    std::uint64_t malformed = 0;

    client_type c;
    c.clear_access_channels(websocketpp::log::alevel::all);
    c.clear_error_channels(websocketpp::log::elevel::all);
    c.init_asio();
    c.set_message_handler([&](websocketpp::connection_hdl hdl, client_type::message_ptr msg) {
        if (!bench::parse_message(parser, msg->get_payload())) ++malformed;
        if (w.count()) c.close(hdl, websocketpp::close::status::normal, "");
    });
    websocketpp::lib::error_code ec;
    auto con = c.get_connection(url, ec);
    if (ec) {
        std::fprintf(stderr, "bench-websocketpp: %s\n", ec.message().c_str());
        return 1;
    }
    c.connect(con);
    // A bound on the run, whatever the server does.
    boost::asio::steady_timer limit(c.get_io_service(), std::chrono::seconds(static_cast<long>(w.seconds) + 30));
    limit.async_wait([&](const boost::system::error_code& e) {
        if (!e) c.stop();
    });
    c.set_close_handler([&](websocketpp::connection_hdl) { limit.cancel(); });
    c.set_fail_handler([&](websocketpp::connection_hdl) { limit.cancel(); });
    c.run();
    if (!w.done) {
        std::fprintf(stderr, "bench-websocketpp: the connection ended before the window closed\n");
        return 1;
    }
    std::printf("{\"messages\":%llu,\"seconds\":%.6f,\"cpu_seconds\":%.6f,\"malformed\":%llu,\"version\":\"%s\"}\n",
                static_cast<unsigned long long>(w.messages), w.elapsed, w.cpu_seconds,
                static_cast<unsigned long long>(malformed), websocketpp::user_agent);
    return 0;
}
