// The chaos soak: a client streams sequenced messages through the fault proxy to a server while
// faults fire at random (seeded; the seed is printed). Afterwards it checks that the server saw
// each sequence number at most once and, on each connection, in increasing order; that every
// message the server did not see either completed its send with an error or was written on a link
// that then died (on the wire when it died); that file descriptors and memory stayed flat; and
// that everything shut down cleanly: the io_context runs out of work (no timer or operation left).
//
// Across connections, an abandoned link's bytes can still reach the server after its successor
// delivered newer ones: the client resets such links (SO_LINGER 0), which drops what it had not yet
// sent, but what the peer's kernel (here the proxy's) had already accepted still arrives. Those
// "late" numbers are counted and reported; --strict fails on them.
//
// The server acknowledges every 16th message it records with {"type":"ack","n":N}; the client
// counts them, so that the client's read path runs under the faults too. With --deflate the
// client offers permessage-deflate and the server accepts it: every message both ways is
// compressed, and the run fails unless every connection offered it.
//
// With --resume the client runs with acknowledged sends and resumable receives (the README's
// convention, `resume_config::sequenced()`) against the testing kit's resume_server, which also
// publishes a stream of its own to the client, and the faults include server restarts. Then
// nothing may be lost or delivered twice, in either direction, across connections: the server's
// application must see every message the client sent, once, in order; the client's application
// every message the server published, once, in order; and every send must complete without error.
//
//   fault_soak [--seconds N] [--seed S] [--strict] [--deflate] [--resume]
//   exit status 0 when every check passed
#include <tether/client.hpp>
#include <tether/testing/fault_proxy.hpp>
#include <tether/testing/resume_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/json/parse.hpp>

#include "measure.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using tether::error_code;
using tether::testing::accept_mode;
using tether::testing::direction;
using tether::testing::fault_proxy;
using tether::testing::link_faults;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

using namespace tether::faults;  // open_fds, rss_kib, memory_kib, heap_in_use (measure.hpp)

// The memory check compares memory_kib() once warm (the first moment the client is connected
// after 20 % of the run, as it is at the end) with it at the end, before the close.
// Plain builds: the resident set size. It covers what the allocator keeps as well as what is live,
// so a 16 MiB allowance absorbs the allocator's and the kernel's own growth.
// AddressSanitizer: freed blocks wait in its quarantine (256 MiB by default) before they are reused,
// so the resident set grows with the traffic, about 4 MiB a second here, though nothing leaks. The
// measure there is the bytes allocated and not yet freed, from the sanitizer's allocator (a block
// in the quarantine counts as freed); LeakSanitizer reports what is unreachable at exit, and this
// check what is still reachable but grows with the work done. Those live bytes are the bookkeeping
// allocated before the run (about 0.5 MiB) plus what is in flight: at most 32 messages, the send
// queue, a link's buffers, the proxy's, and with --deflate the compressors of both ends, all
// bounded. Measured (clang 14, 6 runs): 0.8 to 1.2 MiB while connected, warm and end within 32 KiB
// of each other, never more than 250 KiB apart while connected, 750 KiB over a whole run. A leak
// grows with the work: after warm-up the short soak sends some 32000 messages (16000 with --deflate
// in 10 s) over dozens of connections, so keeping 32 to 64 bytes per message, or some tens of KiB
// per connection, passes the bound of 1 MiB, which is 4 times the noise. (A string of 40 characters
// kept per message failed both modes: 3.1 and 1.4 MiB of growth.)
constexpr std::size_t memory_growth_kib = under_address_sanitizer ? 1024 : 16 * 1024;

asio::awaitable<void> pause(milliseconds d)
{
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(nothrow);
}

// What the server saw. Sequence numbers are checked as they arrive, so memory stays flat.
struct server_record {
    std::vector<bool> seen;
    std::int64_t last = -1;
    std::uint64_t received = 0;
    std::uint64_t duplicates = 0;  // a number seen a second time
    std::uint64_t reordered = 0;   // below a number seen earlier on the same connection
    std::uint64_t late = 0;        // below a number seen earlier on a newer connection
    std::uint64_t connections = 0;
    std::uint64_t offered_deflate = 0;  // connections whose upgrade request offered permessage-deflate
    int live = 0;
    bool deflate = false;  // accept permessage-deflate

