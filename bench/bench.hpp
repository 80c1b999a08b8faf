// The benchmark suite: the cases each client runs against the load generator, and what they report.
//   main.cpp              the driver: runs the cases, prints the table, writes the JSON summary
//   generator.cpp         the load generator (`tether-bench serve`), a separate process
//   payload.cpp           realistic session JSON of an exact size; binary payloads
//   beast_cases.cpp       the baseline, a raw Beast coroutine client; and the batched-frames ceiling
//   tether_cases.cpp      the same cases through tether: callbacks, async_receive (one and some),
//                         raw messages, pipelined sends and one co_await per send
//   resilience.cpp        reconnect, blackhole detection, idle sessions (tether)
//   measure.hpp           CPU clocks, the measured window, the JSON check (shared with websocketpp)
//   frames.hpp            WebSocket frames on raw bytes (generator and ceiling)
//   runner.hpp            running one case on its own io_context
//   websocketpp_client.cpp, ws_client.mjs   the other clients, each a program of its own
#ifndef TETHER_BENCH_BENCH_HPP
#define TETHER_BENCH_BENCH_HPP

#include "measure.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace bench {

/// Talks to the generator process over its stdin/stdout: one command line, one reply line.
struct generator_link {
    std::uint16_t port = 0;
    std::function<void(const std::string&)> send;  // writes one command line
    std::function<std::string()> read_reply;       // blocks for the next reply line

    std::string command(const std::string& line)
    {
        send(line);
        return read_reply();
    }
    std::string url(const std::string& target) const { return "ws://127.0.0.1:" + std::to_string(port) + target; }
};

struct case_params {
    generator_link* gen = nullptr;
    std::size_t size = 256;       // message size in bytes
    double seconds = 1.0;         // measured window of a throughput case
    unsigned in_flight = 1;       // echo: messages in flight
    std::size_t samples = 10000;  // echo: round trips measured (after a warm-up)
    unsigned repeats = 10;        // resilience: repetitions
    std::size_t sessions = 1000;  // idle sessions
    double group_rate = 0;        // restart storm: the endpoint group's attempts per second (0: no group)
    double jitter = -1;           // restart storm: the policy's relative jitter (negative: its default)
};

/// One measured case. Throughput cases fill messages/seconds/cpu; latency cases fill latencies;
/// resilience cases fill `metrics` (name, value) and `series`.
struct result {
    std::uint64_t messages = 0;
    double seconds = 0;
    double cpu_seconds = 0;  // of the measured side: the client's thread or process
    std::vector<double> latencies_us;
    std::vector<std::pair<std::string, double>> metrics;
    std::vector<double> series;  // e.g. attempts per 100 ms
    std::string error;           // non-empty: the case failed
    std::string note;            // non-empty: the case was skipped, and why
    std::string detail;          // a JSON object describing an external client (its versions)
};

/// Three realistic session messages (assistant, user, result) of exactly `size` bytes each.
std::vector<std::string> session_messages(std::size_t size);

// Binary payloads (the "receive binary" and "send binary" cases) start and end with these bytes,
// whatever their size (at least 2); the bytes between are pseudo-random.
constexpr unsigned char binary_first = 0xa5;
constexpr unsigned char binary_last = 0x5a;

/// Three binary payloads of exactly `size` bytes each.
std::vector<std::string> binary_messages(std::size_t size);

/// What every client does with each binary message it receives, and nothing more: reads its first
/// and last byte into a checksum (and checks its kind and size). `error()` says what did not add up.
struct binary_check {
    std::size_t size = 0;
    std::uint64_t messages = 0;
    std::uint64_t sum = 0;
    std::uint64_t wrong = 0;  // not binary, or not `size` bytes

    void touch(bool binary, const void* data, std::size_t n)
    {
        ++messages;
        if (!binary || n != size || n < 2) {
            ++wrong;
            return;
        }
        const auto* d = static_cast<const unsigned char*>(data);
        sum += d[0] + d[n - 1];
    }
    std::string error() const
    {
        if (wrong)
            return std::to_string(wrong) + " of " + std::to_string(messages) + " messages not binary of the size";
        if (sum != messages * (binary_first + binary_last)) return "the payloads' checksum is wrong";
        return {};
    }
};

/// The load generator's main: listens on 127.0.0.1:0, prints the port, serves until stdin closes.
int serve();

// The end-of-send marker: a text frame shorter than any message (the sink counts frames before it
// and answers with {"type":"result","subtype":"sink","count":N}).
inline const std::string sink_marker = "{\"end\":1}";

// Raw Beast, the baseline.
result beast_receive(const case_params& p, bool on_strand);
result beast_send(const case_params& p, bool on_strand);
result beast_receive_binary(const case_params& p);  // one async_read per message, no JSON work
result beast_send_binary(const case_params& p);     // ws.binary(true), one async_write per message
result beast_echo(const case_params& p);
result beast_connect(const case_params& p);  // resolve + TCP + upgrade, `repeats` times

// A ceiling, not a product: large reads, frames parsed in a loop, no asynchronous operation per message.
result frames_receive(const case_params& p);

// tether.
result tether_receive_callback(const case_params& p);
result tether_receive_await(const case_params& p);
result tether_receive_some(const case_params& p);          // co_await async_receive_some(64)
result tether_receive_raw_callback(const case_params& p);  // binary frames: on_raw_message
result tether_receive_raw_await(const case_params& p);     // binary frames: co_await async_receive_raw()
result tether_send_pipelined(const case_params& p);
result tether_send_acked_pipelined(const case_params& p);
result tether_send_await(const case_params& p);
result tether_send_binary_pipelined(const case_params& p);  // async_send(message{binary, ...})
result tether_send_binary_await(const case_params& p);
result tether_echo(const case_params& p);

// tether's resilience figures.
result tether_reconnect(const case_params& p);
result tether_blackhole(const case_params& p);
result tether_idle_sessions(const case_params& p);
result tether_restart_storm(const case_params& p);

/// Resident set size of this process, bytes.
std::size_t rss_bytes();

}  // namespace bench

#endif
