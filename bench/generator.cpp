// The load generator (`tether-bench serve`): a WebSocket server process on 127.0.0.1 that costs
// far less than the client it feeds, so that the client under test is the bottleneck. It does the
// upgrade by hand and then works on raw bytes:
//   /recv?size=N   writes pre-framed session messages in large writes (a block of whole frames,
//                  at least 512 KiB, written again and again) until the client closes;
//                  with &kind=binary, binary frames of N bytes instead (bench::binary_messages)
//   /sink          counts the client's messages, text or binary, without unmasking them; a text
//                  frame shorter than 16 bytes
//                  (bench::sink_marker) is answered with {"type":"result","subtype":"sink","count":N};
//                  /sink?ack=K also acknowledges, as tether's resume convention asks, with
//                  {"type":"ack","seq":N} after every K messages (N counts them: the client stamps
//                  1, 2, 3...), and finds the marker in short text frames by their content, since
//                  the client stamps it too
//                  it reads once 256 KiB have come (SO_RCVLOWAT), and at least every 2 ms while
//                  anything has, so that the client's writes seldom have to wake it
//   /echo          unmasks each text frame and sends it back
//   /idle          sends one init message, answers pings; a "blackhole" command makes it stop
//                  answering (it reads and discards, and never closes)
// It is driven through stdin, one command per line, each answered by one line on stdout:
//   cpu            "cpu SECONDS" (user + system, this process)
//   restart MS     drops every connection and stops listening; MS later listens again on the same
//                  port; then "restarted DOWN_NS UP_NS" (steady clock, comparable across processes)
//   blackhole      "blackholed NOW_NS COUNT": live /idle connections go silent
//   quit           exits; so does end of input, so the generator never outlives the driver.
#include "bench.hpp"
#include "frames.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

namespace bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count();
}

