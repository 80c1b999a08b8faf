// Raw messages and the receive forms, against the in-process test server: text and binary carried
// unchanged, the JSON adapter over the same inbox, the batch forms, try_receive, and how each
// receive ends (callbacks set, cancellation, the client finishing).
#include "support.hpp"

#include <tether/client.hpp>
#include <tether/testing/test_server.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

namespace {

using namespace tether;
using namespace tether::test;
using tether::testing::server_connection;
using tether::testing::test_server;

message text(std::string s)
{
    return {message_kind::text, std::move(s)};
}

message binary(std::string s)
{
    return {message_kind::binary, std::move(s)};
}

std::string bytes(std::size_t n, unsigned seed)
{
    std::string out(n, '\0');
    for (auto& c : out) {
        seed = seed * 1664525u + 1013904223u;
        c = static_cast<char>(seed >> 24);
    }
    return out;
}

// A server's frame holding all of `m`: FIN, unmasked, the shortest length encoding.
std::string frame(const message& m)
{
    std::string out(1, static_cast<char>(m.kind == message_kind::text ? 0x81 : 0x82));
    const std::size_t n = m.payload.size();
    if (n < 126) {
        out += static_cast<char>(n);
    } else if (n < 65536) {
        out += static_cast<char>(126);
        for (int shift = 8; shift >= 0; shift -= 8) out += static_cast<char>(n >> shift);
    } else {
        out += static_cast<char>(127);
        for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>(n >> shift);
    }
    return out + m.payload;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_messages)

BOOST_AUTO_TEST_CASE(text_and_binary_travel_unchanged_both_ways)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor());  // echoes every message, text or binary
    client c(ioc.get_executor(), fast_config(server.url()));
    const std::vector<message> sent{
        binary(""),
        binary("\xC0\xAF\xFE\xFF not UTF-8, not checked"),
        text("not JSON: carried as it is"),
        binary(bytes(125, 1)),
        binary(bytes(65536, 2)),
        text(R"({"type":"m"})"),
        binary(bytes(1024 * 1024, 3)),
    };
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        for (const auto& m : sent) {
            auto [ec] = co_await c.async_send(m, use_tuple);
            BOOST_TEST(!ec);
        }
        for (const auto& m : sent) {
            auto [ec, got] = co_await c.async_receive_raw(use_tuple);
            BOOST_REQUIRE(!ec);
            BOOST_TEST((got.kind == m.kind));
            BOOST_TEST(got.payload.size() == m.payload.size());
            BOOST_TEST((got == m));
        }
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(c.stats().messages_sent == sent.size());
    BOOST_TEST(c.stats().messages_received == sent.size());
}

BOOST_AUTO_TEST_CASE(a_burst_of_large_messages_arrives_whole_however_the_reads_cut_it)
{
    // Sizes around the reader's thresholds (a read's 64 KiB, the inbox's own-storage 16 KiB, the
    // direct read of a large frame's rest), sent back to back: frames straddle reads, sit whole in
    // one, or are read in place; the read size grows; storage is recycled between messages.
    const std::vector<std::size_t> sizes{100, 16383, 16384, 65535, 65536, 65546, 3, 70000, 200000, 0, 40000, 131072, 1};
    std::vector<message> script;
    for (unsigned round = 0; round < 6; ++round)
        for (std::size_t i = 0; i < sizes.size(); ++i)
            script.push_back(binary(bytes(sizes[i], round * 100 + static_cast<unsigned>(i))));
    // One single-frame message each (Beast's server would cut large ones into fragments), all in
    // one write.
    std::string frames;
    for (const auto& m : script) frames += frame(m);
    auto serve = [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        co_await c.async_send_raw(frames);
        co_await c.async_echo();
    };

    // Taken by the application as messages, with a small inbox: the reader pauses and resumes.
    {
        asio::io_context ioc;
        test_server server(ioc.get_executor(), serve);
        client_config cfg = fast_config(server.url());
        cfg.receive_buffer_capacity = 4;
        client c(ioc.get_executor(), cfg);
        run(ioc, [&]() -> asio::awaitable<void> {
            co_await c.async_connect(use_tuple);
            std::size_t next = 0;
            while (next < script.size()) {
                if (next % 2 == 0) {
                    auto [ec, m] = co_await c.async_receive_raw(use_tuple);
                    BOOST_REQUIRE(!ec);
                    BOOST_TEST((m == script[next]), "message " << next);
                    ++next;
                    continue;
                }
                auto [ec, batch] = co_await c.async_receive_raw_some(3, use_tuple);
                BOOST_REQUIRE(!ec);
                for (const auto& m : batch) {
                    BOOST_REQUIRE(next < script.size());
                    BOOST_TEST((m == script[next]), "message " << next);
                    ++next;
                }
            }
            co_await c.async_close(use_tuple);
        });
    }
    // Seen in place by a callback.
    {
        asio::io_context ioc;
        test_server server(ioc.get_executor(), serve);
        std::size_t next = 0;
        client_callbacks cb;
        cb.on_raw_message = [&](const message_view& m) {
            BOOST_REQUIRE(next < script.size());
            BOOST_TEST((m.kind == script[next].kind));
            BOOST_TEST((m.payload == script[next].payload), "message " << next);
            ++next;
        };
        client c(ioc.get_executor(), fast_config(server.url()), cb);
        run(ioc, [&]() -> asio::awaitable<void> {
            co_await c.async_connect(use_tuple);
            while (next < script.size()) co_await pause(1ms);
            co_await c.async_close(use_tuple);
        });
        BOOST_TEST(next == script.size());
    }
}

