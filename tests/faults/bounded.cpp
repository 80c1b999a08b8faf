// Bounded memory with acknowledged sends (issue 12): against the testing kit's resume_server told
// never to acknowledge, a client sends 100,000 messages of 1 KiB or so, and the buffer of
// unacknowledged messages must stop at its bound, whichever of `max_messages` and `max_bytes`
// binds first, in both of the modes `when_full` offers:
//
// - fail: each send is awaited in turn. The first `bound` are written and kept; every later one
//   fails at once with `retained_buffer_full`. Then, with twice `max_messages` sent at once
//   without awaiting, the same: sends still queued count against the bound, and none is left
//   waiting for room.
// - wait: sends go out in bursts without awaiting them. The first `bound` are written and kept,
//   the next `send_queue_capacity` wait in the send queue (never written), every later one fails
//   at once with `send_queue_full`; the waiting ones complete with `client_closed` at the close.
//
// In both, every send completes exactly once, with the outcome its position in the run calls for
// (nothing is dropped without a word), and the server accepted exactly `bound` messages, in order.
// Memory is measured once the client and the server are warm and again with each mode's buffers
// full: the growth must stay within what the bounds allow, not scale with the 100,000 messages.
// Under AddressSanitizer, whose quarantine holds freed memory back, the live heap is measured in
// place of the resident set. Finally everything shuts down cleanly: once the clients and the
// server are gone, the io_context runs out of work.
//
//   fault_bounded
//   exit status 0 when every check passed
#include <tether/client.hpp>
#include <tether/testing/resume_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "measure.hpp"

#include <cstddef>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using tether::error_code;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t messages = 100'000;   // sends per mode
constexpr std::size_t message_size = 1100;  // bytes per message: a little over 1 KiB
constexpr std::size_t max_messages = 1024;  // the retained buffer's bounds
constexpr std::size_t max_bytes = 1024 * 1024;
constexpr std::size_t queue_capacity = 1024;  // wait mode: sends waiting for room
constexpr std::size_t burst = 1024;           // wait mode: sends issued between two settlings
// What the buffer holds when full: the bound that binds first. The bytes counted are the
// application's payloads (the stamp tether adds is not), and a message that would take the
// buffer past `max_bytes` is not kept. 1024 x 1100 bytes would be over 1 MiB: the bytes bind,
// at 953 messages.
constexpr std::size_t bound = std::min(max_messages, max_bytes / message_size);
static_assert(bound == 953);

using tether::faults::memory_kib;  // the resident set, or under AddressSanitizer the live heap

// Message `n`: {"type":"m","n":<n>,"pad":"xxx..."}, padded to exactly `message_size` bytes, so
// that the bound is known in advance.
std::string message_text(std::size_t n)
{
    std::string text = R"({"type":"m","n":)" + std::to_string(n) + R"(,"pad":")";
    text.append(message_size - text.size() - 2, 'x');
    text += "\"}";
    return text;
}

// Polls `done` every millisecond until it holds or `limit` has passed: a wait on a condition,
// bounded, never a sleep that hopes the condition holds by then.
asio::awaitable<bool> eventually(std::function<bool()> done, milliseconds limit = 10s)
{
    asio::steady_timer t(co_await asio::this_coro::executor);
    const auto deadline = clock_type::now() + limit;
    while (!done()) {
        if (clock_type::now() >= deadline) co_return false;
        t.expires_after(1ms);
        co_await t.async_wait(nothrow);
    }
    co_return true;
}

// How the sends of one mode completed. Each send's outcome is kept by its number (allocated
// before the measurements), so that the order is checked too: written ones first, then waiting
// ones, then failed ones.
enum outcome : std::uint8_t { pending, written, buffer_full, queue_full, closed, other };

struct tally {
    std::vector<std::uint8_t> outcomes = std::vector<std::uint8_t>(messages, pending);
    std::size_t completions = 0;  // every completion, a second one for a send included
    std::size_t twice = 0;        // sends that completed more than once
    std::array<std::size_t, 6> by_outcome{};
    std::string other_errors;

