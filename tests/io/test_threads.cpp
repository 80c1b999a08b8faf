// One client used from several threads at once while it coalesces sends into batches, and clients
// on several threads sharing an endpoint group: the cases
// that scripts/sanitize runs under ThreadSanitizer (as tests/thread_tests, this file alone), and
// that the io suite runs as well. The test server runs on a thread of its own (it is not thread
// safe: it is only touched from that thread, or after it stopped); the client's io_context runs
// on two threads; the application's threads send, receive and close.
//
// Every case checks that each send completes exactly once (with success or an error a send may
// end with), that each echoed message is received exactly once, and that the messages of one
// sending thread arrive, at the server and back at the client, in the order it sent them.
#include <tether/client.hpp>

#include "support.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

using namespace tether::test;
using tether::client;
using tether::error;
using tether::error_code;
using tether::testing::test_server;
namespace json = boost::json;

namespace {

// The next message, or the error, as a future that holds no exception. Where a receive is meant
// to fail (the client closes under it), use_future would hand an exception from the client's
// thread to the waiting one, freed through libstdc++'s atomic reference count, which TSan does
// not see (libstdc++ is not instrumented) and reports as a race. (as_tuple(use_future) does not
// compile with Asio 1.81.)
std::future<std::pair<error_code, json::value>> receive_future(client& c)
{
    auto done = std::make_shared<std::promise<std::pair<error_code, json::value>>>();
    auto f = done->get_future();
    c.async_receive([done](error_code ec, json::value v) { done->set_value({ec, std::move(v)}); });
    return f;
}

constexpr int senders = 4;
constexpr int per_sender = 2000;
constexpr int total = senders * per_sender;

std::string numbered(int t, int i)
{
    return R"({"type":"m","t":)" + std::to_string(t) + R"(,"i":)" + std::to_string(i) + "}";
}

// (sending thread, index) of a numbered message.
std::pair<int, int> number_of(const json::value& v)
{
    return {static_cast<int>(v.at("t").as_int64()), static_cast<int>(v.at("i").as_int64())};
}

// Polls `pred` until it holds or `limit` passes.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit = 60s)
{
    const auto deadline = clock_type::now() + limit;
    while (!pred()) {
        if (clock_type::now() >= deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// Checks that in `sequence` each sending thread's indices strictly increase.
void check_per_thread_order(const std::vector<std::pair<int, int>>& sequence, const char* where)
{
    std::vector<int> last(senders, -1);
    for (const auto& [t, i] : sequence) {
        BOOST_REQUIRE_MESSAGE(t >= 0 && t < senders, where << ": a message from no sending thread");
        BOOST_REQUIRE_MESSAGE(i > last[t],
                              where << ": thread " << t << "'s message " << i << " came after " << last[t]);
        last[t] = i;
    }
}

// The echo server on a thread of its own, and the client's io_context on two more.
struct world {
    asio::io_context server_ioc;
    test_server server{server_ioc.get_executor()};
    asio::executor_work_guard<asio::io_context::executor_type> server_work{server_ioc.get_executor()};
    std::thread server_thread{[this] { server_ioc.run(); }};

    asio::io_context client_ioc;
    asio::executor_work_guard<asio::io_context::executor_type> client_work{client_ioc.get_executor()};
    std::vector<std::thread> io;

    world()
    {
        for (int i = 0; i < 2; ++i) io.emplace_back([this] { client_ioc.run(); });
    }

    ~world() { stop(); }

    tether::client_config config() const
    {
        auto cfg = fast_config(server.url());
        cfg.send_queue_capacity = total;  // no send_queue_full: every send is accepted
        return cfg;
    }

    /// Stops both contexts and joins their threads; after it, `server` may be read from here.
    void stop()
    {
        if (!server_thread.joinable()) return;
        asio::post(server_ioc, [this] { server.stop(); });
        server_work.reset();
        server_thread.join();
        client_work.reset();
        for (auto& t : io) t.join();
    }

    /// What the server received, in order (after `stop`).
    std::vector<std::pair<int, int>> server_sequence() const
    {
        std::vector<std::pair<int, int>> out;
        for (const auto& m : server.messages()) out.push_back(number_of(json::parse(m)));
        return out;
    }
};

// The messages two receiving threads took, each in its own order.
struct receipts {
    std::mutex mutex;
    std::vector<std::pair<int, int>> by_async, by_try;
    std::atomic<int> count{0};

    void add(std::vector<std::pair<int, int>>& to, const json::value& v)
    {
        std::lock_guard lock(mutex);
        to.push_back(number_of(v));
        ++count;
    }

    // Every numbered message exactly once, each receiver's share in per-thread order.
    void check_all_once()
    {
        check_per_thread_order(by_async, "async_receive");
        check_per_thread_order(by_try, "try_receive");
        std::map<std::pair<int, int>, int> seen;
        for (const auto& n : by_async) ++seen[n];
        for (const auto& n : by_try) ++seen[n];
        BOOST_TEST(seen.size() == std::size_t(total));
        for (const auto& [n, times] : seen) BOOST_REQUIRE_MESSAGE(times == 1, "message received " << times << " times");
        BOOST_TEST_MESSAGE("async_receive took " << by_async.size() << ", try_receive " << by_try.size());
    }
};

// A thread that takes messages with try_receive until `count` reaches `total` or `stop` is set.
std::thread try_receiver(client& c, receipts& r, std::atomic<bool>& stop)
{
    return std::thread([&] {
        while (!stop && r.count < total) {
            if (auto v = c.try_receive())
                r.add(r.by_try, *v);
            else
                std::this_thread::sleep_for(50us);
        }
    });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_threads)

BOOST_AUTO_TEST_CASE(use_future_sends_from_four_threads_are_echoed_once_in_order)
{
    world w;
    std::optional<client> c(std::in_place, w.client_ioc.get_executor(), w.config());
    BOOST_REQUIRE_NO_THROW(c->async_connect(asio::use_future).get());

    receipts r;
    std::atomic<bool> stop_receiving{false};
    // One thread waits in async_receive while another polls try_receive. (Boost.Test's
    // assertions are for the main thread only: the other threads record, the main thread checks.)
    error_code receive_ended;
    std::thread async_receiver([&] {
        for (;;) {
            auto [ec, v] = receive_future(*c).get();
            if (ec) {
                receive_ended = ec;
                return;
            }
            r.add(r.by_async, v);
        }
    });
    std::thread polling = try_receiver(*c, r, stop_receiving);

    std::vector<std::thread> sending;
    std::atomic<int> sent{0}, failed{0};
    for (int t = 0; t < senders; ++t)
        sending.emplace_back([&, t] {
            std::vector<std::future<void>> done;
            done.reserve(per_sender);
            for (int i = 0; i < per_sender; ++i) done.push_back(c->async_send(numbered(t, i), asio::use_future));
            for (auto& f : done) {
                try {
                    f.get();
                    ++sent;
                } catch (const boost::system::system_error&) {
                    ++failed;  // (then TSan may report the exception's hand-over as well)
                }
            }
        });
    for (auto& t : sending) t.join();
    BOOST_TEST(sent.load() == total);
    BOOST_TEST(failed.load() == 0);

    BOOST_TEST(wait_for([&] { return r.count.load() >= total; }));
    stop_receiving = true;
    polling.join();
    BOOST_REQUIRE_NO_THROW(c->async_close(asio::use_future).get());  // ends the waiting async_receive
    async_receiver.join();
    BOOST_TEST((receive_ended == error::client_closed));
    c.reset();
    w.stop();

    r.check_all_once();
    const auto at_server = w.server_sequence();
    BOOST_TEST(at_server.size() == std::size_t(total));
    check_per_thread_order(at_server, "the server");
}

BOOST_AUTO_TEST_CASE(callback_sends_from_four_threads_complete_exactly_once)
{
    world w;
    std::optional<client> c(std::in_place, w.client_ioc.get_executor(), w.config());
    BOOST_REQUIRE_NO_THROW(c->async_connect(asio::use_future).get());

    receipts r;
    std::atomic<bool> stop_receiving{false};
    // Receiving: a chain of async_receive callbacks on the client's threads, and a polling thread.
    std::promise<error_code> chain_ended;
    std::function<void(error_code, json::value)> on_receive = [&](error_code ec, json::value v) {
        if (ec) {
            chain_ended.set_value(ec);
            return;
        }
        r.add(r.by_async, v);
        c->async_receive(on_receive);
    };
    c->async_receive(on_receive);
    std::thread polling = try_receiver(*c, r, stop_receiving);

    std::vector<std::atomic<int>> completions(total);
    std::atomic<int> completed{0}, errors{0};
    std::vector<std::thread> sending;
    for (int t = 0; t < senders; ++t)
        sending.emplace_back([&, t] {
            for (int i = 0; i < per_sender; ++i)
                c->async_send(numbered(t, i), [&, n = t * per_sender + i](error_code ec) {
                    ++completions[n];
                    if (ec) ++errors;
                    ++completed;
                });
        });
    for (auto& t : sending) t.join();

    const bool all_in = wait_for([&] { return completed.load() >= total && r.count.load() >= total; });
    BOOST_TEST(all_in);
    if (!all_in) {
        const auto s = c->stats();
        BOOST_TEST_MESSAGE("sends completed " << completed.load() << ", received " << r.count.load()
                                              << "; the client counted " << s.messages_received << " received, "
                                              << s.inbox_depth << " in its inbox, " << s.messages_malformed
                                              << " malformed, " << s.messages_ignored << " ignored");
    }
    stop_receiving = true;
    polling.join();
    BOOST_REQUIRE_NO_THROW(c->async_close(asio::use_future).get());
    auto ended = chain_ended.get_future();
    BOOST_REQUIRE(ended.wait_for(10s) == std::future_status::ready);
    BOOST_TEST((ended.get() == error::client_closed));
    c.reset();
    w.stop();

    BOOST_TEST(errors.load() == 0);
    for (int n = 0; n < total; ++n)
        BOOST_REQUIRE_MESSAGE(completions[n] == 1, "send " << n << " completed " << completions[n] << " times");
    r.check_all_once();
    const auto at_server = w.server_sequence();
    BOOST_TEST(at_server.size() == std::size_t(total));
    check_per_thread_order(at_server, "the server");
}

// Sends from four threads, with callbacks that count; `disrupt` runs on this thread once
// `threshold` sends are under way and ends the client's life while the others keep sending.
// Each thread calls into the client holding a mutex of its own, and stops once `alive` is false;
// `end_life` clears it and then takes every thread's mutex, so that no call is under way when
// the client is destroyed.
struct disrupted_sends {
    world w;
    std::optional<client> c{std::in_place, w.client_ioc.get_executor(), w.config()};
    std::array<std::mutex, senders + 1> calling;  // the senders', and the receiving thread's
    std::atomic<bool> alive{true};
    std::vector<std::atomic<int>> completions = std::vector<std::atomic<int>>(total);
    std::vector<std::atomic<bool>> succeeded = std::vector<std::atomic<bool>>(total);
    std::atomic<int> started{0}, completed{0}, unexpected{0};

    void run(int threshold, const std::function<void()>& disrupt)
    {
        BOOST_REQUIRE_NO_THROW(c->async_connect(asio::use_future).get());
        // A receive waiting from another thread while the client ends.
        std::promise<error_code> receive_ended;
        std::thread receiving([&] {
            for (;;) {
                std::future<std::pair<error_code, json::value>> next;
                {
                    std::lock_guard lock(calling[senders]);
                    if (!alive) break;
                    next = receive_future(*c);
                }
                const auto [ec, v] = next.get();
                if (ec) {
                    receive_ended.set_value(ec);
                    return;
                }
            }
            receive_ended.set_value({});
        });

        std::vector<std::thread> sending;
        for (int t = 0; t < senders; ++t)
            sending.emplace_back([&, t] {
                for (int i = 0; i < per_sender; ++i) {
                    std::lock_guard lock(calling[t]);
                    if (!alive) return;
                    ++started;
                    c->async_send(numbered(t, i), [this, n = t * per_sender + i](error_code ec) {
                        ++completions[n];
                        if (!ec)
                            succeeded[n] = true;
                        else if (ec != error::client_closed && ec != error::connection_lost)
                            ++unexpected;
                        ++completed;
                    });
                    // Spread the sends out a little, so that the disruption lands among them.
                    if (i % 16 == 15) std::this_thread::sleep_for(20us);
                }
            });
        BOOST_TEST(wait_for([&] { return started.load() >= threshold; }));
        disrupt();
        for (auto& t : sending) t.join();
        receiving.join();
        auto receive = receive_ended.get_future();
        BOOST_REQUIRE(receive.wait_for(10s) == std::future_status::ready);
        const error_code receive_ec = receive.get();
        BOOST_TEST((!receive_ec || receive_ec == error::client_closed));

        // Every send that started completes exactly once, even with the client gone.
        BOOST_TEST(wait_for([&] { return completed.load() >= started.load(); }, 20s));
        end_life([&] { c.reset(); });  // when `disrupt` did not
        w.stop();
        BOOST_TEST(unexpected.load() == 0);
        BOOST_TEST(completed.load() == started.load());
        int once = 0;
        for (int n = 0; n < total; ++n) {
            BOOST_REQUIRE_MESSAGE(completions[n] <= 1, "send " << n << " completed " << completions[n] << " times");
            once += completions[n];
        }
        BOOST_TEST(once == started.load());
        int ok = 0;
        for (int n = 0; n < total; ++n) ok += succeeded[n] ? 1 : 0;
        BOOST_TEST_MESSAGE(started.load() << " sends started, " << once << " completed, " << ok << " of them sent");
    }

    /// Stops the application's threads calling into the client, then runs `last` (none calls).
    void end_life(const std::function<void()>& last)
    {
        alive = false;
        std::vector<std::unique_lock<std::mutex>> locks;
        for (auto& m : calling) locks.emplace_back(m);
        last();
    }

    /// The server's messages: in per-thread order, and only sends that started.
    std::vector<std::pair<int, int>> check_server_side()
    {
        const auto at_server = w.server_sequence();
        check_per_thread_order(at_server, "the server");
        for (const auto& [t, i] : at_server)
            BOOST_REQUIRE_MESSAGE(completions[t * per_sender + i] == 1, "the server got a send that never completed");
        return at_server;
    }
};

BOOST_AUTO_TEST_CASE(client_destroyed_while_threads_send)
{
    disrupted_sends s;
    s.run(total / 8, [&] {
        s.end_life([&] { s.c.reset(); });  // with sends queued, in flight and completing on the client's threads
    });
    s.check_server_side();
}

BOOST_AUTO_TEST_CASE(close_while_threads_send)
{
    disrupted_sends s;
    std::future<void> closed;
    s.run(total / 8, [&] {
        closed = s.c->async_close(asio::use_future);  // the senders go on meanwhile
        BOOST_REQUIRE(closed.wait_for(30s) == std::future_status::ready);
        BOOST_CHECK_NO_THROW(closed.get());
        s.end_life([] {});
    });
    // A send that completed without an error was flushed before the close frame: the server has it.
    const auto at_server = s.check_server_side();
    std::vector<bool> arrived(total, false);
    for (const auto& [t, i] : at_server) arrived[t * per_sender + i] = true;
    int lost = 0;
    for (int n = 0; n < total; ++n)
        if (s.succeeded[n] && !arrived[n]) ++lost;
    BOOST_TEST(lost == 0);
}

// Clients on two io_contexts, each on threads of its own, share one endpoint group whose cap lets
// two attempts go at once: a slot one context's client frees wakes a client of the other.
BOOST_AUTO_TEST_CASE(clients_on_two_contexts_share_one_group)
{
    world w;
    asio::io_context other_ioc;
    auto other_work = asio::make_work_guard(other_ioc);
    std::thread other_thread([&] { other_ioc.run(); });

    auto group = std::make_shared<tether::endpoint_group>(
        tether::endpoint_group_config{.attempts_per_second = 2000, .burst = 4, .max_concurrent_attempts = 2});
    constexpr int n = 16;
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < n; ++i) {
        auto cfg = w.config();
        cfg.group = group;
        clients.push_back(
            std::make_unique<client>(i % 2 ? other_ioc.get_executor() : w.client_ioc.get_executor(), cfg));
    }
    std::vector<std::future<void>> connected;
    for (auto& c : clients) connected.push_back(c->async_connect(asio::use_future));
    for (auto& f : connected) BOOST_CHECK_NO_THROW(f.get());
    const auto s = group->status().at(0);
    BOOST_TEST(s.admitted == std::uint64_t(n));
    BOOST_TEST(s.in_flight == 0u);
    BOOST_TEST(s.waiting == 0u);
    for (auto& c : clients) BOOST_CHECK_NO_THROW(c->async_close(asio::use_future).get());
    clients.clear();

    other_work.reset();
    other_thread.join();
    w.stop();
    BOOST_TEST(w.server.requests().size() == std::size_t(n));
}

BOOST_AUTO_TEST_SUITE_END()
