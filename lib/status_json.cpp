// The status types as JSON: stats, connection records and events, for logs and tools.
#include <tether/status.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <cstdio>
#include <ctime>

namespace tether {

namespace json = boost::json;

namespace {

json::value time_of(std::chrono::system_clock::time_point t)
{
    if (t == std::chrono::system_clock::time_point{}) return nullptr;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];  // room for any year the formatter could print
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms % 1000));
    return json::string(text);
}

}  // namespace

void tag_invoke(const json::value_from_tag&, json::value& v, const disconnect& d)
{
    json::object o;
    o["kind"] = to_string(d.kind);
    o["class"] = to_string(classify(d));
    o["description"] = describe(d);
    if (d.error) o["error"] = d.error.message();
    if (d.http_status != 0) o["http_status"] = d.http_status;
    if (d.close_code != 0) o["close_code"] = d.close_code;
    if (d.retry_after) o["retry_after_ms"] = d.retry_after->count();
    v = std::move(o);
}

void tag_invoke(const json::value_from_tag&, json::value& v, const rtt_stats& r)
{
    v = {{"samples", r.samples}, {"min_us", r.min.count()}, {"avg_us", r.avg.count()}, {"last_us", r.last.count()}};
}

void tag_invoke(const json::value_from_tag&, json::value& v, const client_stats& s)
{
    v = {{"connections", s.connections},
         {"attempts", s.attempts},
         {"messages_received", s.messages_received},
         {"messages_ignored", s.messages_ignored},
         {"messages_malformed", s.messages_malformed},
         {"messages_binary_skipped", s.messages_binary_skipped},
         {"messages_sent", s.messages_sent},
         {"messages_too_big", s.messages_too_big},
         {"heartbeat_timeouts", s.heartbeat_timeouts},
         {"inbox_depth", s.inbox_depth},
         {"send_queue_depth", s.send_queue_depth},
         {"bytes_received", s.bytes_received},
         {"bytes_sent", s.bytes_sent},
         {"rtt_smoothed_us", s.rtt_smoothed.count()},
         {"rtt_variation_us", s.rtt_variation.count()},
         {"uptime_ms", s.uptime.count()},
         {"messages_unacknowledged", s.messages_unacknowledged},
         {"messages_resent", s.messages_resent},
         {"messages_acknowledged", s.messages_acknowledged},
         {"resume_position", s.resume_position},
         {"duplicates_dropped", s.duplicates_dropped},
         {"gaps", s.gaps},
         {"acks_sent", s.acks_sent}};
}

void tag_invoke(const json::value_from_tag&, json::value& v, const connection_record& r)
{
    json::object o;
    o["attempt"] = r.attempt;
    o["started"] = time_of(r.started);
    o["connected"] = time_of(r.connected);
    o["ended"] = time_of(r.ended);
    o["why"] = json::value_from(r.why);
    o["healthy"] = r.healthy;
    o["delay_ms"] = r.delay ? json::value(r.delay->count()) : json::value(nullptr);
    o["messages_received"] = r.messages_received;
    o["messages_sent"] = r.messages_sent;
    o["bytes_received"] = r.bytes_received;
    o["bytes_sent"] = r.bytes_sent;
    o["rtt"] = json::value_from(r.rtt);
    v = std::move(o);
}

void tag_invoke(const json::value_from_tag&, json::value& v, const client_event& e)
{
    json::object o;
    o["event"] = to_string(e.kind);
    o["at"] = time_of(e.at);
    switch (e.kind) {
    case event_kind::state: o["state"] = to_string(e.state); break;
    case event_kind::held:
        o["attempt"] = e.attempt;
        o["delay_ms"] = e.delay.count();
        break;
    case event_kind::attempt:
    case event_kind::connected: o["attempt"] = e.attempt; break;
    case event_kind::disconnected:
        o["attempt"] = e.attempt;
        o["reason"] = json::value_from(e.reason);
        break;
    case event_kind::decision:
        o["retry"] = e.retry;
        if (e.retry) {
            o["attempt"] = e.attempt;
            o["delay_ms"] = e.delay.count();
        }
        o["reason"] = json::value_from(e.reason);
        break;
    case event_kind::pong: o["rtt_us"] = e.rtt.count(); break;
    case event_kind::heartbeat_timeout:
        o["deadline_ms"] = e.delay.count();
        o["rtt_smoothed_us"] = e.rtt.count();
        break;
    case event_kind::gap:
        o["position"] = e.position;
        o["expected"] = e.expected;
        break;
    }
    v = std::move(o);
}

}  // namespace tether
