// tether-cat: a WebSocket client for the command line. JSON lines from stdin go out as text
// frames, delivered messages come out on stdout, lifecycle events go to stderr as JSON lines.
#include <tether/client.hpp>
#include <tether/message.hpp>
#include <tether/sessions.hpp>
#include <tether/url.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;

constexpr int exit_closed = 0;
constexpr int exit_internal = 1;
constexpr int exit_usage = 2;
constexpr int exit_gave_up = 3;
constexpr int exit_permanent = 4;

constexpr std::string_view usage_text = R"(usage: tether-cat [options] URL

Connects to URL (ws:// or wss://), sends each line of stdin (one JSON value per line) as a text
frame and prints each delivered message to stdout as one compact JSON line. Lifecycle events go to
stderr as JSON lines. End of input flushes queued sends and closes with 1000.

options:
  --session ID --org UUID   URL is a base URL (https:// or wss://); connect to the sessions API
                            subscribe URL, with header anthropic-version: 2023-06-01
  --token-command CMD       run by /bin/sh on every connection attempt; its trimmed stdout is sent
                            as "Authorization: Bearer <token>"; a failure fails the attempt
  --header 'Name: value'    an extra upgrade header; repeatable
  --cafile FILE             trust the CA certificates in this PEM file too (wss://)
  --cert FILE --key FILE    a client certificate and its key, PEM (mutual TLS)
  --proxy URL               tunnel through http://[user:password@]host[:port], whatever
                            https_proxy / http_proxy / NO_PROXY say (they apply otherwise)
  --allow-plaintext-token   allow a token over ws:// to a host that is not loopback
  --deflate                 offer permessage-deflate
  --stats                   on exit, print the counters and the connection history to stderr as
                            one JSON line: {"event":"stats","stats":{...},"history":[...]}
  --max-message-size BYTES  the largest inbound message (default 16 MiB)
  --ping-interval MS        heartbeat ping interval, 0 = off (default 30000)
  --pong-timeout MS         heartbeat deadline after a ping (default 10000)
  --policy NAME             seed (default), exponential or never
  --reconnect-delay MS      seed: the base delay (default 2000); exponential: the first delay
  --max-attempts N          retries before giving up (seed default 5; exponential default 0 = unlimited)
  -h, --help                print this help and exit

stdin: a blank line is skipped; an invalid JSON line is reported and not sent; the line
':interrupt' sends the control request {"subtype":"interrupt"}.

exit status: 0 closed at end of input; 3 the reconnect policy gave up; 4 permanent rejection
(close 4003, HTTP 401/403, a refused certificate, proxy 407); 2 usage or configuration error.
)";

struct usage_error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

struct options {
    std::string url;
    std::optional<std::string> session_id;
    std::optional<std::string> org_id;
    std::string token_command;
    std::vector<tether::header> headers;
    std::optional<milliseconds> ping_interval;
    std::optional<milliseconds> pong_timeout;
    std::string policy = "seed";
    std::optional<milliseconds> reconnect_delay;
    std::optional<unsigned> max_attempts;
    std::string cafile, cert, key, proxy;
    bool allow_plaintext_token = false;
    bool deflate = false;
    bool stats = false;
    std::optional<std::size_t> max_message_size;
    bool help = false;
};

std::string_view trim(std::string_view s)
{
    constexpr std::string_view space = " \t\r\n\f\v";
    const auto first = s.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(space) - first + 1);
}

std::uint32_t parse_number(std::string_view option, std::string_view text)
{
    // Capped at INT32_MAX so that every value fits both milliseconds and unsigned.
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || n > 2147483647u)
        throw usage_error(std::string(option) + ": expected a non-negative integer, got '" + std::string(text) + "'");
    return n;
}

tether::header parse_header(std::string_view text)
{
    const auto colon = text.find(':');
    if (colon == std::string_view::npos)
        throw usage_error("--header: expected 'Name: value'");  // the text may be a secret: not echoed
    return {std::string(trim(text.substr(0, colon))), std::string(trim(text.substr(colon + 1)))};
}