    // `last_here` is the last number seen on this server connection.
    void record(std::int64_t n, std::int64_t& last_here)
    {
        ++received;
        if (n < 0 || std::size_t(n) >= seen.size() || seen[n]) {
            ++duplicates;
            return;
        }
        if (n <= last_here)
            ++reordered;
        else if (n <= last)
            ++late;  // an abandoned link delivered after its successor had
        seen[n] = true;
        last = std::max(last, n);
        last_here = n;
    }
};

// A plain Beast server: accepts the upgrade, reads messages (Beast answers pings and close frames)
// and records their sequence numbers.
asio::awaitable<void> serve(tcp::socket socket, server_record& rec)
{
    ++rec.live;
    struct unlive {
        int& live;
        ~unlive() { --live; }
    } guard{rec.live};
    websocket::stream<beast::tcp_stream> ws(std::move(socket));
    websocket::stream_base::timeout opt{};
    opt.handshake_timeout = 2s;
    opt.idle_timeout = websocket::stream_base::none();
    opt.keep_alive_pings = false;
    ws.set_option(opt);
    if (rec.deflate) {
        websocket::permessage_deflate pmd;
        pmd.server_enable = true;
        ws.set_option(pmd);
    }
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    auto [request_ec, request_size] = co_await http::async_read(ws.next_layer(), buffer, request, nothrow);
    if (request_ec) co_return;
    const bool offered =
        request[http::field::sec_websocket_extensions].find("permessage-deflate") != beast::string_view::npos;
    auto [ec] = co_await ws.async_accept(request, nothrow);
    if (ec) co_return;
    ++rec.connections;
    if (offered) ++rec.offered_deflate;
    std::int64_t last_here = -1;
    std::uint64_t recorded_here = 0;
    for (;;) {
        auto [read_ec, n] = co_await ws.async_read(buffer, nothrow);
        if (read_ec) co_return;
        const auto data = buffer.cdata();
        boost::system::error_code parse_ec;
        auto v = boost::json::parse(std::string_view(static_cast<const char*>(data.data()), data.size()), parse_ec);
        buffer.consume(n);
        if (parse_ec || !v.is_object() || !v.as_object().contains("n")) continue;
        const std::int64_t number = v.at("n").as_int64();
        rec.record(number, last_here);
        if (++recorded_here % 16 == 0) {
            const std::string ack = R"({"type":"ack","n":)" + std::to_string(number) + "}";
            auto [write_ec, written] = co_await ws.async_write(asio::buffer(ack), nothrow);
            if (write_ec) co_return;
        }
    }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, server_record& rec)
{
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) continue;
        asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), rec), asio::detached);
    }
}

enum fault_kind {
    latency,
    bandwidth,
    blackhole,
    reset,
    fin,
    slicer,
    limit_data,
    stall,
    silent_accept,
    unreachable,
    refused,
    restart,  // --resume: the server itself stops (dropping its connections) and starts again
    fault_kinds
};
constexpr std::array<const char*, fault_kinds> fault_names{"latency", "bandwidth",   "blackhole",  "reset",
                                                           "fin",     "slicer",      "limit_data", "stall",
                                                           "silent",  "unreachable", "refused",    "restart"};

struct options {
    int seconds = 20;
    std::uint64_t seed = 0;
    bool seeded = false;
    bool strict = false;   // also fail on late deliveries from abandoned links
    bool deflate = false;  // permessage-deflate offered and accepted
    bool resume = false;   // acknowledged sends and resumable receives, against the resume_server
};

options parse(int argc, char** argv)
{
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc)
            o.seconds = std::max(1, std::atoi(argv[++i]));
        else if (a == "--strict")
            o.strict = true;
        else if (a == "--deflate")
            o.deflate = true;
        else if (a == "--resume")
            o.resume = true;
        else if (a == "--seed" && i + 1 < argc)
            o.seed = std::strtoull(argv[++i], nullptr, 10), o.seeded = true;
        else {
            std::cerr << "usage: fault_soak [--seconds N] [--seed S] [--strict] [--deflate] [--resume]\n";
            std::exit(2);
        }
    }
    if (!o.seeded) o.seed = std::random_device{}() ^ (std::uint64_t(std::random_device{}()) << 32);
    return o;
}

// --resume: what each side's application saw of the other's stream. Every message must arrive
// once, in order, across connections: each one checks it is the one after the last.
struct stream_record {
    std::uint64_t next = 0;        // the number expected next
    std::uint64_t delivered = 0;   // messages the application received
    std::uint64_t misordered = 0;  // a number other than the next: lost, repeated or reordered

    void record(std::uint64_t n)
    {
        ++delivered;
        if (n != next) ++misordered;
        next = n + 1;
    }
};

