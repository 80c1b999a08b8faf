// Fuzz target: the upgrade response. A real tether::client sends its upgrade request to a fake
// server on 127.0.0.1, which answers with the input's bytes ("{ACCEPT}" becomes the right
// Sec-WebSocket-Accept, so inputs can reach a valid 101 and go on into frames) and closes its side.
// Checked against an independent reading of the same bytes:
//   - a rejection (disconnect kind http_status) is reported only when the bytes begin with a
//     complete HTTP response header, with that status (never 101) and with
//     retry_after == parse_retry_after(its Retry-After field);
//   - tether::classify puts 401/403 in permanent, 404 in not_found, 429/503 in throttled;
//   - parse_retry_after agrees with a plain reading of delta-seconds on any string;
//   - http_status_disconnect maps statuses to tether::error as documented;
//   - after a 101, everything check_established_link demands.
#include "harness.hpp"

#include <tether/disconnect.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace {

using tether::fuzz::require;
namespace http = boost::beast::http;

// Delta-seconds as RFC 9110 10.2.3 has it, around optional blanks; what does not fit 32 bits is
// refused.
std::optional<std::chrono::milliseconds> plain_retry_after(std::string_view v)
{
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    std::uint64_t seconds = 0;
    for (char ch : v) {
        if (ch < '0' || ch > '9') return std::nullopt;
        seconds = std::min<std::uint64_t>(seconds * 10 + static_cast<unsigned>(ch - '0'), 1ull << 40);
    }
    if (seconds > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    return std::chrono::seconds(seconds);
}

void check_pure_functions(std::string_view input)
{
    const std::string_view value = input.substr(0, 64);
    require(tether::parse_retry_after(value) == plain_retry_after(value), "parse_retry_after disagrees");

    const unsigned status =
        input.size() >= 2 ? (static_cast<unsigned char>(input[0]) << 8 | static_cast<unsigned char>(input[1])) % 1000
                          : 0;
    const auto d = tether::http_status_disconnect(status, value);
    require(!tether::describe(d).empty(), "describe");
    if (status < 100 || status > 599) {
        // No HTTP status at all (RFC 9110 15): a protocol failure, not a rejection.
        require(d.kind == tether::disconnect_kind::protocol && d.http_status == 0,
                "http_status_disconnect: a status outside 100-599 taken for one");
        require(d.error == make_error_code(tether::protocol_error::bad_upgrade), "http_status_disconnect: error");
        require(!d.retry_after, "http_status_disconnect: retry_after without a status");
        require(tether::classify(d) == tether::failure_class::transient, "classify of a response without a status");
        return;
    }
    require(d.kind == tether::disconnect_kind::http_status && d.http_status == status,
            "http_status_disconnect: kind or status");
    require(d.retry_after == plain_retry_after(value), "http_status_disconnect: retry_after");
    tether::error e = tether::error::upgrade_rejected;
    if (status == 401 || status == 403) e = tether::error::unauthorized;
    if (status == 404) e = tether::error::session_not_found;
    require(d.error == make_error_code(e), "http_status_disconnect: error");
    tether::failure_class c = tether::failure_class::transient;
    if (status == 401 || status == 403) c = tether::failure_class::permanent;
    if (status == 404) c = tether::failure_class::not_found;
    if (status == 429 || status == 503) c = tether::failure_class::throttled;
    require(tether::classify(d) == c, "classify of an HTTP status");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_pure_functions(input);

    tether::fuzz::exchange_options o;
    o.bytes = std::string(input);
    o.echo = true;
    const auto r = tether::fuzz::run_exchange(o);

    // An independent reading of the response header.
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // the header alone
    boost::system::error_code ec;
    std::size_t header_size = 0;
    while (!ec && !parser.is_header_done() && header_size < r.sent.size()) {
        const std::size_t n =
            parser.put(boost::asio::buffer(r.sent.data() + header_size, r.sent.size() - header_size), ec);
        if (n == 0) break;
        header_size += n;
    }
    const bool header_ok = !ec && parser.is_header_done();

    require(r.ended.has_value(), "the client finished without reporting why (on_close)");
    if (r.ended->kind == tether::disconnect_kind::http_status) {
        require(header_ok, "an HTTP status reported for bytes that are no HTTP response header");
        const auto& res = parser.get();
        require(r.ended->http_status == res.result_int(), "the status reported differs from the status sent");
        require(r.ended->retry_after == tether::parse_retry_after(res[http::field::retry_after]),
                "the Retry-After reported differs from the one sent");
        require(tether::classify(*r.ended) != tether::failure_class::user, "an HTTP status classified as the user's");
    }
    if (r.stats.connections == 0) {
        require(r.frames.empty(), "the client wrote frames without an upgrade");
        require(r.delivered.empty(), "messages delivered without an upgrade");
    } else {
        require(header_ok && parser.get().result_int() == 101, "connected without a 101");
    }
    tether::fuzz::check_established_link(o, r,
                                         header_ok ? std::string_view(r.sent).substr(header_size) : std::string_view());
    return 0;
}