BOOST_AUTO_TEST_CASE(json_and_raw_receives_take_from_one_inbox_in_order)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        // Named, not temporaries in the co_await: GCC 12 destroys a braced temporary there early.
        const std::vector<message> script{text(R"({"type":"a"})"), binary("\x01\x02"), text("not json"),
                                          text(R"({"type":"b"})"), binary("\x03")};
        co_await c.async_accept();
        for (const auto& m : script) co_await c.async_send(m);
        co_await c.async_echo();
    });
    client c(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        // The JSON adapter skips what is not an object with a string "type"...
        auto [e1, a] = co_await c.async_receive(use_tuple);
        BOOST_REQUIRE(!e1);
        BOOST_TEST(a.at("type") == "a");
        auto [e2, b] = co_await c.async_receive(use_tuple);
        BOOST_REQUIRE(!e2);
        BOOST_TEST(b.at("type") == "b");
        // ...while the raw receive takes the next message, whatever it is.
        auto [e3, raw] = co_await c.async_receive_raw(use_tuple);
        BOOST_REQUIRE(!e3);
        BOOST_TEST((raw == binary("\x03")));
        co_await c.async_close(use_tuple);
    });
    const auto s = c.stats();
    BOOST_TEST(s.messages_received == 3u);
    BOOST_TEST(s.messages_binary_skipped == 1u);  // the binary one the JSON receive skipped
    BOOST_TEST(s.messages_malformed == 1u);       // "not json"
    BOOST_TEST(s.messages_ignored == 0u);
}

// Many JSON servers send binary frames (Node's `ws` echoes text as binary): the JSON layer takes a
// binary JSON object with a string "type" as it takes text, whichever way the application
// receives, and reports every other binary message instead of dropping it in silence.
BOOST_AUTO_TEST_CASE(binary_json_is_delivered_like_text_and_other_binary_is_reported)
{
    enum class way { callback, receive, receive_some, try_receive };
    struct row {
        way how;
        const char* name;
    };
    const row rows[] = {
        {way::callback, "on_message"},
        {way::receive, "async_receive"},
        {way::receive_some, "async_receive_some"},
        {way::try_receive, "try_receive"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.name)
        {
            asio::io_context ioc;
            test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
                const std::vector<message> script{
                    text(R"({"type":"a"})"),
                    binary(R"({"type":"b","n":2})"),
                    binary(std::string("\0\xFF\x10", 3)),  // not JSON: reported
                    binary("[1,2]"),                       // JSON of another shape: reported too
                    text("[3]"),                           // as text: counted only, as ever
                    text("not json"),                      // as text: reported, as ever
                    binary(R"({"type":"c"})"),
                };
                co_await c.async_accept();
                for (const auto& m : script) co_await c.async_send(m);
                co_await c.async_echo();
            });
            event_log log(ioc.get_executor());
            client_callbacks cb = log.callbacks(r.how == way::callback);
            std::vector<error_code> codes;
            cb.on_error = [&codes, record = cb.on_error](error_code ec, const std::string& what) {
                codes.push_back(ec);
                record(ec, what);
            };
            client c(ioc.get_executor(), fast_config(server.url()), cb);
            std::vector<std::string> types;
            run(ioc, [&]() -> asio::awaitable<void> {
                co_await c.async_connect(use_tuple);
                while (types.size() < 3) {
                    switch (r.how) {
                    case way::callback: {
                        co_await log.wait_until([&] { return log.count("message") == 3; });
                        for (const auto& m : log.all("message"))
                            types.emplace_back(boost::json::parse(m.text).at("type").as_string());
                        break;
                    }
                    case way::receive: {
                        auto [ec, v] = co_await c.async_receive(use_tuple);
                        BOOST_REQUIRE(!ec);
                        types.emplace_back(v.at("type").as_string());
                        break;
                    }
                    case way::receive_some: {
                        auto [ec, batch] = co_await c.async_receive_some(8, use_tuple);
                        BOOST_REQUIRE(!ec);
                        for (const auto& v : batch) types.emplace_back(v.at("type").as_string());
                        break;
                    }
                    case way::try_receive: {
                        // Waits for the inbox without taking from it, then takes without waiting.
                        co_await eventually([&] { return c.stats().inbox_depth > 0; });
                        while (auto v = c.try_receive()) types.emplace_back(v->at("type").as_string());
                        break;
                    }
                    }
                }
                // The reports are posted to the strand as the messages are taken.
                co_await log.wait_until([&] { return log.count("error") == 3; });
                co_await c.async_close(use_tuple);
            });
            BOOST_TEST((types == std::vector<std::string>{"a", "b", "c"}));
            const auto s = c.stats();
            BOOST_TEST(s.messages_received == 3u);
            BOOST_TEST(s.messages_binary_skipped == 2u);
            BOOST_TEST(s.messages_ignored == 1u);
            BOOST_TEST(s.messages_malformed == 1u);
            const auto errors = log.all("error");
            BOOST_REQUIRE(errors.size() == 3u);
            BOOST_REQUIRE(codes.size() == 3u);
            BOOST_TEST((codes[0] == error::binary_message_skipped));
            BOOST_TEST(errors[0].text.starts_with("binary message skipped: not JSON"), errors[0].text);
            BOOST_TEST((codes[1] == error::binary_message_skipped));
            BOOST_TEST(errors[1].text == R"(binary message skipped: JSON, but not an object with a string "type")");
            BOOST_TEST((codes[2] != error::binary_message_skipped));  // the parser's own error
            BOOST_TEST(errors[2].text.starts_with("malformed JSON message skipped"), errors[2].text);
            BOOST_TEST(log.count("reconnecting") == 0u);  // the skips leave the link up
        }
    }
}

