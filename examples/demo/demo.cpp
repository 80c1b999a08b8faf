// tether-demo: the "tunnel problem", told end to end on 127.0.0.1.
//
// An embedded sessions server (tether's testing kit) misbehaves the way real networks and servers
// do: a Wi-Fi flicker, a restart, compaction (close 4001), a half-open link, and finally a revoked
// authorisation (close 4003). A tether::sessions_client rides through all of it, and every event
// lands on one timeline. The program exits 0 only when each phase was observed and the story ended
// on close 4003, so it doubles as an end-to-end check (`meson test demo`).
//
// One thread runs the io_context, so the server script, the client's callbacks and the timeline
// share state without locks.
#include <tether/sessions.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using tether::testing::server_connection;
using tether::testing::test_server;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Production numbers divided by ten, so that the story takes seconds rather than a minute.
constexpr milliseconds retry_delay = 200ms;    // the seed policy's 2 s
constexpr milliseconds ping_interval = 300ms;  // a production client would ping every 30 s
constexpr milliseconds pong_timeout = 300ms;   // and wait 10 s for an answer
constexpr milliseconds control_timeout = 3s;   // the sessions profile's 30 s
// The pace of the streamed first turn; it ends before the first ping, so the heartbeat stays out
// of the Wi-Fi phase.
constexpr milliseconds typing_pace = 60ms;
// A safety net only: the story takes a few seconds; if it hangs, fail instead of waiting forever.
constexpr auto story_limit = 30s;

// The script, by upgrade request (= established connection). Refused attempts never reach it.
namespace scene {
constexpr unsigned flicker = 1;     // stream a turn, then the Wi-Fi drops the link
constexpr unsigned restart = 2;     // one message, then the server restarts
constexpr unsigned compaction = 3;  // this one and the next: close 4001, session not found
constexpr unsigned half_open = 5;   // one message, then silence: pings go unanswered
constexpr unsigned control = 6;     // a healthy link: an interrupt and its control_response
constexpr unsigned revoked = 7;     // close 4003: the client must stop for good
}  // namespace scene

constexpr unsigned first_turn_messages = 4;  // what the flicker scene streams

// --- the session messages the server sends, shaped like the sessions API's --------------------

std::string assistant_says(std::string_view text)
{
    json::object block{{"type", "text"}, {"text", text}};
    json::array content;
    content.push_back(std::move(block));
    json::object message{{"role", "assistant"}, {"content", std::move(content)}};
    return json::serialize(json::object{{"type", "assistant"}, {"message", std::move(message)}});
}

std::string user_says(std::string_view text)
{
    json::object message{{"role", "user"}, {"content", text}};
    return json::serialize(json::object{{"type", "user"}, {"message", std::move(message)}});
}

std::string turn_result(std::string_view text)
{
    return json::serialize(json::object{{"type", "result"}, {"subtype", "success"}, {"result", text}});
}

std::string system_status(std::string_view text)
{
    return json::serialize(json::object{{"type", "system"}, {"subtype", "status"}, {"status", text}});
}

std::string control_response_to(std::string_view request_id)
{
    json::object response{{"subtype", "success"}, {"request_id", request_id}};
    return json::serialize(json::object{{"type", "control_response"}, {"response", std::move(response)}});
}

std::vector<std::string> first_turn()
{
    return {user_says("Why did last night's deploy fail?"), assistant_says("Reading the CI log of the nightly run."),
            assistant_says("The database migration timed out after 10 minutes."),
            turn_result("Found it: the migration step needs a longer timeout.")};
}

// --- small helpers -----------------------------------------------------------------------------

// A string member of a JSON object, or "" when absent or not a string.
std::string string_at(const json::value& v, std::string_view key)
{
    const auto* object = v.if_object();
    if (!object) return {};
    const auto* member = object->if_contains(key);
    if (!member || !member->is_string()) return {};
    return std::string(member->get_string());
}