    void complete(std::size_t n, error_code ec)
    {
        ++completions;
        const outcome o = !ec                                                     ? written
                          : ec == error_code(tether::error::retained_buffer_full) ? buffer_full
                          : ec == error_code(tether::error::send_queue_full)      ? queue_full
                          : ec == error_code(tether::error::client_closed)        ? closed
                                                                                  : other;
        if (o == other && other_errors.size() < 200) other_errors += " " + ec.message() + ";";
        if (outcomes[n] != pending) {
            ++twice;
            return;
        }
        outcomes[n] = o;
        ++by_outcome[o];
    }

    // Sends numbered [from, to) whose outcome is not `expected`.
    std::size_t unlike(std::size_t from, std::size_t to, outcome expected) const
    {
        return std::size_t(std::count_if(outcomes.begin() + std::ptrdiff_t(from), outcomes.begin() + std::ptrdiff_t(to),
                                         [&](std::uint8_t o) { return o != expected; }));
    }
};

// What the server's application saw of one session: each message once, in order.
struct upstream {
    std::size_t delivered = 0;
    std::size_t misordered = 0;
};

tether::client_config config(const tether::testing::resume_server& kit, const std::string& session,
                             tether::when_full on_full)
{
    tether::client_config cfg;
    cfg.url = kit.url(session);
    cfg.resume.sends.enabled = true;
    cfg.resume.sends.max_messages = max_messages;
    cfg.resume.sends.max_bytes = max_bytes;
    cfg.resume.sends.on_full = on_full;
    cfg.resume.sends.completion = tether::send_completion::written;
    cfg.send_queue_capacity = queue_capacity;
    // The close cannot flush what waits for room that never comes: it gives up after this, and the
    // waiting sends complete with client_closed.
    cfg.close_timeout = 1s;
    return cfg;
}

}  // namespace