// A response that comes back in a binary frame answers its request.
BOOST_AUTO_TEST_CASE(a_binary_response_answers_a_request)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        const auto request = co_await c.async_receive();
        if (!request) co_return;
        const auto id = boost::json::parse(*request).at("request_id").as_string();
        const message response =
            binary(R"({"type":"control_response","response":{"request_id":")" + std::string(id) + R"("}})");
        co_await c.async_send(response);
        co_await c.async_echo();
    });
    client c(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        const std::string id = make_request_id();
        // Built before the co_await: GCC 12 miscompiles a braced initialiser inside one.
        boost::json::value request = make_control_request(id, boost::json::object{{"subtype", "interrupt"}});
        auto match = [id](const boost::json::value& m) { return is_control_response_for(m, id); };
        auto [ec, v] = co_await c.async_request(std::move(request), match, 5s, use_tuple);
        BOOST_TEST(!ec);
        BOOST_TEST(is_control_response_for(v, id));
        co_await c.async_close(use_tuple);
    });
    BOOST_TEST(c.stats().messages_binary_skipped == 0u);
}

BOOST_AUTO_TEST_CASE(batch_forms_and_try_receive)
{
    asio::io_context ioc;
    const int total = 100;
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        for (int i = 0; i < total; ++i) co_await c.async_send(R"({"type":"m","i":)" + std::to_string(i) + "}");
        co_await c.async_echo();
    });
    client c(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        BOOST_TEST(!c.try_receive());  // nothing yet, and no waiting
        co_await c.async_connect(use_tuple);
        int next = 0;
        while (next < total / 2) {
            auto [ec, batch] = co_await c.async_receive_some(10, use_tuple);
            BOOST_REQUIRE(!ec);
            BOOST_REQUIRE(!batch.empty());
            BOOST_TEST(batch.size() <= 10u);
            for (const auto& v : batch) BOOST_TEST(v.at("i") == next++);
        }
        while (next < total) {
            if (auto v = c.try_receive()) {
                BOOST_TEST(v->at("i") == next++);
                continue;
            }
            auto [ec, raw] = co_await c.async_receive_raw_some(7, use_tuple);
            BOOST_REQUIRE(!ec);
            BOOST_TEST(raw.size() <= 7u);
            for (const auto& m : raw) BOOST_TEST(boost::json::parse(m.payload).at("i") == next++);
        }
        BOOST_TEST(!c.try_receive_raw());
        auto [zero, none] = co_await c.async_receive_some(0, use_tuple);
        BOOST_TEST((zero == asio::error::invalid_argument));
        co_await c.async_close(use_tuple);
    });
}