// A session message on one line: its type and the first text it carries.
std::string summarize(const json::value& m)
{
    std::string text;
    if (const auto* message = m.as_object().if_contains("message")) {
        text = string_at(*message, "content");
        const auto* content = message->is_object() ? message->get_object().if_contains("content") : nullptr;
        if (text.empty() && content && content->is_array() && !content->get_array().empty())
            text = string_at(content->get_array().front(), "text");
    }
    if (text.empty()) text = string_at(m, "result");
    if (text.empty()) text = string_at(m, "status");
    return string_at(m, "type") + ": \"" + text + '"';
}

// "Bearer token-7" -> "#7": the timeline shows which token an attempt used, never a token.
std::string token_number(std::string_view authorization)
{
    const auto dash = authorization.rfind('-');
    if (dash == std::string_view::npos) return "#?";
    return "#" + std::string(authorization.substr(dash + 1));
}

std::string to_ms(milliseconds d)
{
    return std::to_string(d.count()) + " ms";
}

// How the summary groups retries: "close 4001", "HTTP 503", or the stage ("transport", "connect").
std::string reason_key(const tether::disconnect& d)
{
    if (d.kind == tether::disconnect_kind::close_frame) return "close " + std::to_string(d.close_code);
    if (d.kind == tether::disconnect_kind::http_status) return "HTTP " + std::to_string(d.http_status);
    return std::string(tether::to_string(d.kind));
}

// Lets the server script wait for what the client has shown (messages seen, attempts refused), so
// that the order of the story never depends on timing. Waits end early once the story is over.
class progress {
public:
    explicit progress(asio::any_io_executor ex) : ex_(std::move(ex)) {}

    // Something changed: every waiter re-checks its condition.
    void notify()
    {
        for (auto* timer : waiting_) timer->cancel();
    }

    // The story has ended; nobody waits any longer.
    void end()
    {
        over_ = true;
        notify();
    }

    bool over() const noexcept { return over_; }

    asio::awaitable<void> wait_until(std::function<bool()> done)
    {
        asio::steady_timer timer(ex_, clock_type::time_point::max());
        waiting_.push_back(&timer);
        struct unregister {
            std::vector<asio::steady_timer*>& list;
            asio::steady_timer* timer;
            ~unregister() { std::erase(list, timer); }
        } guard{waiting_, &timer};
        while (!over_ && !done()) {
            // Completes only when notify() cancels it.
            auto [ec] = co_await timer.async_wait(use_tuple);
            (void)ec;
        }
    }

private:
    asio::any_io_executor ex_;
    std::vector<asio::steady_timer*> waiting_;
    bool over_ = false;
};

// --- the demo ----------------------------------------------------------------------------------

class demo {
public:
    explicit demo(asio::io_context& ioc)
        : ioc_(ioc), progress_(ioc.get_executor()),
          server_(ioc.get_executor(), [this](server_connection& c) { return serve(c); }),
          session_(ioc.get_executor(), make_config(), make_callbacks(), control_timeout), watchdog_(ioc.get_executor())
    {
    }

    void start()
    {
        std::cout << "tether demo: the tunnel problem\n"
                  << "times are scaled 1:10 (retry 2 s -> " << to_ms(retry_delay) << ", ping 30 s -> "
                  << to_ms(ping_interval) << ", pong timeout 10 s -> " << to_ms(pong_timeout) << ")\n\n";
        log("start", "sessions client for session " + session_id_ + " at " + url_);
        watchdog_.expires_after(story_limit);
        watchdog_.async_wait([this](tether::error_code ec) {
            if (ec) return;  // cancelled: the story finished
            log("FAILED", "the story did not finish within 30 s");
            print_summary(session_.connection().stats());
            std::cout << std::flush;
            // A hung story cannot be unwound politely: its coroutines wait on each other.
            std::_Exit(1);
        });
        session_.connection().async_run([this](tether::error_code ec) { on_finished(ec); });
    }