// One send's fate: 0 = not completed, 1 = written, 2 = failed; and the connection it completed on.
struct send_record {
    std::uint8_t state = 0;
    std::uint32_t connection = 0;
};

}  // namespace

int main(int argc, char** argv)
{
    const options opt = parse(argc, argv);
    std::cout << "soak: seed " << opt.seed << ", " << opt.seconds << " s" << (opt.deflate ? ", permessage-deflate" : "")
              << " (repeat with --seed " << opt.seed << (opt.deflate ? " --deflate" : "") << ")" << std::endl;

    // Sends are paced so that the bookkeeping, allocated here up front, bounds the run.
    constexpr std::size_t rate = 2000;  // messages per second at most
    // Sends in flight at most; with --resume a send is in flight until acknowledged, which takes
    // up to the server's ack delay (50 ms): a wider window keeps the pace.
    const std::size_t window = opt.resume ? 256 : 32;
    const std::size_t capacity = rate * (std::size_t(opt.seconds) + 10);

    asio::io_context ioc;
    {
        tcp::socket warm(ioc);  // creates the io_context's own descriptors (epoll, eventfd, timerfd)
        warm.open(tcp::v4());
    }
    const std::size_t fds_before = open_fds();
    std::mt19937_64 rng(opt.seed);
    auto uniform = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };

    server_record rec;
    rec.seen.assign(capacity, false);
    rec.deflate = opt.deflate;
    std::vector<send_record> sends(capacity);
    std::map<std::string, std::uint64_t> failures;  // send errors by message
    std::array<std::uint64_t, fault_kinds> injected{};
    std::uint32_t connections = 0;
    std::uint64_t reconnects = 0, next = 0, in_flight = 0, written = 0;
    std::map<std::string, std::uint64_t> disconnects;  // by kind
    std::size_t fds_max = 0, memory_warm = 0, memory_end = 0;
    bool ok = true;
    auto fail = [&](const std::string& what) {
        ok = false;
        std::cout << "FAIL: " << what << std::endl;
    };

    auto acceptor = std::make_unique<tcp::acceptor>(ioc, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    // --resume: the testing kit's server, which speaks the resume convention, in place of the plain one.
    std::unique_ptr<tether::testing::resume_server> kit;
    stream_record upstream, downstream;  // client to server's application; server to client's
    std::uint64_t published = 0;
    tether::client_stats resume_stats{};                // the client's, at the end
    tether::testing::resume_session_stats kit_stats{};  // the server's, at the end
    if (opt.resume) {
        tether::testing::resume_server_options kit_options;
        kit_options.listen.permessage_deflate = opt.deflate;
        kit = std::make_unique<tether::testing::resume_server>(ioc.get_executor(), kit_options);
        kit->on_message([&](std::string_view, const boost::json::object& m) {
            const std::uint64_t n = m.at("n").to_number<std::uint64_t>();
            if (n < rec.seen.size()) rec.seen[n] = true;
            upstream.record(n);
        });
        acceptor->close();
    } else {
        asio::co_spawn(ioc, accept_loop(*acceptor, rec), asio::detached);
    }
    auto proxy =
        std::make_unique<fault_proxy>(ioc.get_executor(), kit ? kit->port() : acceptor->local_endpoint().port());
    proxy->set_seed(opt.seed);

    tether::client_config cfg;
    cfg.url = proxy->url(kit ? "/?session=soak" : "/soak");
    if (opt.resume) {
        cfg.resume = tether::resume_config::sequenced();
        // A send completes when the server acknowledged it: the window is what is unacknowledged.
        cfg.resume.sends.completion = tether::send_completion::acknowledged;
    }
    cfg.connect_timeout = 300ms;
    cfg.handshake_timeout = 300ms;
    cfg.ping_interval = 100ms;
    cfg.pong_timeout = 200ms;
    cfg.close_timeout = 1s;
    cfg.manual_reconnect_delay = 10ms;
    cfg.send_queue_capacity = 4 * window;
    cfg.policy = tether::exponential_policy{.initial = 20ms, .jitter = 0.2, .max_delay = 300ms};
    cfg.permessage_deflate = opt.deflate;
    tether::client_callbacks cb;
    cb.on_connected = [&](unsigned) { ++connections; };
    std::uint64_t acks = 0;
    cb.on_message = [&](const boost::json::value& v) {
        if (v.at("type") == "ack") ++acks;
        if (v.at("type") == "event") downstream.record(v.at("seq").to_number<std::uint64_t>() - 1);
    };
    cb.on_reconnecting = [&](const tether::reconnect_event& e) {
        ++reconnects;
        ++disconnects[std::string(tether::to_string(e.reason.kind))];
    };
    cb.on_close = [&](const tether::disconnect& d) { fail("the policy gave up: " + tether::describe(d)); };
    auto c = std::make_unique<tether::client>(ioc.get_executor(), cfg, cb);

    asio::steady_timer window_signal(ioc);
    bool sending = true;
    const auto start = clock_type::now();
    const auto end_of_faults = start + std::chrono::seconds(opt.seconds);

    // The sender: sequence numbers in order, at most `window` in flight, paced to `rate`.
    auto sender = [&]() -> asio::awaitable<void> {
        while (sending) {
            const auto elapsed = clock_type::now() - start;
            const auto allowed = std::min<std::uint64_t>(
                capacity, std::uint64_t(std::chrono::duration<double>(elapsed).count() * rate) + 1);
            while (sending && in_flight < window && next < allowed) {
                const std::uint64_t n = next++;
                ++in_flight;
                c->async_send(R"({"type":"seq","n":)" + std::to_string(n) + "}", [&, n](error_code ec) {
                    sends[n] = {std::uint8_t(ec ? 2 : 1), connections};
                    if (ec)
                        ++failures[ec.message()];
                    else
                        ++written;
                    --in_flight;
                    window_signal.cancel();
                });
            }
            window_signal.expires_after(5ms);
            co_await window_signal.async_wait(nothrow);
        }
    };

    // --resume: the server's own stream to the client, at the same pace, connected or not.
    auto publisher = [&]() -> asio::awaitable<void> {
        while (sending) {
            const auto elapsed = clock_type::now() - start;
            const auto allowed = std::uint64_t(std::chrono::duration<double>(elapsed).count() * rate) + 1;
            while (published < allowed && published < capacity)
                kit->publish("soak", {{"type", "event"}, {"n", published++}});
            co_await pause(5ms);
        }
    };

    // The chaos: one fault at a time, each for a random while, then a clean link again.
    auto chaos = [&]() -> asio::awaitable<void> {
        while (clock_type::now() < end_of_faults) {
            co_await pause(milliseconds(uniform(50, 400)));
            // A restart only with the resume server (plain runs keep their seeds' sequences).
            const auto kind = static_cast<fault_kind>(uniform(0, opt.resume ? fault_kinds - 1 : fault_kinds - 2));
            ++injected[kind];
            const milliseconds lasting(uniform(100, 1200));
            const auto d = uniform(0, 1) ? direction::upstream : direction::downstream;
            switch (kind) {
            case latency:
                proxy->set_faults(
                    link_faults{.latency = milliseconds(uniform(5, 120)), .jitter = milliseconds(uniform(0, 40))});
                break;
            case bandwidth: proxy->set_faults(link_faults{.bandwidth = std::size_t(uniform(2000, 64000))}); break;
            case blackhole: proxy->set_faults(link_faults{.blackhole = true}); break;
            case reset: proxy->reset_connections(); break;
            case fin: proxy->close_connections(); break;
            case slicer:
                proxy->set_faults(
                    d, link_faults{.slice = std::size_t(uniform(1, 16)), .slice_delay = milliseconds(uniform(0, 2))});
                break;
            case limit_data: proxy->set_faults(d, link_faults{.limit_data = std::uint64_t(uniform(0, 3000))}); break;
            case stall: proxy->set_faults(d, link_faults{.stall = true}); break;
            case silent_accept: proxy->set_accept_mode(accept_mode::silent); break;
            case unreachable: proxy->set_accept_mode(accept_mode::unreachable); break;
            case refused: proxy->stop(); break;
            case restart:
                if (kit) kit->stop();
                break;
            case fault_kinds: break;
            }
            if (kind != reset && kind != fin) co_await pause(lasting);
            proxy->clear_faults();
            proxy->start();
            if (kit && kind == restart) kit->start();
            // A blackhole swallowed bytes that TCP had acknowledged: its links are dead for good.
            if (kind == blackhole) proxy->reset_connections();
        }
    };

    // Samples: file descriptors throughout, memory once warm and at the end.
    std::vector<std::string> curve;
    auto sampler = [&]() -> asio::awaitable<void> {
        const auto warm = start + std::chrono::milliseconds(opt.seconds * 200);  // 20 % in
        int tick = 0;
        const int every = 10 * std::max(1, opt.seconds / 20);  // about 20 samples per run
        while (clock_type::now() < end_of_faults) {
            fds_max = std::max(fds_max, open_fds());
            if (memory_warm == 0 && clock_type::now() >= warm && c->is_connected()) memory_warm = memory_kib();
            if (tick > 0 && tick % 10 == 0) {  // once a second: how the run is going
                std::uint64_t faults = 0;
                for (auto f : injected) faults += f;
                const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(clock_type::now() - start);
                std::cout << "soak: " << elapsed.count() << " s: " << next << " sent, " << written << " written, "
                          << connections << " connections, " << faults << " faults, rss " << rss_kib() / 1024 << " MiB"
                          << std::endl;
            }
            if (tick++ % every == 0)
                curve.push_back(std::to_string(tick / 10) + "s:" + std::to_string(rss_kib() / 1024) + "/" +
                                std::to_string(heap_in_use() / (1024 * 1024)) + "/" + std::to_string(open_fds()) + "/" +
                                std::to_string(proxy->stats().live_connections));
            co_await pause(100ms);
        }
    };

    bool finished = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            c->async_run([](error_code) {});
            asio::co_spawn(ioc, sender(), asio::detached);
            if (kit) asio::co_spawn(ioc, publisher(), asio::detached);
            asio::co_spawn(ioc, sampler(), asio::detached);
            co_await chaos();

            // Calm: a clean link, the rest of the window flushed, then a polite close.
            const auto calm = clock_type::now();
            while (!c->is_connected() && clock_type::now() - calm < 5s) co_await pause(10ms);
            if (!c->is_connected()) fail("not connected 5 s after the faults stopped");
            co_await pause(300ms);
            sending = false;
            window_signal.cancel();
            if (kit) {
                // Nothing lost: every send acknowledged, every publication delivered, before the close.
                while ((in_flight > 0 || downstream.delivered < published) && clock_type::now() - calm < 10s)
                    co_await pause(5ms);
            }
            memory_end = memory_kib();
            auto [ec] = co_await c->async_close(nothrow);
            if (ec) fail("async_close: " + ec.message());
            while (in_flight > 0 && clock_type::now() - calm < 10s) co_await pause(5ms);
            if (in_flight > 0) fail(std::to_string(in_flight) + " sends never completed");
            finished = true;

            resume_stats = c->stats();
            if (kit) kit_stats = kit->stats("soak");
            c.reset();
            proxy.reset();
            acceptor->close();
            kit.reset();
            while (rec.live > 0 && clock_type::now() - calm < 10s) co_await pause(5ms);
        },
        [&](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    fail(std::string("exception: ") + x.what());
                }
            }
        });

    ioc.run_for(std::chrono::seconds(opt.seconds + 60));
    const bool drained = ioc.stopped();  // run_for returned because no work was left
    const auto took = std::chrono::duration<double>(clock_type::now() - start).count();
    acceptor.reset();
    if (!finished) fail("the run did not finish");
    if (!drained) fail("timers or operations were still pending after shutdown");

    // The accounting.
    std::uint64_t seen = 0, lost_on_wire = 0, silent = 0, unfinished = 0;
    for (std::uint64_t n = 0; n < next; ++n) {
        if (rec.seen[n]) {
            ++seen;
            continue;
        }
        const auto& s = sends[n];
        if (s.state == 0)
            ++unfinished;
        else if (s.state == 2)
            continue;  // the client said so
        else if (s.connection < connections)
            ++lost_on_wire;  // written on a link that later died
        else
            ++silent;  // written on the final link, closed politely: must have arrived
    }
    if (rec.duplicates > 0) fail(std::to_string(rec.duplicates) + " sequence numbers seen twice");
    if (rec.reordered > 0) fail(std::to_string(rec.reordered) + " sequence numbers out of order on one connection");
    if (rec.late > 0 && opt.strict)
        fail(std::to_string(rec.late) + " sequence numbers arrived late, from an abandoned link, after higher ones");
    if (silent > 0) fail(std::to_string(silent) + " messages written on the final link never arrived");
    if (unfinished > 0) fail(std::to_string(unfinished) + " sends never completed");
    // Thousands of messages reached the server: some of its acks must have come back.
    if (rec.received >= 1000 && acks == 0) fail("no ack from the server reached the client");
    if (opt.resume) {
        // Nothing lost, nothing twice, order kept across connections, both ways; no send failed.
        if (upstream.delivered != next)
            fail("client to server: " + std::to_string(next) + " sent, " + std::to_string(upstream.delivered) +
                 " delivered to the server's application");
        if (upstream.misordered > 0)
            fail("client to server: " + std::to_string(upstream.misordered) + " messages out of sequence");
        if (downstream.delivered != published)
            fail("server to client: " + std::to_string(published) + " published, " +
                 std::to_string(downstream.delivered) + " delivered to the client's application");
        if (downstream.misordered > 0)
            fail("server to client: " + std::to_string(downstream.misordered) + " messages out of sequence");
        if (written != next) fail(std::to_string(next - written) + " sends failed");
    }
    if (opt.deflate && !opt.resume && rec.offered_deflate != rec.connections)
        fail(std::to_string(rec.connections - rec.offered_deflate) + " of " + std::to_string(rec.connections) +
             " connections did not offer permessage-deflate");

    const std::size_t fds_after = open_fds();
    if (fds_after != fds_before)
        for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
            std::error_code ignored;
            std::cout << "  fd " << e.path().filename().string() << " -> "
                      << std::filesystem::read_symlink(e.path(), ignored).string() << "\n";
        }
    if (fds_after != fds_before)
        fail("file descriptors: " + std::to_string(fds_before) + " before, " + std::to_string(fds_after) + " after");
    if (fds_max > fds_before + 64) fail("file descriptors peaked at " + std::to_string(fds_max));
    if (memory_warm == 0) memory_warm = memory_end;
    if (memory_end > memory_warm + memory_growth_kib)
        fail(std::string(memory_measure) + " grew from " + std::to_string(memory_warm) + " KiB to " +
             std::to_string(memory_end) + " KiB (by more than " + std::to_string(memory_growth_kib) + " KiB)");
    std::uint64_t total_faults = 0;
    for (auto f : injected) total_faults += f;

    std::cout << "soak: " << (ok ? "PASS" : "FAIL") << " in " << took << " s (seed " << opt.seed << ")\n";
    std::cout << "  faults injected: " << total_faults << " (";
    for (int k = 0; k < fault_kinds; ++k) std::cout << (k ? ", " : "") << fault_names[k] << ' ' << injected[k];
    std::cout << ")\n";
    std::cout << "  connections: " << connections << ", reconnects: " << reconnects << " (";
    bool first = true;
    for (auto& [k, n] : disconnects) std::cout << (first ? "" : ", ") << k << ' ' << n, first = false;
    std::cout << ")\n";
    std::cout << "  messages: " << next << " sent, " << written << " written, " << seen << " seen by the server, "
              << lost_on_wire << " on the wire when a link died, " << (next - written) << " failed (";
    first = true;
    for (auto& [k, n] : failures) std::cout << (first ? "" : ", ") << k << ' ' << n, first = false;
    std::cout << ")\n";
    if (opt.resume) {
        const auto s = resume_stats;
        std::cout << "  resume: client to server " << next << " sent, " << upstream.delivered << " delivered, "
                  << (next - upstream.delivered) << " lost, " << upstream.misordered << " out of sequence; "
                  << "server to client " << published << " published, " << downstream.delivered << " delivered, "
                  << (published - downstream.delivered) << " lost, " << downstream.misordered << " out of sequence\n";
        std::cout << "  resume: " << s.messages_resent << " resent by the client, " << s.duplicates_dropped
                  << " duplicates dropped by the client, " << kit_stats.duplicates << " dropped by the server, "
                  << kit_stats.replayed << " replayed by the server, " << s.acks_sent << " acks sent by the client, "
                  << s.gaps << " gaps\n";
    }
    std::cout << "  order: " << rec.duplicates << " duplicates, " << rec.reordered << " reordered on a connection, "
              << rec.late << " late from an abandoned link" << (opt.strict ? "" : " (reported; --strict fails on them)")
              << "\n";
    std::cout << "  samples (time: rss MiB/" << heap_sampled << "/fds/proxy connections):";
    for (auto& p : curve) std::cout << ' ' << p;
    std::cout << "\n";
    std::cout << "  server: " << rec.connections << " connections, " << rec.received << " messages, " << acks
              << " acks received by the client\n";
    std::cout << "  fds: " << fds_before << " before, " << fds_max << " at most, " << fds_after << " after; "
              << memory_measure << ": " << memory_warm << " KiB warm, " << memory_end << " KiB at the end (at most "
              << memory_growth_kib << " KiB more); io_context drained: " << (drained ? "yes" : "no") << std::endl;
    return ok ? 0 : 1;
}