void reply(std::string line)
{
    line.push_back('\n');
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(1, p, left);
        if (n <= 0) return;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

// A server frame: FIN set, unmasked.
void append_frame(std::string& out, unsigned opcode, std::string_view payload)
{
    out.push_back(static_cast<char>(0x80 | opcode));
    const std::uint64_t n = payload.size();
    if (n < 126) {
        out.push_back(static_cast<char>(n));
    } else if (n < 65536) {
        out.push_back(static_cast<char>(126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
    } else {
        out.push_back(static_cast<char>(127));
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    }
    out.append(payload);
}

std::string accept_key(std::string_view key)
{
    std::string s(key);
    s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_Digest(s.data(), s.size(), digest, &digest_len, EVP_sha1(), nullptr);
    unsigned char out[64];
    const int n = EVP_EncodeBlock(out, digest, static_cast<int>(digest_len));
    return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::string lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::size_t query_number(std::string_view target, std::string_view name, std::size_t fallback)
{
    const std::string key = std::string(name) + "=";
    const auto at = target.find(key);
    if (at == std::string_view::npos) return fallback;
    return std::strtoull(std::string(target.substr(at + key.size())).c_str(), nullptr, 10);
}

// Received bytes not yet parsed, in one growable buffer.
struct input {
    std::vector<unsigned char> buf;
    std::size_t begin = 0, end = 0;

    const unsigned char* data() const { return buf.data() + begin; }
    std::size_t size() const { return end - begin; }
    asio::mutable_buffer space(std::size_t at_least)
    {
        if (begin == end) begin = end = 0;
        if (buf.size() - end < at_least) {
            std::memmove(buf.data(), buf.data() + begin, end - begin);
            end -= begin;
            begin = 0;
            if (buf.size() - end < at_least) buf.resize(std::max(buf.size() * 2, end + at_least));
        }
        return asio::buffer(buf.data() + end, buf.size() - end);
    }
};

enum class mode { recv, sink, echo, idle };

// A sink's reads wait for this much (SO_RCVLOWAT). On loopback the client's send call runs the
// receiving side's TCP input, wake-up included: with the sink on the other core that is an IPI,
// paid inside the client's sendmsg; with the sink pulled onto the client's core (the other one
// busy), a preemption of the client. A sink that reads as soon as anything has come is woken
// every 6 to 12 messages of 256 B (measured), and those wake-ups, not the client's own work, set
// the rate. 1 MiB measured no better, and was the first size at which the client waited on the
// receive window.
constexpr int sink_batch = 256 * 1024;
// How often a sink looks for bytes that have waited a whole tick without reaching a batch (the
// end marker, a close, a ping, a slow client): it lets them through by lowering the watermark.
constexpr auto sink_tick = std::chrono::milliseconds(1);

struct server;

struct connection {
    connection(server& s, tcp::socket sock);
    ~connection();
    server& srv;
    tcp::socket sock;
    mode kind = mode::idle;
    bool stop = false;        // the reader is done (recv: stop writing; sink: stop ticking)
    bool blackholed = false;  // idle: stop answering
    bool nudged = false;      // sink: the low watermark is down to 1 byte until the next read
    std::uint64_t ack_every = 0;  // sink: acknowledge every this many messages (0: never)
    std::uint64_t reads = 0;  // sink: reads completed, for the ticker
    input in;
};

struct server {
    explicit server(asio::io_context& ioc) : ioc(ioc), acceptor(ioc) {}
    asio::io_context& ioc;
    tcp::acceptor acceptor;
    std::uint16_t port = 0;
    unsigned generation = 0;
    std::set<connection*> live;
    std::map<std::pair<std::size_t, bool>, std::shared_ptr<const std::string>> blocks;  // (size, binary)

    void listen()
    {
        const tcp::endpoint ep(asio::ip::make_address_v4("127.0.0.1"), port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
        port = acceptor.local_endpoint().port();
        asio::co_spawn(ioc, accept_loop(++generation), asio::detached);
    }

    asio::awaitable<void> accept_loop(unsigned gen)
    {
        asio::steady_timer pause(ioc);
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
            if (gen != generation || !acceptor.is_open()) co_return;
            if (ec) {  // e.g. out of file descriptors: let the peers retry
                pause.expires_after(std::chrono::milliseconds(10));
                co_await pause.async_wait(use_tuple);
                continue;
            }
            error_code ignored;
            sock.set_option(tcp::no_delay(true), ignored);
            asio::co_spawn(ioc, session(std::make_shared<connection>(*this, std::move(sock))), asio::detached);
        }
    }

    std::shared_ptr<const std::string> block_for(std::size_t size, bool binary)
    {
        auto& b = blocks[{size, binary}];
        if (b) return b;
        const auto messages = binary ? binary_messages(size) : session_messages(size);
        std::string frames;
        for (std::size_t i = 0; frames.size() < 512 * 1024 || i < messages.size(); ++i)
            append_frame(frames, binary ? 0x2 : 0x1, messages[i % messages.size()]);
        b = std::make_shared<const std::string>(std::move(frames));
        return b;
    }

    asio::awaitable<void> session(std::shared_ptr<connection> c)
    {
        // The upgrade request. Clients send nothing more before the answer.
        std::string request;
        auto [ec, n] = co_await asio::async_read_until(c->sock, asio::dynamic_buffer(request), "\r\n\r\n", use_tuple);
        if (ec) co_return;
        const std::string head = request.substr(0, n);
        const auto sp1 = head.find(' ');
        const auto sp2 = head.find(' ', sp1 + 1);
        const std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::string lowered = lower(head);
        const auto key_at = lowered.find("sec-websocket-key:");
        if (key_at == std::string::npos) co_return;
        auto key_begin = head.find_first_not_of(' ', key_at + 18);
        auto key_end = head.find("\r\n", key_begin);
        const std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Accept: " +
                                     accept_key(head.substr(key_begin, key_end - key_begin)) + "\r\n\r\n";
        auto [wec, wn] = co_await asio::async_write(c->sock, asio::buffer(response), use_tuple);
        if (wec) co_return;

        c->kind = target.starts_with("/recv")   ? mode::recv
                  : target.starts_with("/sink") ? mode::sink
                  : target.starts_with("/echo") ? mode::echo
                                                : mode::idle;
        if (c->kind == mode::sink) c->ack_every = query_number(target, "ack", 0);
        // A sink's read takes a whole batch and what came meanwhile, in one call.
        c->in.buf.resize(c->kind == mode::idle || c->kind == mode::recv ? 4096
                         : c->kind == mode::sink                        ? 4 * sink_batch
                                                                        : 256 * 1024);
        const std::size_t extra = request.size() - n;  // bytes after the request, if any
        std::memcpy(c->in.space(extra).data(), request.data() + n, extra);
        c->in.end += extra;

        if (c->kind == mode::recv) {
            const bool binary = target.find("kind=binary") != std::string::npos;
            std::shared_ptr<const std::string> block;
            try {
                block = block_for(query_number(target, "size", 256), binary);
            } catch (const std::exception&) {  // a size no payload fits: drop this one, serve the others
                co_return;
            }
            asio::co_spawn(ioc, serve_frames(c), asio::detached);  // sees the client's close
            co_await stream(c, std::move(block));
        } else if (c->kind == mode::sink) {
            error_code ignored;
            c->sock.set_option(asio::socket_base::receive_low_watermark(sink_batch), ignored);
            asio::co_spawn(ioc, sink_ticker(c), asio::detached);
            co_await serve_frames(c);
        } else {
            if (c->kind == mode::idle) {
                std::string init;
                append_frame(init, 0x1, R"({"type":"system","subtype":"init","session_id":"a3f1c2e4"})");
                auto [iec, in] = co_await asio::async_write(c->sock, asio::buffer(init), use_tuple);
                if (iec) co_return;
            }
            co_await serve_frames(c);
        }
    }

    // recv: the same block of whole frames, again and again, until the client closes.
    asio::awaitable<void> stream(std::shared_ptr<connection> c, std::shared_ptr<const std::string> block)
    {
        while (!c->stop) {
            auto [ec, n] = co_await asio::async_write(c->sock, asio::buffer(*block), use_tuple);
            if (ec) co_return;
        }
        std::string close;
        append_frame(close, 0x8, std::string_view("\x03\xe8", 2));
        co_await asio::async_write(c->sock, asio::buffer(close), use_tuple);
        error_code ignored;
        c->sock.shutdown(tcp::socket::shutdown_send, ignored);
    }

    // sink: when no read has completed for a whole tick and bytes are queued, lowers the low
    // watermark to 1 byte; the kernel then signals the socket readable at once, and serve_frames
    // raises it again after its read. So no byte waits more than two ticks.
    asio::awaitable<void> sink_ticker(std::shared_ptr<connection> c)
    {
        asio::steady_timer tick(ioc);
        std::uint64_t reads = c->reads;
        while (!c->stop) {
            tick.expires_after(sink_tick);
            co_await tick.async_wait(use_tuple);
            if (c->stop) co_return;
            error_code ec;
            if (c->reads == reads && !c->nudged && c->sock.available(ec) != 0 && !ec) {
                c->sock.set_option(asio::socket_base::receive_low_watermark(1), ec);
                c->nudged = true;
            }
            if (ec) co_return;
            reads = c->reads;
        }
    }

    // Reads the client's frames until the connection ends; answers per mode.
    asio::awaitable<void> serve_frames(std::shared_ptr<connection> c)
    {
        struct done_on_exit {  // however the reading ends, a sink's ticker must stop with it
            connection& c;
            ~done_on_exit() { c.stop = true; }
        } done{*c};
        std::string out;
        std::string payload;
        std::uint64_t count = 0;
        bool close_sent = false;
        frame f;
        for (;;) {
            auto [rec, rn] =
                co_await c->sock.async_read_some(c->in.space(c->kind == mode::idle ? 1024 : 65536), use_tuple);
            if (rec) {
                c->stop = true;
                co_return;
            }
            c->in.end += rn;
            ++c->reads;
            if (c->nudged) {
                error_code ignored;
                c->sock.set_option(asio::socket_base::receive_low_watermark(sink_batch), ignored);
                c->nudged = false;
            }
            for (;;) {
                const std::size_t used = parse_frame(c->in.data(), c->in.size(), f);
                if (used == 0) break;
                c->in.begin += used;
                if (c->blackholed || close_sent) continue;
                switch (f.opcode) {
                case 0x8:  // close: answer it (recv: the writer does, after its current block)
                    c->stop = true;
                    if (c->kind != mode::recv) append_frame(out, 0x8, std::string_view("\x03\xe8", 2));
                    close_sent = true;
                    break;
                case 0x9:
                    if (c->kind == mode::recv) break;  // the writer owns the socket's output
                    f.unmask_into(payload);
                    append_frame(out, 0xA, payload);
                    break;
                case 0x0:
                case 0x1:
                case 0x2:
                    if (c->kind == mode::sink) {
                        // Messages, not frames: raw Beast fragments large messages by default.
                        if (!f.fin) break;
                        bool marker = f.opcode == 0x1 && f.length < 16;
                        if (c->ack_every != 0 && f.opcode == 0x1 && f.length < 48) {
                            f.unmask_into(payload);  // stamped: {"seq":N,"end":1}
                            marker = payload.find(R"("end":1)") != std::string::npos;
                        }
                        if (!marker) {
                            ++count;
                            if (c->ack_every != 0 && count % c->ack_every == 0)
                                append_frame(out, 0x1, R"({"type":"ack","seq":)" + std::to_string(count) + "}");
                        } else {
                            append_frame(out, 0x1,
                                         R"({"type":"result","subtype":"sink","count":)" + std::to_string(count) + "}");
                            count = 0;
                        }
                    } else if (c->kind == mode::echo) {
                        f.unmask_into(payload);
                        append_frame(out, 0x1, payload);
                    }
                    break;
                default: break;
                }
            }
            if (!out.empty()) {
                auto [ec, n] = co_await asio::async_write(c->sock, asio::buffer(out), use_tuple);
                out.clear();
                if (ec) co_return;
                if (close_sent) {
                    error_code ignored;
                    c->sock.shutdown(tcp::socket::shutdown_send, ignored);
                }
            }
            if (close_sent) c->in.begin = c->in.end;  // discard the rest until EOF
        }
    }

    asio::awaitable<void> restart(std::chrono::milliseconds down)
    {
        const auto down_at = now_ns();  // before closing: the first peers notice at once
        error_code ignored;
        ++generation;
        acceptor.close(ignored);
        for (connection* c : live) c->sock.close(ignored);
        asio::steady_timer t(ioc, down);
        co_await t.async_wait(use_tuple);
        listen();
        reply("restarted " + std::to_string(down_at) + " " + std::to_string(now_ns()));
    }

    asio::awaitable<void> control()
    {
        asio::posix::stream_descriptor in(ioc, ::dup(0));
        std::string buf;
        for (;;) {
            auto [ec, n] = co_await asio::async_read_until(in, asio::dynamic_buffer(buf), '\n', use_tuple);
            if (ec) break;  // the driver is gone
            const std::string line = buf.substr(0, n - 1);
            buf.erase(0, n);
            if (line == "quit") break;
            if (line == "cpu") {
                rusage ru{};
                getrusage(RUSAGE_SELF, &ru);
                const double s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                 static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
                reply("cpu " + std::to_string(s));
            } else if (line.starts_with("restart ")) {
                co_await restart(std::chrono::milliseconds(std::stoi(line.substr(8))));
            } else if (line == "blackhole") {
                unsigned count = 0;
                for (connection* c : live) {
                    if (c->kind != mode::idle) continue;
                    c->blackholed = true;
                    ++count;
                }
                reply("blackholed " + std::to_string(now_ns()) + " " + std::to_string(count));
            } else if (line == "connections") {
                reply(std::to_string(live.size()));
            } else {
                reply("error unknown command: " + line);
            }
        }
        ioc.stop();
    }
};

connection::connection(server& s, tcp::socket sock) : srv(s), sock(std::move(sock))
{
    srv.live.insert(this);
}

connection::~connection()
{
    srv.live.erase(this);
}

}  // namespace

int serve()
{
    asio::io_context ioc(1);
    server srv(ioc);
    srv.listen();
    reply(std::to_string(srv.port));
    asio::co_spawn(ioc, srv.control(), asio::detached);
    // A bound on the generator's life, whatever the driver does.
    asio::steady_timer lifetime(ioc, std::chrono::hours(2));
    lifetime.async_wait([&](error_code) { ioc.stop(); });
    ioc.run();
    // Connections may still be pending; nothing of theirs needs to run, so leave without unwinding.
    std::fflush(stdout);
    std::_Exit(0);
}

}  // namespace bench
