// tether-cat: a WebSocket client for the command line. Lines from stdin go out as messages (JSON
// by default, or raw text, or base64 for binary), messages come out on stdout one per line in the
// same form, lifecycle events go to stderr as JSON lines.
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

#include <openssl/evp.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
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

Connects to URL (ws:// or wss://), sends each line of stdin as a message and prints each message
it receives to stdout, one per line. By default lines are JSON values sent as text frames, and
what comes out is every JSON object with a string "type", from text or binary frames, as compact
JSON. Lifecycle events go to stderr as JSON lines. End of input flushes queued sends and closes
with 1000.

modes (the default is JSON):
  --text                    each line goes out as a text frame as it is (a CR included), with no
                            JSON check; a line that is not UTF-8 is reported and not sent. Every
                            text message comes out as it is, one per line; a text message with a
                            newline in it is refused (not printed: it would read as two), and
                            binary messages are not printed. Both are reported.
  --binary                  each line is base64 (RFC 4648, standard alphabet, padded; white space
                            around it, a CR too, ignored) and goes out as one binary frame; an
                            invalid line is reported and not sent. Every binary message comes out
                            in base64, one per line; text messages are not printed, and are
                            reported.
  --send-file FILE          first, send the whole of FILE as one binary message, then read stdin
                            as the mode says; FILE '-' takes all of stdin, and its end closes
In --text and --binary every line is a message, a blank one too, and ':interrupt' is not special.

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

stdin (JSON mode): a blank line is skipped; an invalid JSON line is reported and not sent; the
line ':interrupt' sends the control request {"subtype":"interrupt"}.

messages not printed: each is reported on stderr as it comes ({"event":"error",...}), and at exit
one line counts them by reason, when there were any:
  {"event":"ignored","count":N,"reasons":{REASON:N,...}}, REASON one of
    untyped_json           JSON mode: JSON text, but not an object with a string "type"
    malformed_json         JSON mode: text that is not JSON
    binary_not_typed_json  JSON mode: binary, but not a JSON object with a string "type"
    binary_in_text_mode    --text: a binary message
    newline_in_text        --text: a text message with a newline in it
    text_in_binary_mode    --binary: a text message
(untyped JSON text is the one not reported as it comes: servers send it as "not for you".)

exit status: 0 closed at end of input; 3 the reconnect policy gave up; 4 permanent rejection
(close 4003, HTTP 401/403, a refused certificate, proxy 407); 2 usage or configuration error
(an unreadable --send-file too).
)";

struct usage_error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// What a line of stdin is, and what a message printed on stdout is.
enum class io_mode {
    json,    // JSON values as text frames; typed JSON objects out
    text,    // text frames as they are
    binary,  // binary frames, in base64
};

struct options {
    std::string url;
    io_mode mode = io_mode::json;
    std::optional<std::string> send_file;
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

// Well-formed UTF-8 (RFC 3629): what a text frame must carry. Checked before sending, so that a
// stray line fails alone instead of having the server close the connection with 1007.
bool is_utf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;                   // continuation bytes
        unsigned char lo = 0x80, hi = 0xBF;  // the range of the first continuation byte
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;  // not overlong
            if (c == 0xED) hi = 0x9F;  // not a surrogate
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;  // not overlong
            if (c == 0xF4) hi = 0x8F;  // not above U+10FFFF
        } else {
            return false;
        }
        if (s.size() - i <= n) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
        }
        i += n + 1;
    }
    return true;
}

// Base64 by OpenSSL's codec, linked for TLS anyway: one line per message, no line breaks inside.
std::string to_base64(std::string_view data)
{
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');  // and a NUL after them
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// The bytes of a base64 line, or nothing when it is not base64. Checked here first: OpenSSL's
// decoder takes '=' anywhere and cannot say how much padding there was.
std::optional<std::string> from_base64(std::string_view text)
{
    text = trim(text);
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    for (const char c : text.substr(0, text.size() - pad)) {
        const bool alphabet =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!alphabet) return std::nullopt;
    }
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n) - pad);  // the decoder counts the padding as zero bytes
    return out;
}