options parse_args(int argc, char** argv)
{
    options o;
    bool only_positional = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (only_positional || arg.size() < 2 || arg[0] != '-') {
            if (!o.url.empty()) throw usage_error("unexpected argument '" + std::string(arg) + "'");
            o.url = arg;
            continue;
        }
        if (arg == "--") {
            only_positional = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") {
            o.help = true;
            continue;
        }
        if (arg == "--stats") {
            o.stats = true;
            continue;
        }
        if (arg == "--allow-plaintext-token" || arg == "--deflate") {
            (arg == "--deflate" ? o.deflate : o.allow_plaintext_token) = true;
            continue;
        }
        // Every other option takes a value, as "--name value" or "--name=value".
        std::string_view name = arg;
        std::optional<std::string_view> inline_value;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
        }
        auto value = [&]() -> std::string_view {
            if (inline_value) return *inline_value;
            if (i + 1 >= argc) throw usage_error(std::string(name) + ": missing value");
            return argv[++i];
        };
        if (name == "--session")
            o.session_id = value();
        else if (name == "--org")
            o.org_id = value();
        else if (name == "--token-command")
            o.token_command = value();
        else if (name == "--header")
            o.headers.push_back(parse_header(value()));
        else if (name == "--ping-interval")
            o.ping_interval = milliseconds(parse_number(name, value()));
        else if (name == "--pong-timeout")
            o.pong_timeout = milliseconds(parse_number(name, value()));
        else if (name == "--reconnect-delay")
            o.reconnect_delay = milliseconds(parse_number(name, value()));
        else if (name == "--max-attempts")
            o.max_attempts = parse_number(name, value());
        else if (name == "--cafile")
            o.cafile = value();
        else if (name == "--cert")
            o.cert = value();
        else if (name == "--key")
            o.key = value();
        else if (name == "--proxy")
            o.proxy = value();
        else if (name == "--max-message-size")
            o.max_message_size = parse_number(name, value());
        else if (name == "--policy") {
            o.policy = value();
            if (o.policy != "seed" && o.policy != "exponential" && o.policy != "never")
                throw usage_error("--policy: expected seed, exponential or never, got '" + o.policy + "'");
        } else {
            throw usage_error("unknown option '" + std::string(name) + "'");
        }
    }
    if (o.help) return o;
    if (o.url.empty()) throw usage_error("missing URL");
    if (o.session_id.has_value() != o.org_id.has_value()) throw usage_error("--session and --org go together");
    return o;
}

