// The benchmark suite's measuring tools, shared by every client under test (tether, raw Beast, and
// the websocketpp program, which is built as C++17): CPU clocks, the measurement window, and the
// JSON check every client does on each message received.
#ifndef TETHER_BENCH_MEASURE_HPP
#define TETHER_BENCH_MEASURE_HPP

#include <boost/json/parser.hpp>

// Under `valgrind --tool=callgrind`, the counters are zeroed when a throughput window opens and
// dumped when it closes, so that instructions per message can be read off the dump; without
// valgrind these are a few no-op instructions per window.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define TETHER_BENCH_WINDOW_OPENS() CALLGRIND_ZERO_STATS
#define TETHER_BENCH_WINDOW_CLOSES() CALLGRIND_DUMP_STATS_AT("window")
#else
#define TETHER_BENCH_WINDOW_OPENS() ((void)0)
#define TETHER_BENCH_WINDOW_CLOSES() ((void)0)
#endif

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string_view>

namespace bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_between(clock_type::time_point a, clock_type::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

/// CPU time of the calling thread: the thread that runs the client's io_context.
inline double thread_cpu_seconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// CPU time of the whole process, every thread.
inline double process_cpu_seconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// What tether's message adapter does with every text frame, so that every client under test
/// does the same work: parse with a reused parser, then check for an object with a string "type".
inline bool parse_message(boost::json::parser& p, std::string_view text)
{
    p.reset();
    boost::system::error_code ec;
    p.write(text.data(), text.size(), ec);
    if (ec) return false;
    const boost::json::value v = p.release();
    const auto* obj = v.if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    return type && type->is_string();
}

/// The measured window of a throughput case: from the first message to the first check after
/// `seconds` have passed (checked every 16 messages, the same way in every client). The first
/// message only opens the window, so `messages` counts the intervals inside it.
struct window {
    double seconds = 1.0;
    bool use_process_cpu = false;  // the whole process (external programs) or the calling thread

    std::uint64_t seen = 0;
    bool done = false;
    clock_type::time_point t0{};
    double cpu0 = 0;

    std::uint64_t messages = 0;
    double elapsed = 0;
    double cpu_seconds = 0;

    double cpu_now() const { return use_process_cpu ? process_cpu_seconds() : thread_cpu_seconds(); }

    /// Counts one message; true exactly once, when the window has just closed.
    bool count()
    {
        if (done) return false;
        if (seen++ == 0) {
            TETHER_BENCH_WINDOW_OPENS();
            t0 = clock_type::now();
            cpu0 = cpu_now();
            return false;
        }
        if ((seen & 15) != 0) return false;
        const auto now = clock_type::now();
        if (seconds_between(t0, now) < seconds) return false;
        done = true;
        messages = seen - 1;
        elapsed = seconds_between(t0, now);
        cpu_seconds = cpu_now() - cpu0;
        TETHER_BENCH_WINDOW_CLOSES();
        return true;
    }
};

}  // namespace bench

#endif