    // Prints the summary (and draws the timeline into `svg`, when given); returns the exit status.
    int report(const std::string& svg = {})
    {
        const tether::client_stats stats = session_.connection().stats();
        print_summary(stats);
        print_history(session_.connection().history());
        if (!svg.empty()) {
            if (!write_svg(svg, session_.connection().history())) {
                std::cout << "\nresult: FAILED (cannot write " << svg << ")\n";
                return 1;
            }
            std::cout << "\ntimeline drawn in " << svg << '\n';
        }
        const auto failures = check_story(stats);
        if (failures.empty()) {
            std::cout << "\nresult: the story ended as designed (all 6 phases observed)\n";
            return 0;
        }
        std::cout << "\nresult: FAILED\n";
        for (const auto& f : failures) std::cout << "  - " << f << '\n';
        return 1;
    }

private:
    // --- the client ----------------------------------------------------------------------------

    tether::client_config make_config()
    {
        tether::sessions_options options{
            .base_url = "http://127.0.0.1:" + std::to_string(server_.port()),
            .session_id = session_id_,
            .organization_id = "org-demo-7",
            // A fresh token for every attempt, as an OAuth refresh would hand out.
            .token_provider = [this] { return "token-" + std::to_string(++tokens_issued_); },
        };
        tether::client_config config = tether::make_sessions_config(options);
        config.ping_interval = ping_interval;
        config.pong_timeout = pong_timeout;
        config.policy = tether::seed_policy{.delay = retry_delay, .jitter = 0};  // the timeline checks exact delays
        url_ = config.url;
        return config;
    }

    tether::client_callbacks make_callbacks()
    {
        return {
            .on_message = [this](const json::value& m) { on_message(m); },
            .on_connected = [this](unsigned attempt) { on_connected(attempt); },
            .on_reconnecting = [this](const tether::reconnect_event& e) { on_reconnecting(e); },
            .on_close = [this](const tether::disconnect& d) { on_close(d); },
            .on_error = [this](tether::error_code, const std::string& what) { log("error", what); },
        };
    }

    void on_connected(unsigned attempt)
    {
        ++connections_seen_;
        log("connected", "link #" + std::to_string(connections_seen_) + ", attempt " + std::to_string(attempt));
    }

    void on_message(const json::value& m)
    {
        ++messages_seen_;
        last_message_at_ = clock_type::now();
        log("message", summarize(m));
        progress_.notify();
        // On the healthy link, the user interrupts the running turn.
        if (connections_seen_ == scene::control && !control_sent_) send_interrupt();
    }

    void on_reconnecting(const tether::reconnect_event& e)
    {
        retries_.push_back({e, messages_seen_});
        if (e.reason.kind == tether::disconnect_kind::heartbeat_timeout) {
            const auto silent = std::chrono::duration<double>(clock_type::now() - last_message_at_).count();
            std::ostringstream detail;
            detail << std::fixed << std::setprecision(3) << "dead link detected " << silent
                   << " s after the last frame (ping " << to_ms(ping_interval) << " + pong timeout "
                   << to_ms(pong_timeout) << ")";
            log("heartbeat", detail.str());
        }
        log("reconnecting",
            "attempt " + std::to_string(e.attempt) + " in " + to_ms(e.delay) + ": " + tether::describe(e.reason));
        progress_.notify();
    }

    void on_close(const tether::disconnect& d)
    {
        final_reason_ = d;
        log("closed", tether::describe(d) + ": the policy stops, no retry");
    }

    void send_interrupt()
    {
        control_sent_ = true;
        log("control", "sending control_request interrupt (async_control_request)");
        json::object request{{"subtype", "interrupt"}};
        session_.async_control_request(std::move(request), [this](tether::error_code ec, json::value response) {
            if (ec) {
                log("control", "no control_response: " + ec.message());
                return;
            }
            const auto& body = response.as_object().at("response");
            control_answered_ = string_at(body, "subtype") == "success";
            log("control", "control_response " + string_at(body, "subtype") + " for request " +
                               string_at(body, "request_id").substr(0, 8) + " (matched on request_id)");
            progress_.notify();
        });
    }

    void on_finished(tether::error_code ec)
    {
        run_result_ = ec;
        log("finished", "async_run completed: " + ec.message());
        total_time_ = clock_type::now() - started_;
        // The story is over: release the server script, and stop the server so that the silent
        // connection of the half-open scene ends too; then the io_context runs out of work.
        progress_.end();
        server_.stop();
        watchdog_.cancel();
    }