// A batch's values share one arena, sized from the first messages up to a bound: large messages
// taken in batches outgrow it, and every value must come out whole.
BOOST_AUTO_TEST_CASE(batches_of_large_messages_come_out_whole)
{
    asio::io_context ioc;
    const int total = 12;
    const auto text_of = [](int i) {
        return std::string(300 * 1024 + static_cast<std::size_t>(i) * 4099, char('a' + i));
    };
    test_server server(ioc.get_executor(), [&](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        for (int i = 0; i < total; ++i) {
            const boost::json::object m{{"type", "m"}, {"i", i}, {"text", text_of(i)}, {"list", {i, "x", true}}};
            co_await c.async_send(boost::json::serialize(m));
        }
        co_await c.async_echo();
    });
    client c(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        std::vector<boost::json::value> all;
        while (all.size() < std::size_t(total)) {
            auto [ec, batch] = co_await c.async_receive_some(64, use_tuple);
            BOOST_REQUIRE(!ec);
            for (auto& v : batch) all.push_back(std::move(v));  // values outlive their batch
        }
        for (int i = 0; i < total; ++i) {
            const auto& m = all[static_cast<std::size_t>(i)].as_object();
            BOOST_TEST(m.at("i") == i);
            BOOST_TEST((m.at("text").as_string() == text_of(i)));
            BOOST_TEST((m.at("list") == boost::json::array{i, "x", true}));
        }
        co_await c.async_close(use_tuple);
    });
}

BOOST_AUTO_TEST_CASE(a_raw_callback_sees_every_message_and_takes_them_from_the_receives)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        const message first = binary(std::string("\0\xFF", 2));
        co_await c.async_accept();
        co_await c.async_send(first);
        co_await c.async_send("plain text");
        co_await c.async_echo();
    });
    std::vector<message> seen;
    client_callbacks cb;
    cb.on_raw_message = [&](const message_view& m) { seen.push_back({m.kind, std::string(m.payload)}); };
    client c(ioc.get_executor(), fast_config(server.url()), cb);
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        while (seen.size() < 2) co_await pause(1ms);
        auto [e1, m] = co_await c.async_receive_raw(use_tuple);
        BOOST_TEST((e1 == asio::error::operation_not_supported));
        auto [e2, v] = co_await c.async_receive(use_tuple);
        BOOST_TEST((e2 == asio::error::operation_not_supported));
        co_await c.async_close(use_tuple);
    });
    BOOST_REQUIRE(seen.size() == 2u);
    BOOST_TEST((seen[0] == binary(std::string("\0\xFF", 2))));
    BOOST_TEST((seen[1] == text("plain text")));

    client_callbacks both;
    both.on_message = [](const boost::json::value&) {};
    both.on_raw_message = [](const message_view&) {};
    BOOST_CHECK_EXCEPTION(
        client(ioc.get_executor(), fast_config(server.url()), both), std::invalid_argument,
        [](const std::invalid_argument& e) { return std::string(e.what()).starts_with("on_raw_message"); });
}

BOOST_AUTO_TEST_CASE(a_waiting_batch_receive_is_cancellable_and_ends_when_the_client_does)
{
    asio::io_context ioc;
    test_server server(ioc.get_executor(), [](server_connection& c) -> asio::awaitable<void> {
        co_await c.async_accept();
        co_await c.async_echo();
    });
    client c(ioc.get_executor(), fast_config(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        co_await c.async_connect(use_tuple);
        asio::cancellation_signal signal;
        error_code cancelled;
        bool done = false;
        c.async_receive_some(8, asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, auto) {
                                 cancelled = ec;
                                 done = true;
                             }));
        co_await pause(5ms);
        BOOST_TEST(!done);
        signal.emit(asio::cancellation_type::terminal);
        while (!done) co_await pause(1ms);
        BOOST_TEST((cancelled == asio::error::operation_aborted));

        // Messages buffered when the client finishes are still delivered; then client_closed.
        const message last_one = text(R"({"type":"last"})");
        co_await c.async_send(last_one, use_tuple);
        while (c.stats().inbox_depth == 0) co_await pause(1ms);
        error_code waiting_result;
        bool waiting_done = false;
        co_await c.async_close(use_tuple);
        auto [e1, last] = co_await c.async_receive_raw_some(8, use_tuple);
        BOOST_TEST(!e1);
        BOOST_TEST(last.size() == 1u);
        c.async_receive([&](error_code ec, boost::json::value) {
            waiting_result = ec;
            waiting_done = true;
        });
        while (!waiting_done) co_await pause(1ms);
        BOOST_TEST((waiting_result == error::client_closed));
    });
}

BOOST_AUTO_TEST_SUITE_END()