// Runs `command` with /bin/sh and returns its trimmed stdout. Its stdin is /dev/null so that it
// cannot swallow our input. The token itself never appears in a message.
std::string run_token_command(const std::string& command)
{
    FILE* pipe = ::popen(("exec </dev/null\n" + command).c_str(), "r");
    if (!pipe) throw std::runtime_error(std::string("cannot run the token command: ") + std::strerror(errno));
    std::string out;
    char buf[4096];
    while (const std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    const int status = ::pclose(pipe);
    if (status == -1) throw std::runtime_error("cannot wait for the token command");
    if (WIFSIGNALED(status))
        throw std::runtime_error("token command killed by signal " + std::to_string(WTERMSIG(status)));
    if (WEXITSTATUS(status) != 0)
        throw std::runtime_error("token command exited with status " + std::to_string(WEXITSTATUS(status)));
    std::string token(trim(out));
    if (token.empty()) throw std::runtime_error("token command printed nothing");
    return token;
}

// Throws std::invalid_argument naming the field (from tether) when the options do not add up.
tether::client_config make_config(const options& o)
{
    tether::client_config cfg;
    cfg.url = o.url;
    if (o.session_id) {
        cfg.url = tether::sessions_url(o.url, *o.session_id, *o.org_id);
        cfg.headers.push_back({"anthropic-version", std::string(tether::sessions_api_version)});
    }
    cfg.headers.insert(cfg.headers.end(), o.headers.begin(), o.headers.end());
    if (!o.token_command.empty())
        cfg.token_provider = [command = o.token_command] { return run_token_command(command); };
    cfg.tls.ca_file = o.cafile;
    cfg.tls.certificate_file = o.cert;
    cfg.tls.key_file = o.key;
    cfg.proxy.url = o.proxy;
    cfg.allow_plaintext_token = o.allow_plaintext_token;
    cfg.permessage_deflate = o.deflate;
    if (o.max_message_size) cfg.max_message_size = *o.max_message_size;
    if (o.ping_interval) cfg.ping_interval = *o.ping_interval;
    if (o.pong_timeout) cfg.pong_timeout = *o.pong_timeout;

    if (o.policy == "seed") {
        tether::seed_policy p;
        if (o.reconnect_delay) p.delay = *o.reconnect_delay;
        if (o.max_attempts) p.max_retries = *o.max_attempts;
        cfg.policy = p;
    } else if (o.policy == "exponential") {
        tether::exponential_policy p;
        if (o.reconnect_delay) p.initial = *o.reconnect_delay;
        p.max_delay = std::max(p.max_delay, p.initial);
        if (o.max_attempts) p.max_retries = *o.max_attempts;
        cfg.policy = p;
    } else {
        cfg.policy = tether::never_policy{};
    }
    return cfg;
}

void write_line(std::FILE* f, const std::string& line)
{
    std::fwrite(line.data(), 1, line.size(), f);
    std::fputc('\n', f);
    std::fflush(f);
}

void emit_event(json::object event)
{
    write_line(stderr, json::serialize(event));
}

// Adds why a connection ended: "reason", and "code" (the close code or the HTTP status) when there is one.
json::object with_disconnect(json::object e, const tether::disconnect& d)
{
    e["reason"] = tether::describe(d);
    if (d.kind == tether::disconnect_kind::close_frame)
        e["code"] = d.close_code;
    else if (d.kind == tether::disconnect_kind::http_status)
        e["code"] = d.http_status;
    return e;
}

// The running tool. Everything except the stdin reader runs on the io_context's one thread, so
// the members need no locks.
class cat {
public:
    cat(tether::client_config cfg, bool stats)
        : stats_(stats),
          client_(io_.get_executor(), std::move(cfg),
                  {
                      .on_message = [](const json::value& m) { write_line(stdout, json::serialize(m)); },
                      .on_connected =
                          [](unsigned attempt) {
                              emit_event({{"event", "connected"}, {"attempt", attempt}});
                          },
                      .on_reconnecting =
                          [](const tether::reconnect_event& ev) {
                              emit_event(with_disconnect(
                                  {{"event", "reconnecting"}, {"attempt", ev.attempt}, {"delay_ms", ev.delay.count()}},
                                  ev.reason));
                          },
                      .on_close =
                          [this](const tether::disconnect& d) {
                              permanent_ = tether::classify(d) == tether::failure_class::permanent;
                              emit_event(with_disconnect({{"event", "closed"}}, d));
                          },
                      .on_error =
                          [](tether::error_code, const std::string& what) {
                              emit_event({{"event", "error"}, {"message", what}});
                          },
                  })
    {
    }

    int run()
    {
        client_.async_run([this](tether::error_code ec) { finished(ec); });
        std::thread reader([this] { read_stdin(); });
        try {
            io_.run();
        } catch (const std::exception& e) {
            emit_event({{"event", "error"}, {"message", std::string("internal error: ") + e.what()}});
            exit_code_ = exit_internal;
        }
        if (stats_)
            emit_event({{"event", "stats"},
                        {"stats", json::value_from(client_.stats())},
                        {"history", json::value_from(client_.history())}});
        std::fflush(stdout);
        std::fflush(stderr);
        if (reader_done_) {
            reader.join();
            return exit_code_;
        }
        // The client finished while the reader still blocks in getline, which cannot be
        // interrupted. Leave without destructors, so the reader cannot post into a destroyed io_context.
        reader.detach();
        std::quick_exit(exit_code_);
    }

private:
    void read_stdin()
    {
        std::string line;
        for (std::uint64_t number = 1; std::getline(std::cin, line); ++number) {
            line_slots_.acquire();
            asio::post(io_, [this, number, line = std::move(line)] { on_line(number, line); });
        }
        asio::post(io_, [this] { on_eof(); });
        reader_done_ = true;
    }

    void on_line(std::uint64_t number, std::string_view line)
    {
        auto done = [this, number](tether::error_code ec) {
            if (ec)
                emit_event({{"event", "error"},
                            {"message", "line " + std::to_string(number) + ": not sent: " + ec.message()}});
            line_slots_.release();
        };
        line = trim(line);
        if (line.empty()) return done({});
        if (line == ":interrupt") {
            auto request =
                tether::make_control_request(tether::make_request_id(), json::object{{"subtype", "interrupt"}});
            client_.async_send(json::value(std::move(request)), done);
            return;
        }
        tether::error_code ec;
        json::parse(line, ec);
        if (ec) {
            emit_event({{"event", "error"},
                        {"message", "line " + std::to_string(number) + ": invalid JSON, not sent: " + ec.message()}});
            return line_slots_.release();
        }
        client_.async_send(std::string(line), done);
    }

    void on_eof()
    {
        // Wait for a link first, so that `echo '{...}' | tether-cat URL` delivers its input rather
        // than closing an attempt still under way. If the policy gives up instead, `finished` exits.
        client_.async_connect([this](tether::error_code ec) {
            if (!ec) client_.async_close([](tether::error_code) {});
        });
    }

    void finished(tether::error_code ec)
    {
        if (!ec) {
            emit_event({{"event", "closed"}, {"reason", "closed by us"}, {"code", 1000}});
            exit_code_ = exit_closed;
        } else {
            exit_code_ = tether::is_permanent(ec) || permanent_ ? exit_permanent : exit_gave_up;
        }
        io_.stop();  // lines still arriving from stdin have nowhere to go
    }

    bool stats_;
    asio::io_context io_;
    tether::client client_;
    bool permanent_ = false;
    int exit_code_ = exit_internal;
    std::atomic<bool> reader_done_{false};
    // Lines read but not yet sent. Bounding them (below send_queue_capacity) makes the reader wait
    // for the link instead of overflowing the send queue when stdin is faster than the network.
    static constexpr std::ptrdiff_t max_lines_in_flight = 256;
    std::counting_semaphore<max_lines_in_flight> line_slots_{max_lines_in_flight};
};

}  // namespace

int main(int argc, char** argv)
{
    std::ios::sync_with_stdio(false);  // stdin is read with iostreams only, output uses stdio
    std::cin.tie(nullptr);
    std::optional<cat> tool;
    try {
        const options o = parse_args(argc, argv);
        if (o.help) {
            std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
            return 0;
        }
        tool.emplace(make_config(o), o.stats);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "tether-cat: %s\n", e.what());
        if (dynamic_cast<const usage_error*>(&e)) std::fprintf(stderr, "Try 'tether-cat --help'.\n");
        return exit_usage;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tether-cat: %s\n", e.what());
        return exit_internal;
    }
    return tool->run();
}