    // --- the server script ---------------------------------------------------------------------

    asio::awaitable<void> serve(server_connection& c)
    {
        const unsigned n = ++upgrades_;
        const std::string link =
            "upgrade #" + std::to_string(n) + " with token " + token_number(c.request().header_value("Authorization"));
        switch (n) {
        case scene::flicker: co_await stream_then_flicker(c, link); break;
        case scene::restart: co_await restart(c, link); break;
        case scene::compaction:
        case scene::compaction + 1: co_await compaction(c, link); break;
        case scene::half_open: co_await go_silent(c, link); break;
        case scene::control: co_await answer_control(c, link); break;
        default: co_await revoke(c, link); break;
        }
    }

    // 1. A turn streams in; then the Wi-Fi flickers and the link is gone, without a close frame.
    asio::awaitable<void> stream_then_flicker(server_connection& c, std::string link)
    {
        log("server", link + ": accept, stream a turn");
        const auto accepted = co_await c.async_accept();
        if (accepted) co_return;
        const auto turn = first_turn();
        asio::steady_timer pace(ioc_);
        for (const auto& text : turn) {
            const auto sent = co_await c.async_send(text);
            if (sent) co_return;
            pace.expires_after(typing_pace);
            co_await pace.async_wait(use_tuple);
        }
        // Drop only once the client has shown the whole turn, so the story's order is fixed.
        co_await progress_.wait_until([this] { return messages_seen_ >= first_turn_messages; });
        if (progress_.over()) co_return;
        log("server", "Wi-Fi flicker: the TCP link drops (no close frame)");
        c.drop();
    }

    // 2. The server restarts: it stops listening until two attempts were refused, then comes back.
    asio::awaitable<void> restart(server_connection& c, std::string link)
    {
        log("server", link + ": accept");
        const auto accepted = co_await c.async_accept();
        if (accepted) co_return;
        const auto sent = co_await c.async_send(system_status("reconnected; the turn is complete"));
        if (sent) co_return;
        const unsigned seen_before = messages_seen_;
        co_await progress_.wait_until([this, seen_before] { return messages_seen_ > seen_before; });
        if (progress_.over()) co_return;

        log("server", "restarting: stops listening, every link dropped");
        server_.stop();
        co_await progress_.wait_until([this] { return refused_attempts() >= 2; });
        if (progress_.over()) co_return;
        server_.start();
        log("server", "back up on port " + std::to_string(server_.port()));
    }

    // 3. Compaction: the session is briefly unknown.
    asio::awaitable<void> compaction(server_connection& c, std::string link)
    {
        log("server", link + ": compaction in progress -> close 4001");
        const auto accepted = co_await c.async_accept();
        if (accepted) co_return;
        co_await c.async_close(4001, "session not found");
    }

    // 4. A half-open link: one message (so the link counts as healthy), then nothing at all.
    asio::awaitable<void> go_silent(server_connection& c, std::string link)
    {
        log("server", link + ": accept, one message, then silence (pings go unanswered)");
        const auto accepted = co_await c.async_accept();
        if (accepted) co_return;
        const auto sent = co_await c.async_send(system_status("session restored after compaction"));
        if (sent) co_return;
        // Silent until the story ends: only the client's heartbeat can notice.
        co_await c.async_stay_silent(story_limit);
    }

    // 5. A healthy link: answer the client's interrupt, then close 1012 for a rolling deploy.
    asio::awaitable<void> answer_control(server_connection& c, std::string link)
    {
        log("server", link + ": accept, resume the session");
        const auto accepted = co_await c.async_accept();
        if (accepted) co_return;
        const auto sent = co_await c.async_send(assistant_says("Rerunning the migration with a 30 minute timeout."));
        if (sent) co_return;
        for (;;) {
            // async_receive also answers the client's pings while it waits.
            const auto text = co_await c.async_receive();
            if (!text) co_return;
            json::error_code parse_error;
            const json::value request = json::parse(*text, parse_error);
            if (parse_error || string_at(request, "type") != "control_request") continue;
            const std::string id = string_at(request, "request_id");
            log("server", "control_request " + string_at(request.at("request"), "subtype") + " (request " +
                              id.substr(0, 8) + ") -> control_response success");
            const auto answered = co_await c.async_send(control_response_to(id));
            if (answered) co_return;
            break;
        }
        co_await progress_.wait_until([this] { return control_answered_; });
        if (progress_.over()) co_return;
        log("server", "rolling deploy: close 1012");
        co_await c.async_close(1012, "service restart");
    }