// The whole of `path` ('-': of stdin). Throws std::invalid_argument, a configuration error.
std::string read_file(const std::string& path)
{
    if (path == "-") return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("--send-file: cannot open " + path + ": " + std::strerror(errno));
    std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw std::invalid_argument("--send-file: cannot read " + path);
    return content;
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
        if (arg == "--text" || arg == "--binary") {
            const io_mode m = arg == "--text" ? io_mode::text : io_mode::binary;
            if (o.mode != io_mode::json && o.mode != m) throw usage_error("--text and --binary exclude each other");
            o.mode = m;
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
        else if (name == "--send-file")
            o.send_file = value();
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

void write_line(std::FILE* f, std::string_view line)
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

// Why a message was not printed: the keys of the "ignored" line at exit.
struct ignored_counts {
    std::uint64_t binary_in_text_mode = 0;
    std::uint64_t newline_in_text = 0;
    std::uint64_t text_in_binary_mode = 0;
};

// The "ignored" line: the JSON layer's skips from the client's counters, the modes' own from
// `own`; nothing when nothing was ignored.
std::optional<json::object> ignored_report(const tether::client_stats& s, const ignored_counts& own)
{
    const std::pair<const char*, std::uint64_t> reasons[] = {
        {"untyped_json", s.messages_ignored},
        {"malformed_json", s.messages_malformed},
        {"binary_not_typed_json", s.messages_binary_skipped},
        {"binary_in_text_mode", own.binary_in_text_mode},
        {"newline_in_text", own.newline_in_text},
        {"text_in_binary_mode", own.text_in_binary_mode},
    };
    json::object by_reason;
    std::uint64_t total = 0;
    for (const auto& [reason, n] : reasons) {
        if (n == 0) continue;
        by_reason[reason] = n;
        total += n;
    }
    if (total == 0) return std::nullopt;
    return json::object{{"event", "ignored"}, {"count", total}, {"reasons", std::move(by_reason)}};
}

// The running tool. Everything except the stdin reader runs on the io_context's one thread, so
// the members need no locks.
class cat {
public:
    cat(tether::client_config cfg, io_mode mode, bool stats, std::optional<std::string> file)
        : mode_(mode), stats_(stats), file_(std::move(file)), client_(io_.get_executor(), std::move(cfg), callbacks())
    {
    }

    int run()
    {
        client_.async_run([this](tether::error_code ec) { finished(ec); });
        if (file_) {
            // Queued before the reader starts, so it goes out before the first line.
            tether::message m{tether::message_kind::binary, std::move(*file_)};
            client_.async_send(std::move(m), [](tether::error_code ec) {
                if (ec) emit_event({{"event", "error"}, {"message", "--send-file: not sent: " + ec.message()}});
            });
        }
        std::thread reader([this] { read_stdin(); });
        try {
            io_.run();
        } catch (const std::exception& e) {
            emit_event({{"event", "error"}, {"message", std::string("internal error: ") + e.what()}});
            exit_code_ = exit_internal;
        }
        const tether::client_stats s = client_.stats();
        if (auto report = ignored_report(s, ignored_)) emit_event(std::move(*report));
        if (stats_)
            emit_event(
                {{"event", "stats"}, {"stats", json::value_from(s)}, {"history", json::value_from(client_.history())}});
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
    tether::client_callbacks callbacks()
    {
        tether::client_callbacks cb{
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
            // Malformed JSON and binary messages the JSON layer skips come here too, one by one.
            .on_error =
                [](tether::error_code, const std::string& what) {
                    emit_event({{"event", "error"}, {"message", what}});
                },
        };
        // JSON mode takes the JSON layer's messages; the raw modes every message as it came.
        if (mode_ == io_mode::json)
            cb.on_message = [](const json::value& m) { write_line(stdout, json::serialize(m)); };
        else
            cb.on_raw_message = [this](const tether::message_view& m) { print(m); };
        return cb;
    }

    void print(const tether::message_view& m)
    {
        const bool binary = m.kind == tether::message_kind::binary;
        const char* refused = nullptr;
        if (mode_ == io_mode::text && binary) {
            ++ignored_.binary_in_text_mode;
            refused = "--text prints text messages only (try --binary)";
        } else if (mode_ == io_mode::text && m.payload.find('\n') != std::string_view::npos) {
            ++ignored_.newline_in_text;
            refused = "--text refuses a text message with a newline in it (try --binary)";
        } else if (mode_ == io_mode::binary && !binary) {
            ++ignored_.text_in_binary_mode;
            refused = "--binary prints binary messages only (try --text)";
        }
        if (refused) {
            emit_event({{"event", "error"},
                        {"message", std::string(tether::to_string(m.kind)) + " message of " +
                                        std::to_string(m.payload.size()) + " bytes not printed: " + refused}});
            return;
        }
        if (binary)
            write_line(stdout, to_base64(m.payload));
        else
            write_line(stdout, m.payload);
    }

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
        auto refuse = [this, number](const std::string& why) {
            emit_event({{"event", "error"}, {"message", "line " + std::to_string(number) + ": " + why}});
            line_slots_.release();
        };
        if (mode_ == io_mode::text) {
            if (!is_utf8(line)) return refuse("not UTF-8, not sent");
            client_.async_send(tether::message{tether::message_kind::text, std::string(line)}, done);
            return;
        }
        if (mode_ == io_mode::binary) {
            auto bytes = from_base64(line);
            if (!bytes) return refuse("invalid base64, not sent");
            client_.async_send(tether::message{tether::message_kind::binary, std::move(*bytes)}, done);
            return;
        }
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
        if (ec) return refuse("invalid JSON, not sent: " + ec.message());
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

    io_mode mode_;
    bool stats_;
    std::optional<std::string> file_;  // --send-file's content, until it is queued
    ignored_counts ignored_;
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
        std::optional<std::string> file;
        if (o.send_file) file = read_file(*o.send_file);
        tool.emplace(make_config(o), o.mode, o.stats, std::move(file));
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
