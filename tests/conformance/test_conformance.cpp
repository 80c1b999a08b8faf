// Protocol conformance: a real tether::client against a raw-frame server in the spirit of the
// Autobahn fuzzing server. The client connects to `/runCase?case=N` (`/getCaseCount` tells N's
// range); the server writes case N's bytes and reads back, frame by frame and unmasked, what the
// client wrote. The test's application echoes every delivered message, as Autobahn's test client
// does: the parsed JSON value (`on_message`), or for a `raw` case the message unchanged
// (`on_raw_message`, text and binary). A case passes when both sides agree with the table
// (cases.hpp / cases.cpp):
//   - on the wire: the upgrade request offers permessage-deflate exactly when configured; every
//     client frame masked, each with its own key (never the same key twice in a row; over many
//     frames, keys that look random), final, without reserved bits (RSV1 on every data frame, and
//     only there, when the client compresses), control payloads of at most 125 bytes; the pongs in
//     order with the pings' payloads; the echoes in order, one frame each, of the right opcode,
//     inflated when compressed (through the window and context the 101 allowed the client); exactly
//     one close frame, with the expected code, and nothing after it; then the client closes TCP;
//   - in the client: the messages delivered, in order, and the disconnect classified as expected
//     (kind, close code and reason, tether::error, protocol_error).
// Each case is its own Boost.Test case, named case_<id> (e.g. case_5_4; `--run_test=conformance/case_5_*`).
// The suite `conformance_deflate_offered` runs the cases that leave the offer to the suite again,
// with the client offering permessage-deflate to a server that declines it: nothing may change.
// `--log_level=message` prints the table with each case's result (PASS 5.4 ... => expected outcome).
#include "cases.hpp"
#include "compression.hpp"
#include "raw_server.hpp"

#include <tether/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <functional>
#include <optional>
#include <set>
#include <sstream>