    // 6. The authorisation was revoked: close 4003, and the client must not retry.
    asio::awaitable<void> revoke(server_connection& c, std::string link)
    {
        log("server", link + ": authorisation revoked -> close 4003");
        const auto accepted = co_await c.async_accept();
        if (accepted) co_return;
        co_await c.async_close(4003, "unauthorized");
    }

    // --- the timeline and the verdict ----------------------------------------------------------

    void log(std::string_view event, const std::string& detail)
    {
        const double t = std::chrono::duration<double>(clock_type::now() - started_).count();
        std::ostringstream line;
        line << '+' << std::fixed << std::setprecision(3) << t << "s  " << std::left << std::setw(13) << event << ' '
             << detail << '\n';
        std::cout << line.str() << std::flush;  // flushed, so the story can be watched as it happens
    }

    unsigned refused_attempts() const
    {
        return static_cast<unsigned>(std::count_if(retries_.begin(), retries_.end(), [](const retry& r) {
            return r.event.reason.kind == tether::disconnect_kind::connect;
        }));
    }

    void print_summary(const tether::client_stats& stats)
    {
        std::vector<std::pair<std::string, unsigned>> per_reason;  // in order of first appearance
        for (const auto& r : retries_) {
            const std::string key = reason_key(r.event.reason);
            auto it = std::find_if(per_reason.begin(), per_reason.end(), [&](const auto& p) { return p.first == key; });
            if (it == per_reason.end())
                per_reason.emplace_back(key, 1);
            else
                ++it->second;
        }
        std::string retries = std::to_string(retries_.size()) + " (";
        for (std::size_t i = 0; i < per_reason.size(); ++i)
            retries += (i ? ", " : "") + per_reason[i].first + " x" + std::to_string(per_reason[i].second);
        retries += ")";

        const auto total = total_time_.count() > 0 ? total_time_ : clock_type::now() - started_;
        std::ostringstream seconds;
        seconds << std::fixed << std::setprecision(3) << std::chrono::duration<double>(total).count() << " s";

        auto row = [](std::string_view name, const std::string& value) {
            std::cout << "  " << std::left << std::setw(20) << name << value << '\n';
        };
        std::cout << "\nsummary\n";
        row("connections", std::to_string(stats.connections));
        row("attempts", std::to_string(stats.attempts) + " (tokens handed out: " + std::to_string(tokens_issued_) +
                            ", one per attempt)");
        row("retries", retries);
        row("messages received", std::to_string(stats.messages_received) + " (" + std::to_string(messages_seen_) +
                                     " shown, the rest answered a request)");
        row("heartbeat timeouts", std::to_string(stats.heartbeat_timeouts));
        row("final reason", final_reason_ ? tether::describe(*final_reason_) : std::string("none"));
        row("total time", seconds.str());
    }

    // The client's own record of each attempt: client.history().
    void print_history(const std::vector<tether::connection_record>& history) const
    {
        auto since_start = [this](std::chrono::system_clock::time_point t) {
            return std::chrono::duration_cast<std::chrono::milliseconds>(t - started_wall_).count();
        };
        std::cout << "\nhistory (client.history(): times in ms since the start)\n";
        std::cout << "  " << std::left << std::setw(3) << "try" << std::right << std::setw(8) << "started"
                  << std::setw(10) << "connected" << std::setw(8) << "ended" << std::setw(9) << "msgs in"
                  << std::setw(9) << "bytes in" << std::setw(10) << "bytes out" << std::setw(9) << "rtt avg"
                  << std::setw(7) << "next"
                  << "  why\n";
        for (const auto& r : history) {
            const bool connected = r.connected != std::chrono::system_clock::time_point{};
            std::ostringstream rtt;
            if (r.rtt.samples > 0)
                rtt << std::fixed << std::setprecision(1) << static_cast<double>(r.rtt.avg.count()) / 1000 << "ms";
            else
                rtt << "-";
            std::cout << "  " << std::left << std::setw(3) << r.attempt << std::right << std::setw(8)
                      << since_start(r.started) << std::setw(10)
                      << (connected ? std::to_string(since_start(r.connected)) : std::string("-")) << std::setw(8)
                      << since_start(r.ended) << std::setw(9) << r.messages_received << std::setw(9) << r.bytes_received
                      << std::setw(10) << r.bytes_sent << std::setw(9) << rtt.str() << std::setw(7)
                      << (r.delay ? std::to_string(r.delay->count()) : std::string("stop")) << "  "
                      << tether::describe(r.why) << '\n';
        }
    }