int main()
{
    bool ok = true;
    auto fail = [&](const std::string& what) {
        ok = false;
        std::cout << "FAIL: " << what << std::endl;
    };
    auto check_eq = [&](const std::string& what, std::size_t got, std::size_t expected) {
        if (got != expected) fail(what + ": " + std::to_string(got) + ", expected " + std::to_string(expected));
    };

    asio::io_context ioc;
    tally fail_mode, wait_mode, fail_burst;  // their outcome tables allocated now, before any measurement
    constexpr std::size_t burst_sends = 2 * max_messages;
    tether::client_stats fail_burst_stats{};
    std::map<std::string, upstream> seen;
    tether::testing::resume_session_stats fail_kit{}, wait_kit{};
    tether::client_stats fail_stats{}, wait_stats{};
    std::size_t mem_warm = 0, mem_fail = 0, mem_wait = 0, mem_end = 0;
    std::size_t wait_queued = 0;  // send queue depth with wait mode's buffers full
    double fail_seconds = 0, wait_seconds = 0, wait_close_seconds = 0;
    bool finished = false;
    const auto start = clock_type::now();

    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            const auto ex = co_await asio::this_coro::executor;
            tether::testing::resume_server_options kit_options;
            kit_options.acknowledge = false;
            auto kit = std::make_unique<tether::testing::resume_server>(ex, kit_options);
            kit->on_message([&](std::string_view session, const boost::json::object& m) {
                upstream& u = seen[std::string(session)];
                if (m.at("n").to_number<std::size_t>() != u.delivered) ++u.misordered;
                ++u.delivered;
            });

            // Warm-up: a client of the same configuration connects, sends, fills a small buffer and
            // closes, so that the allocator, the server's session table and the io_context's own
            // structures exist before the first measurement.
            {
                auto cfg = config(*kit, "warm", tether::when_full::fail);
                cfg.resume.sends.max_messages = 64;
                auto c = std::make_unique<tether::client>(ex, cfg);
                c->async_run([](error_code) {});
                auto [connect_ec] = co_await c->async_connect(nothrow);
                if (connect_ec) fail("warm-up: async_connect: " + connect_ec.message());
                for (std::size_t i = 0; i < 128; ++i) co_await c->async_send(message_text(i), nothrow);
                co_await c->async_close(nothrow);
            }
            mem_warm = memory_kib();

            // Fail mode: each send awaited in turn.
            {
                const auto t0 = clock_type::now();
                auto c = std::make_unique<tether::client>(ex, config(*kit, "fail", tether::when_full::fail));
                bool run_done = false;
                c->async_run([&](error_code ec) {
                    run_done = true;
                    if (ec) fail("fail mode: async_run: " + ec.message());
                });
                auto [connect_ec] = co_await c->async_connect(nothrow);
                if (connect_ec) fail("fail mode: async_connect: " + connect_ec.message());
                for (std::size_t i = 0; i < messages; ++i) {
                    auto [ec] = co_await c->async_send(message_text(i), nothrow);
                    fail_mode.complete(i, ec);
                }
                // Written is not yet read: the server takes the last of them in its own time.
                auto wait_ec = co_await kit->async_wait_until([&] { return kit->stats("fail").accepted >= bound; });
                if (wait_ec) fail("fail mode: the server did not accept " + std::to_string(bound) + " messages");
                fail_stats = c->stats();
                mem_fail = memory_kib();
                co_await c->async_close(nothrow);
                if (!co_await eventually([&] { return run_done; })) fail("fail mode: async_run did not complete");
                c.reset();
                fail_kit = kit->stats("fail");
                fail_seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
            }

            // Fail mode in a burst: sends not awaited, more than the bound at once. Those still in
            // the queue count against the bound as if kept, so the ones beyond it fail at once too:
            // none may be left waiting for room, which fail mode never waits for.
            {
                auto c = std::make_unique<tether::client>(ex, config(*kit, "fail-burst", tether::when_full::fail));
                c->async_run([](error_code) {});
                auto [connect_ec] = co_await c->async_connect(nothrow);
                if (connect_ec) fail("fail mode in a burst: async_connect: " + connect_ec.message());
                for (std::size_t i = 0; i < burst_sends; ++i)
                    c->async_send(message_text(i), [&, i](error_code ec) { fail_burst.complete(i, ec); });
                const bool settled = co_await eventually([&] {
                    const auto s = c->stats();
                    return fail_burst.completions + s.send_queue_depth == burst_sends &&
                           (s.send_queue_depth == 0 || s.messages_unacknowledged >= bound);
                });
                if (!settled) fail("fail mode in a burst: the client did not settle");
                fail_burst_stats = c->stats();
                co_await c->async_close(nothrow);
                if (!co_await eventually([&] { return fail_burst.completions >= burst_sends; }))
                    fail("fail mode in a burst: sends did not complete after the close");
            }

            // Wait mode: bursts of sends not awaited. After each burst the client settles: every
            // send has completed or waits in the queue, and the queue only holds sends while the
            // buffer is full. The next burst then meets the same state whatever the timing.
            {
                const auto t0 = clock_type::now();
                auto c = std::make_unique<tether::client>(ex, config(*kit, "wait", tether::when_full::wait));
                bool run_done = false;
                c->async_run([&](error_code ec) {
                    run_done = true;
                    if (ec) fail("wait mode: async_run: " + ec.message());
                });
                auto [connect_ec] = co_await c->async_connect(nothrow);
                if (connect_ec) fail("wait mode: async_connect: " + connect_ec.message());
                std::size_t sent = 0;
                while (sent < messages) {
                    const std::size_t end = std::min(messages, sent + burst);
                    for (; sent < end; ++sent)
                        c->async_send(message_text(sent), [&, n = sent](error_code ec) { wait_mode.complete(n, ec); });
                    const bool settled = co_await eventually([&] {
                        const auto s = c->stats();
                        return wait_mode.completions + s.send_queue_depth == sent &&
                               (s.send_queue_depth == 0 || s.messages_unacknowledged >= bound);
                    });
                    if (!settled) {
                        fail("wait mode: the client did not settle after " + std::to_string(sent) + " sends");
                        break;
                    }
                }
                auto wait_ec = co_await kit->async_wait_until([&] { return kit->stats("wait").accepted >= bound; });
                if (wait_ec) fail("wait mode: the server did not accept " + std::to_string(bound) + " messages");
                wait_stats = c->stats();
                wait_queued = wait_stats.send_queue_depth;
                mem_wait = memory_kib();
                // The waiting sends cannot go out: the close gives up on them after close_timeout.
                const auto closing = clock_type::now();
                co_await c->async_close(nothrow);
                wait_close_seconds = std::chrono::duration<double>(clock_type::now() - closing).count();
                if (!co_await eventually([&] { return run_done && wait_mode.completions >= messages; }))
                    fail("wait mode: async_run or the waiting sends did not complete after the close");
                c.reset();
                wait_kit = kit->stats("wait");
                wait_seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
            }

            kit.reset();
            mem_end = memory_kib();
            finished = true;
        },
        [&](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    fail(std::string("exception: ") + x.what());
                }
            }
        });

    ioc.run_for(90s);
    const bool drained = ioc.stopped();  // run_for returned because no work was left
    const auto took = std::chrono::duration<double>(clock_type::now() - start).count();
    if (!finished) fail("the run did not finish");
    if (!drained) fail("timers or operations were still pending after shutdown");

    // Fail mode: the first `bound` written, every later one refused at once; the buffer full.
    check_eq("fail mode: completions", fail_mode.completions, messages);
    check_eq("fail mode: sends completed twice", fail_mode.twice, 0);
    check_eq("fail mode: written", fail_mode.by_outcome[written], bound);
    check_eq("fail mode: failed with retained_buffer_full", fail_mode.by_outcome[buffer_full], messages - bound);
    check_eq("fail mode: first sends not written", fail_mode.unlike(0, bound, written), 0);
    check_eq("fail mode: later sends not refused", fail_mode.unlike(bound, messages, buffer_full), 0);
    if (fail_mode.by_outcome[other] > 0) fail("fail mode: other errors:" + fail_mode.other_errors);
    check_eq("fail mode: messages_unacknowledged", fail_stats.messages_unacknowledged, bound);
    check_eq("fail mode: messages_sent", fail_stats.messages_sent, bound);
    check_eq("fail mode: accepted by the server", fail_kit.accepted, bound);
    check_eq("fail mode: delivered to the server's application", seen["fail"].delivered, bound);
    check_eq("fail mode: out of sequence at the server", seen["fail"].misordered + fail_kit.duplicates + fail_kit.gaps,
             0);

    // Fail mode in a burst: the same outcomes, none left waiting in the queue.
    check_eq("fail mode in a burst: completions", fail_burst.completions, burst_sends);
    check_eq("fail mode in a burst: written", fail_burst.by_outcome[written], bound);
    check_eq("fail mode in a burst: failed with retained_buffer_full", fail_burst.by_outcome[buffer_full],
             burst_sends - bound);
    check_eq("fail mode in a burst: left waiting in the queue (client_closed at the close)",
             fail_burst.by_outcome[closed], 0);
    check_eq("fail mode in a burst: first sends not written", fail_burst.unlike(0, bound, written), 0);
    check_eq("fail mode in a burst: messages_unacknowledged", fail_burst_stats.messages_unacknowledged, bound);
    check_eq("fail mode in a burst: send queue depth", fail_burst_stats.send_queue_depth, 0);

    // Wait mode: the first `bound` written, the next `queue_capacity` waiting until the close,
    // every later one refused by the full queue.
    check_eq("wait mode: completions", wait_mode.completions, messages);
    check_eq("wait mode: sends completed twice", wait_mode.twice, 0);
    check_eq("wait mode: written", wait_mode.by_outcome[written], bound);
    check_eq("wait mode: waited, then client_closed", wait_mode.by_outcome[closed], queue_capacity);
    check_eq("wait mode: failed with send_queue_full", wait_mode.by_outcome[queue_full],
             messages - bound - queue_capacity);
    check_eq("wait mode: first sends not written", wait_mode.unlike(0, bound, written), 0);
    check_eq("wait mode: waiting sends not closed", wait_mode.unlike(bound, bound + queue_capacity, closed), 0);
    check_eq("wait mode: later sends not refused", wait_mode.unlike(bound + queue_capacity, messages, queue_full), 0);
    if (wait_mode.by_outcome[other] > 0) fail("wait mode: other errors:" + wait_mode.other_errors);
    check_eq("wait mode: messages_unacknowledged", wait_stats.messages_unacknowledged, bound);
    check_eq("wait mode: messages_sent", wait_stats.messages_sent, bound);
    check_eq("wait mode: send queue depth", wait_queued, queue_capacity);
    check_eq("wait mode: accepted by the server", wait_kit.accepted, bound);
    check_eq("wait mode: delivered to the server's application", seen["wait"].delivered, bound);
    check_eq("wait mode: out of sequence at the server", seen["wait"].misordered + wait_kit.duplicates + wait_kit.gaps,
             0);

    // Memory. What the bounds allow: the kept payloads (at most `max_bytes`) and, in wait mode,
    // `queue_capacity` waiting payloads, each with its bookkeeping (the kept record, the queued
    // item and its type-erased completion handler: well under 512 bytes) — 1.4 MiB in fail mode,
    // 2.9 MiB in wait mode. On top, 4 MiB of slack for the allocator (the heap grows in steps and
    // keeps fragments), the frames being written and read, and the server's buffers. Were the
    // client or the server to keep as little as 64 bytes per message sent, the 100,000 messages
    // would add 6.1 MiB and fail the check; keeping each message would add over 100 MiB.
    constexpr std::size_t per_message = message_size + 512;
    constexpr std::size_t slack_kib = 4 * 1024;
    constexpr std::size_t fail_allowance_kib = bound * per_message / 1024 + slack_kib;
    constexpr std::size_t wait_allowance_kib = (bound + queue_capacity) * per_message / 1024 + slack_kib;
    const auto growth = [&](std::size_t after) { return after > mem_warm ? after - mem_warm : 0; };
    if (growth(mem_fail) > fail_allowance_kib)
        fail("fail mode: memory grew by " + std::to_string(growth(mem_fail)) + " KiB, more than the " +
             std::to_string(fail_allowance_kib) + " KiB the bounds allow");
    if (growth(mem_wait) > wait_allowance_kib)
        fail("wait mode: memory grew by " + std::to_string(growth(mem_wait)) + " KiB, more than the " +
             std::to_string(wait_allowance_kib) + " KiB the bounds allow");

    std::cout << "bounded: " << (ok ? "PASS" : "FAIL") << " in " << took << " s\n";
    std::cout << "  bound: " << bound << " messages of " << message_size << " bytes (max_messages " << max_messages
              << ", max_bytes " << max_bytes << "), send queue capacity " << queue_capacity << "\n";
    std::cout << "  fail mode (" << fail_seconds << " s): " << messages << " sent, " << fail_mode.completions
              << " completions: " << fail_mode.by_outcome[written] << " written, " << fail_mode.by_outcome[buffer_full]
              << " retained_buffer_full, " << fail_mode.by_outcome[other] << " other; unacknowledged "
              << fail_stats.messages_unacknowledged << ", server accepted " << fail_kit.accepted << "\n";
    std::cout << "  fail mode in a burst: " << burst_sends << " sent at once: " << fail_burst.by_outcome[written]
              << " written, " << fail_burst.by_outcome[buffer_full] << " retained_buffer_full, "
              << fail_burst.by_outcome[closed] << " left waiting (client_closed at the close), "
              << fail_burst.by_outcome[other] << " other; unacknowledged " << fail_burst_stats.messages_unacknowledged
              << ", queued " << fail_burst_stats.send_queue_depth << "\n";
    std::cout << "  wait mode (" << wait_seconds << " s, close " << wait_close_seconds << " s): " << messages
              << " sent, " << wait_mode.completions << " completions: " << wait_mode.by_outcome[written] << " written, "
              << wait_mode.by_outcome[closed] << " waited then client_closed, " << wait_mode.by_outcome[queue_full]
              << " send_queue_full, " << wait_mode.by_outcome[other] << " other; unacknowledged "
              << wait_stats.messages_unacknowledged << ", queued " << wait_queued << ", server accepted "
              << wait_kit.accepted << "\n";
    std::cout << "  memory (" << tether::faults::memory_measure << ", KiB): " << mem_warm << " warm, " << mem_fail
              << " full in fail mode (+" << growth(mem_fail) << ", allowed +" << fail_allowance_kib << "), " << mem_wait
              << " full in wait mode (+" << growth(mem_wait) << ", allowed +" << wait_allowance_kib << "), " << mem_end
              << " at the end; io_context drained: " << (drained ? "yes" : "no") << std::endl;
    return ok ? 0 : 1;
}
