#include <tether/disconnect.hpp>

#include "disconnect.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/test/unit_test.hpp>

#include <ctime>

using namespace std::chrono_literals;
using tether::failure_class;

BOOST_AUTO_TEST_SUITE(disconnect)

BOOST_AUTO_TEST_CASE(close_codes_map_to_errors_and_classes)
{
    struct row {
        std::uint16_t code;
        tether::error error;
        failure_class cls;
    };
    const row rows[] = {
        {1000, tether::error::closed_by_peer, failure_class::transient},
        {1001, tether::error::closed_by_peer, failure_class::transient},
        {1006, tether::error::closed_by_peer, failure_class::transient},
        {1009, tether::error::message_too_big, failure_class::transient},
        {1011, tether::error::closed_by_peer, failure_class::transient},
        {4001, tether::error::session_not_found, failure_class::not_found},
        {4003, tether::error::unauthorized, failure_class::permanent},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("close " << r.code)
        {
            const auto d = tether::close_frame_disconnect(r.code, "why");
            BOOST_TEST((d.kind == tether::disconnect_kind::close_frame));
            BOOST_TEST(d.close_code == r.code);
            BOOST_TEST((d.error == r.error));
            BOOST_TEST((tether::classify(d) == r.cls));
        }
    }
    // Three digits that are no HTTP status: the server does not speak HTTP.
    for (unsigned status : {0u, 99u, 600u, 999u}) {
        BOOST_TEST_CONTEXT("status " << status)
        {
            const auto d = tether::http_status_disconnect(status);
            BOOST_TEST((d.kind == tether::disconnect_kind::protocol));
            BOOST_TEST((d.error == tether::protocol_error::bad_upgrade));
            BOOST_TEST(d.http_status == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(http_statuses_map_to_errors_and_classes)
{
    struct row {
        unsigned status;
        tether::error error;
        failure_class cls;
    };
    const row rows[] = {
        {400, tether::error::upgrade_rejected, failure_class::transient},
        {401, tether::error::unauthorized, failure_class::permanent},
        {403, tether::error::unauthorized, failure_class::permanent},
        {404, tether::error::session_not_found, failure_class::not_found},
        {429, tether::error::upgrade_rejected, failure_class::throttled},
        {500, tether::error::upgrade_rejected, failure_class::transient},
        {503, tether::error::upgrade_rejected, failure_class::throttled},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("HTTP " << r.status)
        {
            const auto d = tether::http_status_disconnect(r.status);
            BOOST_TEST(d.http_status == r.status);
            BOOST_TEST((d.error == r.error));
            BOOST_TEST((tether::classify(d) == r.cls));
        }
    }
}

BOOST_AUTO_TEST_CASE(stack_errors_are_transient_unless_permanent)
{
    using k = tether::disconnect_kind;
    BOOST_TEST((tether::classify(tether::error_disconnect(k::connect, boost::asio::error::connection_refused)) ==
                failure_class::transient));
    BOOST_TEST((tether::classify(tether::error_disconnect(k::transport, boost::asio::error::connection_reset)) ==
                failure_class::transient));
    BOOST_TEST((tether::classify(tether::error_disconnect(k::resolve, boost::asio::error::host_not_found)) ==
                failure_class::permanent));
    BOOST_TEST((tether::classify({.kind = k::user}) == failure_class::user));
    BOOST_TEST((tether::classify({.kind = k::heartbeat_timeout, .error = tether::error::heartbeat_timeout}) ==
                failure_class::transient));
}

BOOST_AUTO_TEST_CASE(retry_after_as_an_http_date_is_the_wait_until_then)
{
    using std::chrono::system_clock;
    using namespace std::chrono;
    const system_clock::time_point now = sys_days(1994y / November / 6) + 8h + 49min + 7s;  // 08:49:07
    struct row {
        const char* value;
        std::optional<milliseconds> wait;
    };
    const row rows[] = {
        {"Sun, 06 Nov 1994 08:49:37 GMT", 30s},      // IMF-fixdate
        {"Sunday, 06-Nov-94 08:49:37 GMT", 30s},     // RFC 850
        {"Sun Nov  6 08:49:37 1994", 30s},           // asctime
        {" Sun, 06 Nov 1994 09:49:07 GMT ", 3600s},  // spaces around
        {"Sun, 06 Nov 1994 08:49:07 GMT", 0s},       // now
        {"Sat, 05 Nov 1994 08:49:37 GMT", 0s},       // past: no wait
        {"Mon, 07 Nov 1994 08:49:07 GMT", 86400s},   // a day on
        {"Fri, 31 Dec 0999 23:59:59 GMT", 0s},       // long past (found by the fuzzer: no overflow)
        {"Fri, 31 Dec 9999 23:59:59 GMT", milliseconds(std::chrono::seconds(UINT32_MAX))},  // capped
        {"Sun, 06 Nov 1994 08:49:37 UTC", std::nullopt},                                    // only GMT
        {"Sun, 31 Nov 1994 08:49:37 GMT", std::nullopt},                                    // no such day
        {"Sun, 06 Foo 1994 08:49:37 GMT", std::nullopt},
        {"Sun, 06 Nov 1994 25:49:37 GMT", std::nullopt},
        {"Sun, 6 Nov 1994 08:49:37 GMT", std::nullopt},  // two digits for the day
        {"Sun Nov 6 08:49:37 1994", std::nullopt},       // asctime pads the day with a space
        {"tomorrow", std::nullopt},
    };
    for (const auto& r : rows) BOOST_TEST_CONTEXT(r.value)
        {
            BOOST_TEST((tether::parse_retry_after(r.value, now) == r.wait));
        }
    // The wait counts from the real clock in the disconnect: a date a minute on is about a minute.
    const auto in_a_minute = system_clock::now() + 60s;
    const std::time_t t = system_clock::to_time_t(in_a_minute);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char date[64];
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    const auto d = tether::http_status_disconnect(503, date);
    BOOST_REQUIRE(d.retry_after.has_value());
    BOOST_TEST((*d.retry_after >= 58s && *d.retry_after <= 61s), d.retry_after->count());
}

BOOST_AUTO_TEST_CASE(retry_after_parsing)
{
    BOOST_TEST((tether::parse_retry_after("120") == std::optional<std::chrono::milliseconds>(120s)));
    BOOST_TEST((tether::parse_retry_after(" 5 ") == std::optional<std::chrono::milliseconds>(5s)));
    BOOST_TEST((tether::parse_retry_after("0") == std::optional<std::chrono::milliseconds>(0s)));
    BOOST_TEST(!tether::parse_retry_after(""));
    BOOST_TEST(!tether::parse_retry_after("-1"));
    BOOST_TEST(!tether::parse_retry_after("1.5"));
    BOOST_TEST(!tether::parse_retry_after("99999999999999"));
    BOOST_TEST((tether::http_status_disconnect(429, "3").retry_after == std::optional<std::chrono::milliseconds>(3s)));
}

BOOST_AUTO_TEST_CASE(descriptions_are_readable)
{
    BOOST_TEST(tether::describe(tether::close_frame_disconnect(4001, "session not found")) ==
               "close 4001 (session not found)");
    BOOST_TEST(tether::describe(tether::http_status_disconnect(429, "3")) == "HTTP 429 on upgrade, Retry-After 3 s");
    BOOST_TEST(tether::describe({.kind = tether::disconnect_kind::user}) == "closed by the application");
    BOOST_TEST(tether::describe(
                   tether::error_disconnect(tether::disconnect_kind::connect, boost::asio::error::connection_refused))
                   .starts_with("connect: "));
}

// How the failures of opening a link become typed disconnects.
BOOST_AUTO_TEST_CASE(failures_of_opening_a_link_map_to_their_stage)
{
    namespace http = boost::beast::http;
    using k = tether::disconnect_kind;
    struct row {
        const char* name;
        tether::disconnect got;
        k kind;
        tether::error_code error;
    };
    const tether::error_code ssl_failure(1, boost::asio::error::get_ssl_category());
    const row rows[] = {
        {"resolve, out of time", tether::detail::step_failure(k::resolve, boost::beast::error::timeout), k::timeout,
         tether::error::connect_timeout},
        {"resolve failed", tether::detail::step_failure(k::resolve, boost::asio::error::host_not_found), k::resolve,
         boost::asio::error::host_not_found},
        {"connect refused", tether::detail::step_failure(k::connect, boost::asio::error::connection_refused),
         k::connect, boost::asio::error::connection_refused},
        {"TLS out of time", tether::detail::step_failure(k::tls, boost::beast::error::timeout), k::timeout,
         tether::error::connect_timeout},
        {"TLS failed", tether::detail::step_failure(k::tls, ssl_failure), k::tls, ssl_failure},
        {"proxy out of time", tether::detail::timed_out(k::proxy), k::timeout, tether::error::connect_timeout},
        {"upgrade out of time", tether::detail::upgrade_failure(boost::beast::error::timeout), k::timeout,
         tether::error::handshake_timeout},
        {"upgrade: TLS alert in the first read", tether::detail::upgrade_failure(ssl_failure), k::tls, ssl_failure},
        {"upgrade: not HTTP", tether::detail::upgrade_failure(http::error::bad_version), k::protocol,
         http::error::bad_version},
        {"upgrade: half an answer", tether::detail::upgrade_failure(http::error::partial_message), k::protocol,
         http::error::partial_message},
        {"upgrade: hung up before answering", tether::detail::upgrade_failure(http::error::end_of_stream), k::transport,
         http::error::end_of_stream},
        {"upgrade: reset", tether::detail::upgrade_failure(boost::asio::error::connection_reset), k::transport,
         boost::asio::error::connection_reset},
    };
    for (const auto& r : rows) BOOST_TEST_CONTEXT(r.name)
        {
            BOOST_TEST(tether::to_string(r.got.kind) == tether::to_string(r.kind));
            BOOST_TEST((r.got.error == r.error), r.got.error.message());
        }
    BOOST_TEST(tether::detail::timed_out(k::resolve).reason == "resolve exceeded connect_timeout");
}

BOOST_AUTO_TEST_SUITE_END()