    // The timeline as a picture: a row per attempt, a tick where it started, a bar while it was
    // connected, and a label saying why it ended and what the policy chose next. False when the
    // file cannot be written.
    bool write_svg(const std::string& path, const std::vector<tether::connection_record>& history) const
    {
        auto ms = [this](std::chrono::system_clock::time_point t) {
            return static_cast<double>(std::chrono::duration_cast<milliseconds>(t - started_wall_).count());
        };
        auto escaped = [](std::string_view text) {
            std::string out;
            for (const char c : text) {
                switch (c) {
                case '&': out += "&amp;"; break;
                case '<': out += "&lt;"; break;
                case '>': out += "&gt;"; break;
                case '"': out += "&quot;"; break;
                default: out += c;
                }
            }
            return out;
        };
        double end_ms = 1000;
        for (const auto& r : history) end_ms = std::max(end_ms, ms(r.ended));
        const double scale_ms = std::ceil(end_ms / 1000) * 1000;  // the axis, in whole seconds
        constexpr double left = 70, plot = 640, label_room = 380, row = 24, top = 50;
        const double width = left + plot + label_room, height = top + row * static_cast<double>(history.size()) + 40;
        auto x = [&](double t) { return left + plot * t / scale_ms; };

        std::ostringstream svg;
        svg << std::fixed << std::setprecision(1);
        svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
            << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
            << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            << "<text x=\"" << left
            << "\" y=\"20\" font-size=\"14\" font-weight=\"bold\">tether demo: the tunnel "
               "problem (times scaled 1:10)</text>\n"
            << "<text x=\"" << left
            << "\" y=\"36\" fill=\"#555\">a tick: an attempt starts; a bar: connected; "
               "then why it ended, and the wait the policy chose</text>\n";
        // The time axis: a line a second, labelled.
        for (double t = 0; t <= scale_ms; t += 1000) {
            svg << "<line x1=\"" << x(t) << "\" y1=\"" << top - 6 << "\" x2=\"" << x(t) << "\" y2=\"" << height - 30
                << "\" stroke=\"#ddd\"/>\n"
                << "<text x=\"" << x(t) << "\" y=\"" << height - 14 << "\" text-anchor=\"middle\" fill=\"#555\">"
                << t / 1000 << " s</text>\n";
        }
        for (std::size_t i = 0; i < history.size(); ++i) {
            const auto& r = history[i];
            const double y = top + row * static_cast<double>(i);
            const bool connected = r.connected != std::chrono::system_clock::time_point{};
            svg << "<text x=\"" << left - 8 << "\" y=\"" << y + 15 << "\" text-anchor=\"end\">#" << i + 1
                << "</text>\n";
            svg << "<line class=\"attempt\" x1=\"" << x(ms(r.started)) << "\" y1=\"" << y + 2 << "\" x2=\""
                << x(ms(r.started)) << "\" y2=\"" << y + row - 4 << "\" stroke=\"#333\" stroke-width=\"2\"/>\n";
            if (connected) {
                const double from = x(ms(r.connected)), to = std::max(x(ms(r.ended)), from + 2);
                svg << "<rect class=\"connection\" x=\"" << from << "\" y=\"" << y + 5 << "\" width=\"" << to - from
                    << "\" height=\"" << row - 10 << "\" fill=\"" << (r.healthy ? "#2ca02c" : "#98df8a")
                    << "\" rx=\"2\"/>\n";
            }
            const std::string next = r.delay ? ", next in " + to_ms(*r.delay) : std::string(", stop");
            const std::string why = tether::describe(r.why) + next;
            const bool final_stop = !r.delay;
            svg << "<text class=\"reason\" x=\"" << std::max(x(ms(r.ended)), x(ms(r.started))) + 6 << "\" y=\""
                << y + 15 << "\" fill=\"" << (final_stop ? "#d62728" : "#333") << "\">" << escaped(why) << "</text>\n";
        }
        svg << "</svg>\n";
        std::ofstream out(path);
        out << svg.str();
        return static_cast<bool>(out.flush());
    }