namespace tether::conformance {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// Everything of one case on the server's side.
struct wire_record {
    std::string target;
    std::string offer;                 // the upgrade request's Sec-WebSocket-Extensions
    std::vector<client_frame> frames;  // every frame the client wrote, in order
    bool client_closed_tcp = false;
    std::string problem;  // what went wrong on the server's side, if anything
};

// Everything of one case on the client's side.
struct client_record {
    std::vector<message> delivered;   // JSON values as their serialisation, or raw messages as they came
    std::optional<disconnect> ended;  // from on_close: the disconnect the policy stopped on
    error_code result;
    bool finished = false;
};

std::string case_count_message()
{
    return R"({"type":"case_count","count":)" + std::to_string(cases().size()) + "}";
}

// Case N of `/runCase?case=N`, if the target names one.
const conformance_case* case_for(std::string_view target)
{
    constexpr std::string_view prefix = "/runCase?case=";
    if (!target.starts_with(prefix)) return nullptr;
    target.remove_prefix(prefix.size());
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(target.data(), target.data() + target.size(), n);
    if (ec != std::errc{} || end != target.data() + target.size() || n == 0 || n > cases().size()) return nullptr;
    return &cases()[n - 1];
}

// Reads the client's frames into `rec` until its close frame; false at EOF or the deadline.
asio::awaitable<bool> read_until_close(raw_connection& conn, wire_record& rec, clock_type::time_point deadline)
{
    for (;;) {
        auto frame = co_await conn.async_read_frame(deadline);
        if (!frame) co_return false;
        const bool close = frame->op == opcode::close;
        rec.frames.push_back(std::move(*frame));
        if (close) co_return true;
    }
}

// The fuzzing server's side of one connection.
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes Asio's allocation of this coroutine's frame and its release for a mismatched pair
// (a false positive: gcc PR middle-end/109224).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
asio::awaitable<wire_record> serve_one(raw_server& server, clock_type::time_point deadline)
{
    wire_record rec;
    auto accepted = co_await server.async_accept(deadline);
    if (!accepted) {
        rec.problem = "no upgrade request arrived";
        co_return rec;
    }
    raw_connection& conn = *accepted;
    rec.target = conn.target();
    rec.offer = conn.extensions();
    const conformance_case* c = case_for(rec.target);
    if (!c && rec.target != "/getCaseCount") {
        co_await conn.async_write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        std::vector<client_frame> late;
        co_await conn.async_finish(deadline, late);
        co_return rec;
    }
    // GCC 12 also miscompiles a conditional expression inside a co_await's full-expression.
    std::string extensions;
    if (c && c->deflate) extensions = c->deflate->extensions;
    if (!c || c->upgrade) co_await conn.async_write(conn.accept_response(extensions));

    bool saw_close = false;
    std::size_t want = 1;  // /getCaseCount: the client's echo of the count
    if (c) {
        const std::string accept = sec_websocket_accept(conn.key());
        for (std::string bytes : c->script) {
            for (auto at = bytes.find("{ACCEPT}"); at != std::string::npos; at = bytes.find("{ACCEPT}", at))
                bytes.replace(at, 8, accept);
            const error_code ec = co_await conn.async_write(bytes, c->chop);
            if (ec) break;  // the client may already have failed the connection
        }
        want = c->expect == outcome::echoed ? c->messages.size() + c->pongs.size() : 0;
    } else {
        co_await conn.async_write(text_frame(case_count_message()));
    }
    if (c && c->expect == outcome::rejected) {
        // No link: the client hangs up (at once, or when its handshake_timeout passes).
        if (!c->hold) co_await conn.async_finish(deadline, rec.frames);
        while (!conn.peer_closed()) {
            auto frame = co_await conn.async_read_frame(deadline);
            if (!frame) break;
            rec.frames.push_back(std::move(*frame));
        }
        conn.close();
        rec.client_closed_tcp = conn.peer_closed();
        if (!rec.client_closed_tcp) rec.problem = "the client did not close TCP before the deadline";
        co_return rec;
    }
    if (!c || c->expect == outcome::echoed) {
        // Wait for the echoes and pongs, then close politely.
        std::size_t got = 0;
        while (got < want) {
            auto frame = co_await conn.async_read_frame(deadline);
            if (!frame) break;
            if (frame->op == opcode::text || frame->op == opcode::binary || frame->op == opcode::pong) ++got;
            saw_close = frame->op == opcode::close;
            rec.frames.push_back(std::move(*frame));
            if (saw_close) break;
        }
        if (!saw_close) co_await conn.async_write(close_frame(1000, "done"));
    }
    if (!saw_close) {
        const bool ok = co_await read_until_close(conn, rec, deadline);
        if (!ok && !conn.peer_closed()) rec.problem = "the client wrote no close frame before the deadline";
    }
    std::vector<client_frame> late;
    co_await conn.async_finish(deadline, late);
    for (auto& f : late) rec.frames.push_back(std::move(f));
    rec.client_closed_tcp = conn.peer_closed();
    if (!rec.client_closed_tcp && rec.problem.empty()) rec.problem = "the client did not close TCP before the deadline";
    co_return rec;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// How the test runs the client of one case.
struct run_options {
    std::size_t max_message_size = 0;  // 0: the default
    std::chrono::milliseconds handshake_timeout = 5s;
    bool raw = false;  // the application on the raw API
    bool offer_deflate = false;
};

// Runs a client against the server for `target` until its never-retrying policy stops.
std::pair<wire_record, client_record> run_client(const std::string& target, const run_options& o = {})
{
    asio::io_context ioc;
    raw_server server(ioc.get_executor());
    client_config cfg;
    cfg.url = server.url(target);
    cfg.connect_timeout = 5s;
    cfg.handshake_timeout = o.handshake_timeout;
    cfg.close_timeout = 5s;
    cfg.ping_interval = 0ms;  // the heartbeat's own pings would only add frames to the wire
    cfg.policy = never_policy{};
    cfg.permessage_deflate = o.offer_deflate;
    if (o.max_message_size) cfg.max_message_size = o.max_message_size;

    client_record cr;
    wire_record wr;
    bool served = false;
    std::optional<client> c;
    client_callbacks callbacks;
    if (o.raw) {
        callbacks.on_raw_message = [&](const message_view& m) {
            cr.delivered.push_back({m.kind, std::string(m.payload)});
            c->async_send(message{m.kind, std::string(m.payload)}, asio::detached);  // echoed unchanged
        };
    } else {
        callbacks.on_message = [&](const json::value& v) {
            cr.delivered.push_back({message_kind::text, json::serialize(v)});
            c->async_send(v, asio::detached);  // echo, as Autobahn's test client does
        };
    }
    callbacks.on_close = [&](const disconnect& d) { cr.ended = d; };
    c.emplace(ioc.get_executor(), std::move(cfg), std::move(callbacks));

    asio::co_spawn(ioc, serve_one(server, clock_type::now() + 10s), [&](std::exception_ptr e, wire_record r) {
        if (e) std::rethrow_exception(e);
        wr = std::move(r);
        served = true;
    });
    c->async_run([&](error_code ec) {
        cr.result = ec;
        cr.finished = true;
    });
    ioc.run_for(20s);
    if (!served) wr.problem = "the server did not finish within 20 s";
    return {std::move(wr), std::move(cr)};
}

std::string normalized(const std::string& json_text)
{
    return json::serialize(json::parse(json_text));
}

std::string show(std::string_view bytes)
{
    std::string out;
    for (unsigned char ch : bytes.substr(0, 40)) {
        if (ch >= 0x20 && ch < 0x7F) {
            out += static_cast<char>(ch);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02X", ch);
            out += hex;
        }
    }
    if (bytes.size() > 40) out += "...(" + std::to_string(bytes.size()) + " bytes)";
    return out;
}

std::string show(const message& m)
{
    return std::string(to_string(m.kind)) + " [" + show(m.payload) + "]";
}

// Where two message lists first differ, for the report; empty when they are equal.
std::string first_difference(const std::vector<message>& got, const std::vector<message>& want)
{
    for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
        const std::string at = "#" + std::to_string(i) + " ";
        if (i >= got.size()) return at + "missing: " + show(want[i]);
        if (i >= want.size()) return at + "extra: " + show(got[i]);
        if (got[i] == want[i]) continue;
        std::string where;
        if (got[i].kind == want[i].kind) {
            const auto& a = got[i].payload;
            const auto& b = want[i].payload;
            const auto diff = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
            const auto offset = static_cast<std::size_t>(diff.first - a.begin());
            where = " (" + std::to_string(a.size()) + " bytes, expected " + std::to_string(b.size()) +
                    "; first difference at byte " + std::to_string(offset) + ": [" + show(a.substr(offset, 12)) +
                    "] for [" + show(b.substr(offset, 12)) + "])";
        }
        return at + show(got[i]) + ", expected " + show(want[i]) + where;
    }
    return {};
}

std::string hex32(std::uint32_t v)
{
    char out[9];
    std::snprintf(out, sizeof out, "%08X", v);
    return out;
}

// RFC 6455 5.3: a fresh key for every frame, one the server (or a proxy) cannot predict. Two equal
// keys in a row happen by chance once in 2^32; over many frames, keys that repeat, or whose bits
// lean one way, are not random.
void check_keys(const std::vector<client_frame>& frames, const std::function<void(std::string)>& problem)
{
    std::vector<std::pair<std::size_t, std::uint32_t>> keys;  // frame index, key
    for (std::size_t i = 0; i < frames.size(); ++i)
        if (frames[i].masked) keys.emplace_back(i, frames[i].key);
    std::size_t repeats = 0;
    for (std::size_t i = 1; i < keys.size(); ++i) {
        if (keys[i].second != keys[i - 1].second) continue;
        if (repeats++ == 0)
            problem("client frames " + std::to_string(keys[i - 1].first) + " and " + std::to_string(keys[i].first) +
                    " have the same masking key " + hex32(keys[i].second));
    }
    if (repeats > 1) problem(std::to_string(repeats) + " frames in all have the masking key of the frame before");
    if (keys.size() < 64) return;
    std::set<std::uint32_t> distinct;
    std::size_t ones = 0;
    for (const auto& [at, key] : keys) {
        distinct.insert(key);
        ones += static_cast<std::size_t>(std::popcount(key));
    }
    if (distinct.size() < keys.size() - keys.size() / 100)
        problem("only " + std::to_string(distinct.size()) + " distinct masking keys in " + std::to_string(keys.size()) +
                " frames");
    const double share = static_cast<double>(ones) / (32.0 * static_cast<double>(keys.size()));
    if (share < 0.4 || share > 0.6)
        problem("the masking keys do not look random: " + std::to_string(static_cast<int>(share * 100)) +
                "% of their bits are set");
}

// Every way the run differs from the case's expectations; empty when it passed. `offered`: the
// client was configured to offer permessage-deflate.
std::vector<std::string> judge(const conformance_case& c, const wire_record& wr, const client_record& cr, bool offered)
{
    std::vector<std::string> problems;
    auto problem = [&problems](std::string p) { problems.push_back(std::move(p)); };
    if (!wr.problem.empty()) problem("server: " + wr.problem);

    // The upgrade request. tether leaves the server the choice of its window (client_max_window_bits),
    // which lets the cases answer with one.
    if (!wr.target.empty()) {
        if (offered && (!wr.offer.starts_with("permessage-deflate") ||
                        wr.offer.find("client_max_window_bits") == std::string::npos))
            problem("the upgrade request offers '" + wr.offer +
                    "', expected permessage-deflate with client_max_window_bits");
        if (!offered && !wr.offer.empty())
            problem("the upgrade request offers '" + wr.offer + "', though permessage-deflate is off");
    }

    // The wire.
    const bool compresses = c.deflate && c.deflate->client_compresses;
    std::optional<inflater> inflate;
    if (compresses) inflate.emplace(c.deflate->client_window_bits, c.deflate->client_no_context_takeover);
    std::vector<message> echoes;
    std::vector<std::string> pongs;
    std::optional<std::size_t> close_at;
    for (std::size_t i = 0; i < wr.frames.size(); ++i) {
        const auto& f = wr.frames[i];
        const std::string where = "client frame " + std::to_string(i) + " (opcode " + std::to_string(f.op) + ")";
        const bool data = f.op == opcode::text || f.op == opcode::binary;
        // RSV1 marks a compressed message: on every data frame when the client compresses, else nowhere.
        const std::uint8_t rsv = data && compresses ? rsv1 : 0;
        if (!f.masked) problem(where + " is not masked");
        if (f.rsv != rsv)
            problem(where + " has the reserved bits " + std::to_string(f.rsv) + ", expected " + std::to_string(rsv) +
                    " (RSV1 = 4)");
        if (!f.fin) problem(where + " is fragmented");
        if (f.op >= 0x8 && f.payload.size() > 125) problem(where + " is a control frame over 125 bytes");
        if (close_at) problem(where + " follows the client's close frame");
        switch (f.op) {
        case opcode::text:
        case opcode::binary: {
            const message_kind kind = f.op == opcode::text ? message_kind::text : message_kind::binary;
            if (inflate && (f.rsv & rsv1)) {
                auto inflated = inflate->inflate(f.payload);
                if (!inflated)
                    problem(where + " does not inflate (window " + std::to_string(c.deflate->client_window_bits) +
                            " bits)");
                echoes.push_back({kind, inflated ? std::move(*inflated) : "(does not inflate)"});
            } else {
                echoes.push_back({kind, f.payload});
            }
            break;
        }
        case opcode::cont: problem(where + " is a continuation: the client fragmented a message"); break;
        case opcode::pong: pongs.push_back(f.payload); break;
        case opcode::close:
            if (!close_at) close_at = i;
            break;
        default: problem(where + " was not expected");
        }
    }
    check_keys(wr.frames, problem);
    if (c.expect == outcome::rejected) {
        if (!wr.frames.empty()) problem("the client wrote frames without an upgrade");
    } else if (!close_at) {
        problem("the client wrote no close frame");
    } else if (const auto code = wr.frames[*close_at].close_code(); code != c.client_close) {
        problem("the client's close code is " + std::to_string(code) + ", expected " + std::to_string(c.client_close));
    }
    if (!wr.client_closed_tcp) problem("the client did not close the TCP connection");
    if (pongs != c.pongs) {
        std::string got;
        for (std::size_t i = 0; i < pongs.size() && i < 5; ++i) got += "[" + show(pongs[i]) + "] ";
        problem(std::to_string(pongs.size()) + " pongs, expected " + std::to_string(c.pongs.size()) + ": " + got);
    }
    // The JSON application echoes the value it parsed; the raw one the message as it came.
    std::vector<message> expected;
    for (const auto& m : c.messages) expected.push_back(c.raw ? m : message{m.kind, normalized(m.payload)});
    const bool echoes_ok = c.expect == outcome::echoed ? echoes == expected
                                                       : echoes.size() <= expected.size() &&
                                                             std::equal(echoes.begin(), echoes.end(), expected.begin());
    if (!echoes_ok)
        problem(std::to_string(echoes.size()) + " echoes on the wire, expected " + std::to_string(expected.size()) +
                ": " + first_difference(echoes, expected));

    // The client.
    if (!cr.finished) problem("the client did not finish");
    if (cr.delivered != expected)
        problem(std::to_string(cr.delivered.size()) + " messages delivered, expected " +
                std::to_string(expected.size()) + ": " + first_difference(cr.delivered, expected));
    if (!cr.ended) {
        problem("no on_close: the client did not report why it ended");
    } else {
        const disconnect& d = *cr.ended;
        if (d.kind != c.kind)
            problem("disconnect kind " + std::string(to_string(d.kind)) + " (" + describe(d) + "), expected " +
                    std::string(to_string(c.kind)));
        if (c.kind == disconnect_kind::close_frame && d.close_code != c.peer_code)
            problem("close code seen " + std::to_string(d.close_code) + ", expected " + std::to_string(c.peer_code));
        if (c.peer_reason && d.reason != *c.peer_reason) problem("close reason seen '" + show(d.reason) + "'");
        if (c.kind == disconnect_kind::http_status && d.http_status != c.http_status)
            problem("HTTP status " + std::to_string(d.http_status) + ", expected " + std::to_string(c.http_status));
        if (c.kind == disconnect_kind::http_status && d.retry_after != c.retry_after)
            problem("Retry-After " +
                    (d.retry_after ? std::to_string(d.retry_after->count()) + " ms" : std::string("none")));
        if (c.tether_error && d.error != make_error_code(*c.tether_error))
            problem("error " + d.error.message() + ", expected " + make_error_code(*c.tether_error).message());
        if (c.protocol && d.error != make_error_code(*c.protocol))
            problem("error " + d.error.message() + ", expected " + make_error_code(*c.protocol).message());
    }
    return problems;
}

std::string describe_outcome(const conformance_case& c)
{
    switch (c.expect) {
    case outcome::echoed:
        return std::to_string(c.messages.size()) + " delivered, " + std::to_string(c.pongs.size()) + " pongs";
    case outcome::failed: return "client fails with " + std::to_string(c.client_close);
    case outcome::closed: return "client answers close with " + std::to_string(c.client_close);
    case outcome::rejected: return "no link: " + std::string(to_string(c.kind));
    }
    return {};
}

void run_case(std::size_t index, bool deflate_suite)
{
    const conformance_case& c = cases()[index];
    const bool offered = c.offer_deflate.value_or(deflate_suite);
    const run_options o{.max_message_size = c.max_message_size,
                        .handshake_timeout = c.handshake_timeout > 0ms ? c.handshake_timeout : 5s,
                        .raw = c.raw,
                        .offer_deflate = offered};
    auto [wr, cr] = run_client("/runCase?case=" + std::to_string(index + 1), o);
    const auto problems = judge(c, wr, cr, offered);
    std::ostringstream line;
    line << (problems.empty()      ? (c.known_bug.empty() ? "PASS " : "XPASS ")
             : c.known_bug.empty() ? "FAIL "
                                   : "XFAIL ")
         << (deflate_suite ? "[deflate offered] " : "") << c.id << "  " << c.description << "  => "
         << describe_outcome(c);
    BOOST_TEST_MESSAGE(line.str());
    std::string all;
    for (const auto& p : problems) all += "\n    " + p;
    if (!c.known_bug.empty()) all += "\n    (expected: a known library bug, fixed by " + c.known_bug + ")";
    BOOST_CHECK_MESSAGE(problems.empty(),
                        (deflate_suite ? "[deflate offered] " : "") + c.id + " (" + c.description + "):" + all);
}

// The fuzzing server's other entry points: the case count, and an unknown case.
void get_case_count()
{
    auto [wr, cr] = run_client("/getCaseCount");
    BOOST_CHECK_MESSAGE(wr.problem.empty(), wr.problem);
    BOOST_TEST_REQUIRE(cr.delivered.size() == 1u);
    BOOST_TEST(cr.delivered[0].payload == case_count_message());
    BOOST_TEST(json::parse(cr.delivered[0].payload).at("count").to_number<std::size_t>() == cases().size());

    auto [wr404, cr404] = run_client("/runCase?case=" + std::to_string(cases().size() + 1));
    BOOST_TEST_REQUIRE(cr404.ended.has_value());
    BOOST_TEST((cr404.ended->kind == disconnect_kind::http_status));
    BOOST_TEST(cr404.ended->http_status == 404u);
}

std::string test_name(const conformance_case& c)
{
    std::string name = "case_" + c.id;
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
}

bool init_suite()
{
    namespace ut = boost::unit_test;
    auto* suite = BOOST_TEST_SUITE("conformance");
    suite->add(ut::make_test_case(&get_case_count, "get_case_count", __FILE__, __LINE__));
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < cases().size(); ++i) {
        std::string name = test_name(cases()[i]);
        if (std::find(seen.begin(), seen.end(), name) != seen.end())
            throw std::logic_error("duplicate conformance case id " + cases()[i].id);
        seen.push_back(name);
        // A case that shows a known library bug fails once, as expected, until its fix lands.
        suite->add(ut::make_test_case([i] { run_case(i, false); }, name, __FILE__, __LINE__),
                   cases()[i].known_bug.empty() ? 0 : 1);
    }
    ut::framework::master_test_suite().add(suite);

    // The same table with the client offering permessage-deflate to a server that declines it
    // (its 101 names no extension): every case must end exactly as without the offer; section 3's
    // reserved bits stay errors, as no extension defines them. Cases that settle the offer
    // themselves (section 12, 0.15) ran above already.
    auto* offered = BOOST_TEST_SUITE("conformance_deflate_offered");
    for (std::size_t i = 0; i < cases().size(); ++i) {
        if (cases()[i].offer_deflate) continue;
        offered->add(ut::make_test_case([i] { run_case(i, true); }, test_name(cases()[i]), __FILE__, __LINE__),
                     cases()[i].known_bug.empty() ? 0 : 1);
    }
    ut::framework::master_test_suite().add(offered);
    return true;
}

}  // namespace
}  // namespace tether::conformance

int main(int argc, char* argv[])
{
    return boost::unit_test::unit_test_main(&tether::conformance::init_suite, argc, argv);
}
