// The opening handshake (RFC 6455 4) and permessage-deflate (RFC 7692): the key and its accept
// value, the upgrade request, the checks on the server's 101, the extension negotiation, and the
// compression state of a connection (round trips, RFC 7692's examples, the size limit against a
// compression bomb, data that does not inflate).
#include "bytes.hpp"
#include "wire/deflate.hpp"
#include "wire/handshake.hpp"

#include <tether/url.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/beast/zlib/error.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using tether::test::bytes;
using tether::error_code;
using tether::protocol_error;
using tether::wire::deflate_codec;
using tether::wire::deflate_params;
namespace http = boost::beast::http;

namespace {

bytes from_hex(std::string_view hex)
{
    bytes out;
    auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    for (std::size_t i = 0; i + 1 < hex.size();) {
        if (hex[i] == ' ') {
            ++i;
            continue;
        }
        out.push_back(static_cast<unsigned char>(digit(hex[i]) << 4 | digit(hex[i + 1])));
        i += 2;
    }
    return out;
}

std::span<const unsigned char> as_bytes(std::string_view s)
{
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::string describe(const std::optional<deflate_params>& p)
{
    if (!p) return "declined";
    return std::string("deflate{") + (p->server_no_context_takeover ? "server_no_context_takeover " : "") +
           (p->client_no_context_takeover ? "client_no_context_takeover " : "") +
           "server_bits=" + std::to_string(p->server_max_window_bits) +
           " client_bits=" + std::to_string(p->client_max_window_bits) + "}";
}

// The description of an accepted answer, for the rows.
std::string accepted(bool server_nct = false, bool client_nct = false, int server_bits = 15, int client_bits = 15)
{
    return describe(deflate_params{server_nct, client_nct, server_bits, client_bits});
}

const std::string declined = "declined";

constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";

}  // namespace

BOOST_AUTO_TEST_SUITE(wire_handshake)

// RFC 6455 1.3 and 4.2.2: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
BOOST_AUTO_TEST_CASE(accept_values)
{
    struct row {
        std::string_view key;
        std::string_view accept;
    };
    const row rows[] = {
        {rfc_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},                     // RFC 6455's example
        {"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},  // the draft's (and Wikipedia's)
        {"", "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w="},                          // the GUID alone
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("key '" << r.key << "'")
        {
            BOOST_TEST(tether::wire::accept_for(r.key) == r.accept);
        }
    }
}

// RFC 6455 4.1: the key is 16 random bytes in base64: 24 characters, 22 of data and "==", the
// last data character carrying only 2 bits. A fresh one each time.
BOOST_AUTO_TEST_CASE(keys_are_sixteen_random_bytes_in_base64)
{
    static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string key = tether::wire::make_key();
        BOOST_TEST_CONTEXT("key " << key)
        {
            BOOST_TEST(key.size() == 24u);
            BOOST_TEST(key.ends_with("=="));
            BOOST_TEST(key.substr(0, 22).find_first_not_of(alphabet) == std::string::npos);
            BOOST_TEST(alphabet.find(key[21]) % 16 == 0u);  // the 4 padding bits are zero
        }
        seen.insert(key);
    }
    BOOST_TEST(seen.size() == 200u);
}

// RFC 6455 4.1: GET, HTTP/1.1, Host, Upgrade: websocket, Connection: Upgrade, the key, version 13;
// then the offer, the User-Agent, the configured headers and the token.
BOOST_AUTO_TEST_CASE(upgrade_requests)
{
    struct row {
        const char* what;
        std::string url;
        bool deflate;
        std::vector<tether::header> headers;
        std::string token;
        std::vector<std::pair<std::string, std::string>> expected;  // field, value ("" = absent)
    };
    const row rows[] = {
        {"the plain request",
         "ws://example.com/chat",
         false,
         {},
         "",
         {{"Host", "example.com"},
          {"Upgrade", "websocket"},
          {"Connection", "Upgrade"},
          {"Sec-WebSocket-Key", std::string(rfc_key)},
          {"Sec-WebSocket-Version", "13"},
          {"Sec-WebSocket-Extensions", ""},
          {"User-Agent", "tether/0.1"},
          {"Authorization", ""},
          {"Sec-WebSocket-Protocol", ""}}},
        {"a port and a query", "ws://example.com:8080/a/b?x=1&y=2", false, {}, "", {{"Host", "example.com:8080"}}},
        {"the default port is not in Host", "wss://example.com:443/", false, {}, "", {{"Host", "example.com"}}},
        {"IPv6", "ws://[::1]:9000/", false, {}, "", {{"Host", "[::1]:9000"}}},
        {"the deflate offer",
         "ws://example.com/",
         true,
         {},
         "",
         {{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"}}},
        {"a token", "ws://localhost/", false, {}, "t0k3n", {{"Authorization", "Bearer t0k3n"}}},
        {"configured headers",
         "ws://example.com/",
         false,
         {{"X-Trace", "1"}, {"Cookie", "a=b"}},
         "",
         {{"X-Trace", "1"}, {"Cookie", "a=b"}}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            tether::client_config cfg;
            cfg.url = r.url;
            cfg.permessage_deflate = r.deflate;
            cfg.headers = r.headers;
            const auto url = tether::parse_ws_url(r.url);
            const auto req = tether::wire::upgrade_request(url, cfg, r.token, rfc_key);
            BOOST_TEST((req.method() == http::verb::get));
            BOOST_TEST(req.version() == 11u);
            BOOST_TEST(std::string(req.target()) == url.target);
            for (const auto& [name, value] : r.expected) {
                BOOST_TEST_CONTEXT("field " << name)
                {
                    BOOST_TEST(req.count(name) == (value.empty() ? 0u : 1u));
                    BOOST_TEST(std::string(req[name]) == value);
                }
            }
        }
    }
    // A header configured twice goes out twice.
    tether::client_config cfg;
    cfg.url = "ws://example.com/";
    cfg.headers = {{"X-A", "1"}, {"X-A", "2"}};
    const auto req = tether::wire::upgrade_request(tether::parse_ws_url(cfg.url), cfg, "", rfc_key);
    BOOST_TEST(req.count("X-A") == 2u);
}

// The checks on a 101 (its status is checked before, by the caller): RFC 6455 4.1's list, the
// client's side. Each row is a complete set of response fields.
BOOST_AUTO_TEST_CASE(upgrade_responses)
{
    const std::string good = tether::wire::accept_for(rfc_key);
    using fields = std::vector<std::pair<std::string, std::string>>;
    const fields base{{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", good}};
    auto with = [&](fields extra) {
        fields f = base;
        f.insert(f.end(), extra.begin(), extra.end());
        return f;
    };
    auto without = [&](std::string_view name) {
        fields f;
        for (const auto& p : base)
            if (p.first != name) f.push_back(p);
        return f;
    };
    auto replaced = [&](std::string_view name, std::string value) {
        fields f = without(name);
        f.push_back({std::string(name), std::move(value)});
        return f;
    };
    struct row {
        const char* what;
        fields response;
        bool offered_deflate;
        error_code expected;
        std::string deflate;  // what check_upgrade_response returns in `deflate`
        unsigned version = 11;
    };
    const row rows[] = {
        {"a good answer", base, false, {}, declined},
        {"no Upgrade", without("Upgrade"), false, protocol_error::bad_upgrade, declined},
        {"Upgrade: h2c", replaced("Upgrade", "h2c"), false, protocol_error::bad_upgrade, declined},
        {"Upgrade: WebSocket (case-insensitive)", replaced("Upgrade", "WebSocket"), false, {}, declined},
        {"Upgrade as a list", replaced("Upgrade", "foo, websocket"), false, {}, declined},
        {"no Connection", without("Connection"), false, protocol_error::bad_upgrade, declined},
        {"Connection: keep-alive", replaced("Connection", "keep-alive"), false, protocol_error::bad_upgrade, declined},
        {"Connection: keep-alive, Upgrade", replaced("Connection", "keep-alive, Upgrade"), false, {}, declined},
        {"Connection: upgrade", replaced("Connection", "upgrade"), false, {}, declined},
        {"Connection: Upgrade, close", replaced("Connection", "Upgrade, close"), false, {}, declined},
        {"Connection: upgraded (not the token)", replaced("Connection", "upgraded"), false, protocol_error::bad_upgrade,
         declined},
        {"no Sec-WebSocket-Accept", without("Sec-WebSocket-Accept"), false, protocol_error::bad_accept, declined},
        {"the accept of another key",
         replaced("Sec-WebSocket-Accept", tether::wire::accept_for("AAAAAAAAAAAAAAAAAAAAAA==")), false,
         protocol_error::bad_accept, declined},
        {"the key echoed", replaced("Sec-WebSocket-Accept", std::string(rfc_key)), false, protocol_error::bad_accept,
         declined},
        {"the accept in lower case", replaced("Sec-WebSocket-Accept", "s3pplmbitxaq9kygzzhzrbk+xoo="), false,
         protocol_error::bad_accept, declined},
        {"HTTP/1.0", base, false, protocol_error::bad_upgrade, declined, 10},
        {"HTTP/2", base, false, protocol_error::bad_upgrade, declined, 20},
        {"a subprotocol, none offered", with({{"Sec-WebSocket-Protocol", "chat"}}), false,
         protocol_error::bad_subprotocol, declined},
        {"an empty subprotocol field", with({{"Sec-WebSocket-Protocol", ""}}), false, protocol_error::bad_subprotocol,
         declined},
        {"an extension not offered", with({{"Sec-WebSocket-Extensions", "permessage-deflate"}}), false,
         protocol_error::bad_extension, declined},
        {"another extension not offered", with({{"Sec-WebSocket-Extensions", "x-webkit-deflate-frame"}}), false,
         protocol_error::bad_extension, declined},
        {"an empty extensions field, nothing offered", with({{"Sec-WebSocket-Extensions", ""}}), false, {}, declined},
        {"deflate offered, declined", base, true, {}, declined},
        {"deflate offered, accepted", with({{"Sec-WebSocket-Extensions", "permessage-deflate"}}), true, {}, accepted()},
        {"deflate offered, parameters",
         with({{"Sec-WebSocket-Extensions",
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"}}),
         true,
         {},
         accepted(true, false, 15, 10)},
        {"deflate offered, another extension", with({{"Sec-WebSocket-Extensions", "x-foo"}}), true,
         protocol_error::bad_extension, declined},
        {"the checks come in order: Upgrade before the accept", replaced("Upgrade", "h2c"), true,
         protocol_error::bad_upgrade, declined},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            http::response_header<> res;
            res.version(r.version);
            res.result(http::status::switching_protocols);
            for (const auto& [name, value] : r.response) res.insert(name, value);
            std::optional<deflate_params> deflate = deflate_params{};  // must be reset
            const error_code ec = tether::wire::check_upgrade_response(res, rfc_key, r.offered_deflate, deflate);
            BOOST_TEST(ec == r.expected);
            BOOST_TEST(describe(deflate) == r.deflate);
        }
    }
}

// RFC 7692 5 and 7.1: the server's answer to "permessage-deflate; client_max_window_bits". One
// extension, its parameters each at most once, window bits 8-15 (a token or a quoted string,
// without leading zeros), no value on the context takeover ones, nothing unknown.
BOOST_AUTO_TEST_CASE(deflate_answers)
{
    const error_code bad = protocol_error::bad_extension;
    struct row {
        const char* what;
        std::string_view header;
        error_code expected;
        std::string deflate;
    };
    const row rows[] = {
        {"no answer: declined", "", {}, declined},
        {"blank: declined", "  ", {}, declined},
        {"the bare extension", "permessage-deflate", {}, accepted()},
        {"any case", "PerMessage-Deflate", {}, accepted()},
        {"spaces around", "  permessage-deflate  ", {}, accepted()},
        {"server_no_context_takeover", "permessage-deflate; server_no_context_takeover", {}, accepted(true)},
        {"client_no_context_takeover", "permessage-deflate; client_no_context_takeover", {}, accepted(false, true)},
        {"server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10", {}, accepted(false, false, 10)},
        {"server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8", {}, accepted(false, false, 8)},
        {"server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15", {}, accepted(false, false, 15)},
        {"client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9", {}, accepted(false, false, 15, 9)},
        {"client_max_window_bits=8", "permessage-deflate; client_max_window_bits=8", {}, accepted(false, false, 15, 8)},
        {"all four",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
         "server_max_window_bits=11; client_max_window_bits=12",
         {},
         accepted(true, true, 11, 12)},
        {"all four, another order",
         "permessage-deflate;client_max_window_bits=12;server_max_window_bits=11;"
         "client_no_context_takeover;server_no_context_takeover",
         {},
         accepted(true, true, 11, 12)},
        {"a quoted value", "permessage-deflate; client_max_window_bits=\"12\"", {}, accepted(false, false, 15, 12)},
        {"spaces around '=' and ';'",
         "permessage-deflate ;  server_max_window_bits = 13 ",
         {},
         accepted(false, false, 13)},
        {"parameter names in any case", "permessage-deflate; Server_No_Context_Takeover", {}, accepted(true)},
        {"a trailing ';'", "permessage-deflate;", {}, accepted()},
        // Refused.
        {"another extension", "x-webkit-deflate-frame", bad, declined},
        {"deflate with a prefix", "x-permessage-deflate", bad, declined},
        {"two extensions", "permessage-deflate, x-foo", bad, declined},
        {"deflate twice", "permessage-deflate, permessage-deflate", bad, declined},
        {"a parameter first", "server_no_context_takeover; permessage-deflate", bad, declined},
        {"an unknown parameter", "permessage-deflate; foo", bad, declined},
        {"an unknown parameter with a value", "permessage-deflate; foo=1", bad, declined},
        {"an empty parameter", "permessage-deflate;; server_no_context_takeover", bad, declined},
        {"server_no_context_takeover twice",
         "permessage-deflate; server_no_context_takeover; server_no_context_takeover", bad, declined},
        {"client_no_context_takeover twice",
         "permessage-deflate; client_no_context_takeover; client_no_context_takeover", bad, declined},
        {"server_max_window_bits twice", "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
         bad, declined},
        {"client_max_window_bits twice", "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
         bad, declined},
        {"a value on server_no_context_takeover", "permessage-deflate; server_no_context_takeover=1", bad, declined},
        {"a value on client_no_context_takeover", "permessage-deflate; client_no_context_takeover=", bad, declined},
        {"client_max_window_bits without a value", "permessage-deflate; client_max_window_bits", bad, declined},
        {"server_max_window_bits without a value", "permessage-deflate; server_max_window_bits", bad, declined},
        {"server_max_window_bits=7", "permessage-deflate; server_max_window_bits=7", bad, declined},
        {"server_max_window_bits=16", "permessage-deflate; server_max_window_bits=16", bad, declined},
        {"client_max_window_bits=0", "permessage-deflate; client_max_window_bits=0", bad, declined},
        {"client_max_window_bits=-9", "permessage-deflate; client_max_window_bits=-9", bad, declined},
        {"client_max_window_bits=+9", "permessage-deflate; client_max_window_bits=+9", bad, declined},
        {"client_max_window_bits=9.0", "permessage-deflate; client_max_window_bits=9.0", bad, declined},
        {"client_max_window_bits=abc", "permessage-deflate; client_max_window_bits=abc", bad, declined},
        {"an empty value", "permessage-deflate; server_max_window_bits=", bad, declined},
        {"an empty quoted value", "permessage-deflate; server_max_window_bits=\"\"", bad, declined},
        {"an unclosed quote", "permessage-deflate; server_max_window_bits=\"10", bad, declined},
        {"a space inside the quotes", "permessage-deflate; server_max_window_bits=\" 10\"", bad, declined},
        {"a huge value", "permessage-deflate; server_max_window_bits=99999999999999999999", bad, declined},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what << ": '" << r.header << "'")
        {
            std::optional<deflate_params> p = deflate_params{};
            const error_code ec = tether::wire::parse_deflate_answer(r.header, p);
            BOOST_TEST(ec == r.expected);
            BOOST_TEST(describe(p) == r.deflate);
        }
    }
}

// Answers that look valid at a glance and are not.
BOOST_AUTO_TEST_CASE(subtly_bad_extension_answers)
{
    const error_code bad = protocol_error::bad_extension;
    // RFC 7692 7.1.2.1 / 7.1.2.2: window bits are "a decimal integer value without leading zeroes";
    // an invalid value MUST fail the connection (std::from_chars alone would read "010" as 10).
    for (std::string_view header :
         {"permessage-deflate; server_max_window_bits=010", "permessage-deflate; client_max_window_bits=09"}) {
        BOOST_TEST_CONTEXT(header)
        {
            std::optional<deflate_params> p;
            BOOST_TEST(tether::wire::parse_deflate_answer(header, p) == bad);
        }
    }
    // RFC 6455 4.1 (the client MUST fail on an extension it did not offer) with RFC 7230 3.2.2 (a
    // field sent twice is one comma-separated list): every Sec-WebSocket-Extensions field counts.
    struct row {
        const char* what;
        std::vector<std::string> extension_fields;
        bool offered_deflate;
    };
    const row rows[] = {
        {"deflate, then another extension in a second field", {"permessage-deflate", "x-foo"}, true},
        {"nothing offered: an empty field, then an extension", {"", "permessage-deflate"}, false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            http::response_header<> res;
            res.version(11);
            res.result(http::status::switching_protocols);
            res.insert(http::field::upgrade, "websocket");
            res.insert(http::field::connection, "Upgrade");
            res.insert(http::field::sec_websocket_accept, tether::wire::accept_for(rfc_key));
            for (const auto& e : r.extension_fields) res.insert(http::field::sec_websocket_extensions, e);
            std::optional<deflate_params> p;
            BOOST_TEST(tether::wire::check_upgrade_response(res, rfc_key, r.offered_deflate, p) == bad);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// --- the compression state ------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(wire_deflate)

namespace {

constexpr std::size_t no_limit = std::size_t(1) << 30;

// Inflates each message, given as the pieces inflate() gets them; the outputs, or the error that
// stopped it (and after which message).
struct inflated {
    std::vector<std::string> messages;
    error_code error;
};

inflated inflate_all(deflate_codec& codec, const std::vector<std::vector<bytes>>& messages,
                     std::size_t limit = no_limit)
{
    inflated out;
    for (const auto& pieces : messages) {
        std::string message;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            out.error = codec.inflate(pieces[i], i + 1 == pieces.size(), message, limit);
            if (out.error) return out;
        }
        if (pieces.empty()) out.error = codec.inflate({}, true, message, limit);
        if (out.error) return out;
        out.messages.push_back(message);
    }
    return out;
}

// Each byte a piece of its own.
std::vector<bytes> bytewise(const bytes& b)
{
    std::vector<bytes> pieces;
    for (unsigned char c : b) pieces.push_back({c});
    return pieces;
}

deflate_params params(bool server_nct, bool client_nct = false, int client_bits = 15)
{
    return {.server_no_context_takeover = server_nct,
            .client_no_context_takeover = client_nct,
            .server_max_window_bits = 15,
            .client_max_window_bits = client_bits};
}

const bytes hello = from_hex("f2 48 cd c9 c9 07 00");  // RFC 7692 7.2.3.1

}  // namespace

// RFC 7692 7.2.3's examples and data that does not inflate.
BOOST_AUTO_TEST_CASE(inflating_rows)
{
    const error_code bad = protocol_error::bad_compression;
    struct row {
        const char* what;
        std::vector<std::vector<bytes>> messages;  // each message's pieces
        std::vector<std::string> expected;         // the messages inflated before the error, if any
        error_code error = {};
        deflate_params p = {};
    };
    const row rows[] = {
        {"7.2.3.1: \"Hello\"", {{hello}}, {"Hello"}},
        {"7.2.3.1: \"Hello\" in two fragments", {{from_hex("f2 48 cd"), from_hex("c9 c9 07 00")}}, {"Hello"}},
        {"\"Hello\" a byte at a time", {bytewise(hello)}, {"Hello"}},
        {"7.2.3.2: the second \"Hello\" refers to the first",
         {{hello}, {from_hex("f2 00 11 00 00")}},
         {"Hello", "Hello"}},
        {"7.2.3.2 when the server takes no context: the reference fails",
         {{hello}, {from_hex("f2 00 11 00 00")}},
         {"Hello"},
         bad,
         params(true)},
        {"7.2.3.3: a stored block", {{from_hex("00 05 00 fa ff 48 65 6c 6c 6f 00")}}, {"Hello"}},
        {"7.2.3.5: two blocks", {{from_hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")}}, {"Hello"}},
        {"an empty payload (not deflate data): taken as empty, as zlib does", {{}}, {""}},
        {"an empty payload in an empty piece", {{bytes{}}}, {""}},
        {"an empty message as 00: an empty stored block less its last 4 bytes", {{from_hex("00")}}, {""}},
        {"a final block without the trailing byte, then a new stream",
         {{from_hex("f3 48 cd c9 c9 07 00")}, {hello}},
         {"Hello", "Hello"}},
        {"many messages with context",
         {{hello}, {from_hex("f2 00 11 00 00")}, {from_hex("f2 00 11 00 00")}},
         {"Hello", "Hello", "Hello"}},
        {"garbage", {{from_hex("ff ff ff ff")}}, {}, bad},
        {"a reserved block type (BTYPE 11)", {{from_hex("07 00")}}, {}, bad},
        {"a stored block whose NLEN is wrong", {{from_hex("00 05 00 00 00 48 65 6c 6c 6f")}}, {}, bad},
        {"a distance before the start", {{from_hex("f2 00 11 00 00")}}, {}, bad},
        {"good data, then bad stored block lengths in the same message", {{hello, from_hex("12 34 56 78")}}, {}, bad},
        {"a good message, then garbage", {{hello}, {from_hex("ff ff")}}, {"Hello"}, bad},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            deflate_codec codec(r.p);
            const inflated got = inflate_all(codec, r.messages);
            BOOST_TEST(got.error == r.error);
            BOOST_TEST(got.messages == r.expected, boost::test_tools::per_element());
        }
    }
}

// Each message through one connection's deflate and another's inflate comes back the same, with
// and without context takeover, at every window size we may be limited to, whole and in pieces.
BOOST_AUTO_TEST_CASE(round_trips)
{
    std::mt19937 rng(1951);
    std::string random_text(100000, ' ');
    for (auto& c : random_text) c = static_cast<char>(rng());
    std::string json;
    for (int i = 0; i < 300; ++i) json += R"({"type":"event","id":)" + std::to_string(i) + R"(,"payload":"abc"},)";
    // The empty message first: after another one it does not survive the trip (known_bugs below).
    const std::vector<std::string> messages = {
        "", "Hello", "Hello", std::string(1000, 'a'), json, json, random_text, std::string(1 << 20, '\0'), "bye",
    };
    for (bool no_context : {false, true}) {
        for (int bits = 9; bits <= 15; ++bits) {
            BOOST_TEST_CONTEXT((no_context ? "no context takeover" : "context takeover") << ", window " << bits)
            {
                // Our side compresses with client_* parameters; the peer inflates with them as its
                // server_* view (its inflater resets when we take no context).
                deflate_codec ours(params(false, no_context, bits));
                deflate_codec peer(params(no_context));
                BOOST_TEST(ours.compresses());
                for (std::size_t i = 0; i < messages.size(); ++i) {
                    const auto packed = ours.deflate(as_bytes(messages[i]));
                    const bytes wire(packed.begin(), packed.end());
                    std::string out;
                    // Alternate: whole, in two pieces, and (small ones) a byte at a time.
                    error_code ec;
                    if (i % 3 == 0 || wire.size() < 2) {
                        ec = peer.inflate(wire, true, out, no_limit);
                    } else if (i % 3 == 1 || wire.size() > 4000) {
                        const std::size_t half = wire.size() / 2;
                        ec = peer.inflate({wire.data(), half}, false, out, no_limit);
                        if (!ec) ec = peer.inflate({wire.data() + half, wire.size() - half}, true, out, no_limit);
                    } else {
                        for (std::size_t k = 0; k < wire.size() && !ec; ++k)
                            ec = peer.inflate({wire.data() + k, 1}, k + 1 == wire.size(), out, no_limit);
                    }
                    BOOST_TEST_CONTEXT("message " << i)
                    {
                        BOOST_TEST(!ec);
                        BOOST_TEST((out == messages[i]));
                    }
                    if (ec) break;  // the inflater is done for (and may hang if called again: see below)
                }
            }
        }
    }
}

namespace {

// A peer that holds us to the window it gave us (RFC 7692 7.1.2.2: our compressor MUST NOT use a
// larger one): Beast's inflater with that window, producing one byte per call, so that every
// back-reference is read from the window and one farther back than it fails.
class strict_peer {
public:
    explicit strict_peer(int bits) { inflater_.reset(bits); }

    error_code inflate(std::span<const unsigned char> message, std::string& out)
    {
        bytes in(message.begin(), message.end());
        in.insert(in.end(), {0x00, 0x00, 0xFF, 0xFF});
        boost::beast::zlib::z_params zs;
        zs.next_in = in.data();
        zs.avail_in = in.size();
        for (;;) {
            char c;
            zs.next_out = &c;
            zs.avail_out = 1;
            error_code ec;
            inflater_.write(zs, boost::beast::zlib::Flush::sync, ec);
            if (zs.avail_out == 0) out += c;
            if (ec == boost::beast::zlib::error::need_buffers) ec = {};
            if (ec) return ec;
            if (zs.avail_in == 0 && zs.avail_out != 0) return {};
        }
    }

private:
    boost::beast::zlib::inflate_stream inflater_;
};

}  // namespace

// Whatever window the server limits us to, our messages inflate with exactly that window: among
// them a block repeated 3000 bytes apart, which only a 4 KiB window or larger may refer back to.
BOOST_AUTO_TEST_CASE(our_window_stays_within_client_max_window_bits)
{
    std::mt19937 rng(7692);
    std::string block(3000, ' ');
    for (auto& c : block) c = static_cast<char>('a' + rng() % 26);
    std::string json;
    for (int i = 0; i < 100; ++i) json += R"({"type":"event","id":)" + std::to_string(i) + R"(,"payload":"abc"},)";
    const std::vector<std::string> messages = {"Hello", block + block, json, block, "Hello"};
    for (int bits = 9; bits <= 15; ++bits) {
        BOOST_TEST_CONTEXT("client_max_window_bits=" << bits)
        {
            deflate_codec ours(params(false, false, bits));
            strict_peer peer(bits);
            for (std::size_t i = 0; i < messages.size(); ++i) {
                BOOST_TEST_CONTEXT("message " << i)
                {
                    std::string out;
                    const error_code ec = peer.inflate(ours.deflate(as_bytes(messages[i])), out);
                    BOOST_TEST(!ec);
                    BOOST_TEST((out == messages[i]));
                    if (ec) break;
                }
            }
        }
    }
    // The check bites: a 9-bit peer cannot read what a 15-bit window wrote.
    deflate_codec wide(params(false, false, 15));
    strict_peer narrow(9);
    std::string out;
    BOOST_TEST(!!narrow.inflate(wide.deflate(as_bytes(block + block)), out));
}

// With context takeover a repeated message costs a back-reference; without, the same bytes again.
// A peer that resets its window cannot read a message compressed with context.
BOOST_AUTO_TEST_CASE(context_takeover)
{
    std::string text;
    for (int i = 0; i < 40; ++i) text += "line " + std::to_string(i * 7919) + " of the repeated message; ";
    {
        deflate_codec keeps(params(false, false));
        const auto first = keeps.deflate(as_bytes(text));
        const std::size_t first_size = first.size();
        const auto second = keeps.deflate(as_bytes(text));
        BOOST_TEST(second.size() < first_size / 4);
    }
    {
        deflate_codec resets(params(false, true));
        const auto first = resets.deflate(as_bytes(text));
        const bytes first_bytes(first.begin(), first.end());
        const auto second = resets.deflate(as_bytes(text));
        BOOST_TEST((bytes(second.begin(), second.end()) == first_bytes));
    }
    {
        deflate_codec keeps(params(false, false));
        deflate_codec forgetful_peer(params(true));
        std::string out;
        const auto first = keeps.deflate(as_bytes(text));
        BOOST_TEST(!forgetful_peer.inflate(first, true, out, no_limit));
        BOOST_TEST(out == text);
        out.clear();
        const auto second = keeps.deflate(as_bytes(text));
        BOOST_TEST((forgetful_peer.inflate(second, true, out, no_limit) == protocol_error::bad_compression));
    }
}

// RFC 7692 7.1.2.2: a server may limit our window to 8 bits, which zlib cannot compress into;
// then we send uncompressed (RFC 7692 6: any message may be).
BOOST_AUTO_TEST_CASE(window_bits_and_compresses)
{
    struct row {
        int client_bits;
        bool compresses;
    };
    const row rows[] = {{8, false}, {9, true}, {10, true}, {12, true}, {15, true}};
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("client_max_window_bits=" << r.client_bits)
        {
            BOOST_TEST(deflate_codec(params(false, false, r.client_bits)).compresses() == r.compresses);
        }
    }
    // The window the server limits itself to does not matter to our inflater.
    deflate_codec codec({.server_max_window_bits = 8});
    std::string out;
    BOOST_TEST(!codec.inflate(hello, true, out, no_limit));
    BOOST_TEST(out == "Hello");
}

// The limit counts all of `out`, including what it held before; a message of exactly the limit
// passes, one byte more fails with message_too_big.
BOOST_AUTO_TEST_CASE(inflate_limit)
{
    const std::string message(5000, 'x');
    deflate_codec sender(params(false, true));
    const auto packed = sender.deflate(as_bytes(message));
    const bytes wire(packed.begin(), packed.end());
    struct row {
        const char* what;
        std::string before;
        std::size_t limit;
        error_code expected;
    };
    const row rows[] = {
        {"exactly the limit", "", 5000, {}},
        {"one over", "", 4999, tether::error::message_too_big},
        {"far over", "", 100, tether::error::message_too_big},
        {"with 10 bytes before, exactly", "0123456789", 5010, {}},
        {"with 10 bytes before, one over", "0123456789", 5009, tether::error::message_too_big},
        {"no limit at all (SIZE_MAX: one past it wraps)", "", std::numeric_limits<std::size_t>::max(), {}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what)
        {
            deflate_codec codec(params(true));
            std::string out = r.before;
            BOOST_TEST(codec.inflate(wire, true, out, r.limit) == r.expected);
            if (r.limit < std::numeric_limits<std::size_t>::max()) BOOST_TEST(out.size() <= r.limit + 1);
            if (!r.expected) BOOST_TEST((out == r.before + message));
        }
    }
}

namespace {

// 64 MiB of zeros, deflated: about 64 KiB on the wire.
const bytes& bomb()
{
    static const bytes b = [] {
        deflate_codec c(params(false, true));
        const std::string zeros(64 << 20, '\0');
        const auto packed = c.deflate(as_bytes(zeros));
        return bytes(packed.begin(), packed.end());
    }();
    return b;
}

}  // namespace

// A compression bomb stops at the limit: message_too_big, the output no larger than the limit and
// one byte. The allocation is checked separately (known_bugs below).
BOOST_AUTO_TEST_CASE(compression_bomb_stops_at_the_limit)
{
    BOOST_TEST(bomb().size() < 100000u);
    for (std::size_t limit : {std::size_t(1), std::size_t(4096), std::size_t(100000), std::size_t(600000),
                              std::size_t(1000000), std::size_t(1) << 20, std::size_t(16) << 20}) {
        BOOST_TEST_CONTEXT("limit " << limit)
        {
            deflate_codec codec(params(false));
            std::string out;
            BOOST_TEST((codec.inflate(bomb(), true, out, limit) == tether::error::message_too_big));
            BOOST_TEST(out.size() <= limit + 1);
            // In pieces, as frames arrive: stops at the piece that crosses the limit.
            deflate_codec piecewise(params(false));
            std::string out2;
            error_code ec;
            std::size_t at = 0;
            for (; at < bomb().size() && !ec; at += 1000) {
                const std::size_t n = std::min<std::size_t>(1000, bomb().size() - at);
                ec = piecewise.inflate({bomb().data() + at, n}, at + n == bomb().size(), out2, limit);
            }
            BOOST_TEST((ec == tether::error::message_too_big));
            BOOST_TEST(out2.size() <= limit + 1);
            BOOST_TEST(at < bomb().size());  // it did not need the whole bomb
        }
    }
}

// A bomb must not make the inflater allocate past the limit plus a small margin: the output grows
// by doubling and then by a last step to limit + 1, which std::string's own growth policy would
// turn into a doubling (up to twice the limit).
BOOST_AUTO_TEST_CASE(compression_bomb_allocates_no_more_than_the_limit)
{
    for (std::size_t limit : {std::size_t(100000), std::size_t(1000000), std::size_t(1) << 20, std::size_t(16) << 20}) {
        BOOST_TEST_CONTEXT("limit " << limit)
        {
            deflate_codec codec(params(false));
            std::string out;
            BOOST_TEST((codec.inflate(bomb(), true, out, limit) == tether::error::message_too_big));
            const std::size_t margin = std::max<std::size_t>(limit / 16, 64 * 1024);
            BOOST_TEST(out.capacity() <= limit + margin);
        }
    }
}

// RFC 7692 7.2.3.4's example, "Hello" in a block with BFINAL set and one more byte (an empty
// stored block's header, "necessary to allow the payload to be decompressed in the same manner as
// messages compressed using DEFLATE blocks with BFINAL set to 0"): the stream ends with input
// left over, which is padding.
BOOST_AUTO_TEST_CASE(rfc7692_final_block_example)
{
    deflate_codec codec(params(false));
    std::string out;
    const error_code ec = codec.inflate(from_hex("f3 48 cd c9 c9 07 00 00"), true, out, no_limit);
    BOOST_TEST(!ec);
    BOOST_TEST(out == "Hello");
}

// RFC 7692 7.2.1: the compressed data of a message ends with an empty stored block (00 00 00 FF
// FF, or a flush's equivalent), of which the sender removes the last four bytes: an empty message
// is at least "00". Beast's deflate_stream emits nothing for a sync flush without new input after
// an earlier flush; sent as an empty payload, the peer would append 00 00 FF FF, read it as a
// stored block's header and LEN, and take the next message's bytes for its NLEN.
BOOST_AUTO_TEST_CASE(empty_message_after_another)
{
    deflate_codec ours(params(false, false));
    deflate_codec peer(params(false));
    std::string out;
    const auto first = ours.deflate(as_bytes("Hello"));
    BOOST_TEST(!peer.inflate(first, true, out, no_limit));
    BOOST_TEST(out == "Hello");

    const auto empty = ours.deflate({});
    BOOST_TEST(empty.size() >= 1u);
    out.clear();
    BOOST_TEST(!peer.inflate(empty, true, out, no_limit));
    BOOST_TEST(out == "");

    const auto next = ours.deflate(as_bytes("after the empty one"));
    out.clear();
    BOOST_TEST(!peer.inflate(next, true, out, no_limit));
    BOOST_TEST(out == "after the empty one");
}

// Once inflate() has failed it fails again at once: Beast's inflater stays in its error state and
// makes no progress, so a retry must not loop waiting for it.
BOOST_AUTO_TEST_CASE(a_failed_inflater_stays_failed)
{
    deflate_codec peer(params(false));
    std::string out;
    BOOST_TEST((peer.inflate(from_hex("ff ff ff ff"), true, out, no_limit) == protocol_error::bad_compression));
    out.clear();
    BOOST_TEST((peer.inflate(as_bytes("anything"), false, out, no_limit) == protocol_error::bad_compression));
    BOOST_TEST((peer.inflate(as_bytes("anything"), true, out, no_limit) == protocol_error::bad_compression));
}

BOOST_AUTO_TEST_SUITE_END()