    // Each phase, as the client saw it. Empty when the story ended as designed.
    std::vector<std::string> check_story(const tether::client_stats& stats) const
    {
        std::vector<std::string> failures;
        auto expect = [&failures](bool ok, std::string what) {
            if (!ok) failures.push_back(std::move(what));
        };
        auto retries_for = [this](tether::disconnect_kind kind, std::uint16_t code = 0) {
            std::vector<retry> out;
            for (const auto& r : retries_)
                if (r.event.reason.kind == kind && r.event.reason.close_code == code) out.push_back(r);
            return out;
        };

        expect(!retries_.empty() && retries_.front().event.reason.kind == tether::disconnect_kind::transport &&
                   retries_.front().messages_before >= first_turn_messages,
               "1. flicker: the streamed turn, then a transport failure and a retry");
        expect(refused_attempts() == 2 && connections_seen_ >= scene::compaction,
               "2. restart: two refused attempts, then connected again");
        const auto not_found = retries_for(tether::disconnect_kind::close_frame, 4001);
        expect(not_found.size() == 2 && not_found[0].event.delay == retry_delay &&
                   not_found[1].event.delay == 2 * retry_delay,
               "3. compaction: two close 4001 retries, after 1 x and 2 x the delay");
        expect(retries_for(tether::disconnect_kind::heartbeat_timeout).size() == 1 && stats.heartbeat_timeouts == 1,
               "4. half-open: one dead link found by the heartbeat");
        expect(control_answered_, "5. control: the interrupt answered by a matching control_response");
        expect(final_reason_ && final_reason_->close_code == 4003 && run_result_ == tether::error::unauthorized,
               "6. revoked: close 4003 ends the client (async_run reports unauthorized)");
        return failures;
    }

    // One retry as on_reconnecting reported it, with the number of messages shown before it.
    struct retry {
        tether::reconnect_event event;
        unsigned messages_before = 0;
    };

    asio::io_context& ioc_;
    const clock_type::time_point started_ = clock_type::now();
    const std::chrono::system_clock::time_point started_wall_ = std::chrono::system_clock::now();
    const std::string session_id_ = "session-demo-42";
    std::string url_;
    progress progress_;
    test_server server_;  // before the client: the client's URL needs its port
    tether::sessions_client session_;
    asio::steady_timer watchdog_;

    // What the server script has done.
    unsigned upgrades_ = 0;
    // What the client has shown.
    unsigned tokens_issued_ = 0;
    unsigned connections_seen_ = 0;
    unsigned messages_seen_ = 0;
    clock_type::time_point last_message_at_ = started_;
    std::vector<retry> retries_;
    bool control_sent_ = false;
    bool control_answered_ = false;
    std::optional<tether::disconnect> final_reason_;
    tether::error_code run_result_;
    clock_type::duration total_time_{0};
};

}  // namespace

int main(int argc, char** argv)
{
    std::string svg;  // --svg FILE: the timeline drawn as a picture too
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--svg" && i + 1 < argc) {
            svg = argv[++i];
        } else {
            std::cerr << "usage: tether-demo [--svg FILE]\n";
            return 2;
        }
    }
    try {
        asio::io_context ioc;
        demo story(ioc);
        story.start();
        ioc.run();
        return story.report(svg);
    } catch (const std::exception& e) {
        std::cerr << "tether-demo: " << e.what() << '\n';
        return 2;
    }
}
