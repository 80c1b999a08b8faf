// tether's resilience figures against the generator process: how long a reconnect takes beyond the
// policy's delay, how soon a blackholed link is detected, and what idle sessions cost and how their
// reconnection attempts spread after a server restart.
#include "bench.hpp"
#include "runner.hpp"

#include <tether/client.hpp>

#include <tether/endpoint_group.hpp>

#include <boost/asio/thread_pool.hpp>

#include <sys/resource.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include <algorithm>
#include <memory>
#include <random>
#include <sstream>

namespace bench {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct restart_times {
    clock_type::time_point down, up;
};

// "restarted DOWN_NS UP_NS"
restart_times parse_restart(const std::string& reply)
{
    std::istringstream in(reply);
    std::string word;
    long long down = 0, up = 0;
    in >> word >> down >> up;
    if (word != "restarted") throw std::runtime_error("generator: unexpected reply '" + reply + "'");
    return {from_ns(down), from_ns(up)};
}

// Raises the file descriptor limit for `n` sessions; an empty string when it is enough, else why not.
std::string fds_for(std::size_t n)
{
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    if (lim.rlim_cur < n + 200 && lim.rlim_max >= n + 200) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur >= n + 200) return {};
    return "skipped: " + std::to_string(n) + " sessions need " + std::to_string(n + 200) +
           " file descriptors; the limit here is " + std::to_string(lim.rlim_cur) + " (raise `ulimit -n`)";
}

std::size_t open_fds()
{
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

double median(std::vector<double> v)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

result tether_reconnect(const case_params& p)
{
    asio::io_context ioc(1);
    result r;
    tether::seed_policy policy;
    policy.delay = milliseconds(100);
    policy.max_retries = 1000;
    tether::client_config cfg;
    cfg.url = p.gen->url("/idle");
    cfg.policy = policy;
    std::vector<clock_type::time_point> connected_at;
    std::vector<std::pair<clock_type::time_point, milliseconds>> reconnecting;
    tether::client_callbacks cb;
    cb.on_connected = [&](unsigned) { connected_at.push_back(clock_type::now()); };
    cb.on_reconnecting = [&](const tether::reconnect_event& e) {
        reconnecting.emplace_back(clock_type::now(), e.delay);
    };
    auto c = std::make_unique<tether::client>(ioc.get_executor(), cfg, cb);
    bool finished = false;
    c->async_run([&](tether::error_code) { finished = true; });

    std::vector<double> beyond, back_to_connected, noticed;
    if (!run_until(
            ioc, [&] { return connected_at.size() == 1; }, milliseconds(10000)))
        r.error = "never connected";
    for (unsigned i = 0; r.error.empty() && i < p.repeats; ++i) {
        run_for(ioc, milliseconds(20));
        p.gen->send("restart 10");  // back 10 ms later, well before the 100 ms retry
        if (!run_until(
                ioc, [&] { return connected_at.size() == i + 2; }, milliseconds(10000))) {
            r.error = "no reconnect after restart " + std::to_string(i + 1);
            break;
        }
        const restart_times t = parse_restart(p.gen->read_reply());
        const auto [event_at, delay] = reconnecting.back();
        beyond.push_back(ms(connected_at.back() - (event_at + delay)));
        back_to_connected.push_back(ms(connected_at.back() - t.up));
        noticed.push_back(ms(event_at - t.down));
    }
    c->async_close([](tether::error_code) {});
    run_until(
        ioc, [&] { return finished; }, milliseconds(5000));
    for (double v : beyond) r.latencies_us.push_back(v * 1000);
    r.messages = beyond.size();
    r.metrics = {{"policy_delay_ms", 100},
                 {"beyond_delay_ms_p50", median(beyond)},
                 {"beyond_delay_ms_max", beyond.empty() ? 0 : *std::max_element(beyond.begin(), beyond.end())},
                 {"server_back_to_connected_ms_p50", median(back_to_connected)},
                 {"drop_noticed_ms_p50", median(noticed)}};
    return r;
}

result tether_blackhole(const case_params& p)
{
    const milliseconds ping_interval(200), pong_timeout(100);
    result r;
    std::vector<double> detect;
    std::mt19937 rng(12345);
    unsigned heartbeat_endings = 0;
    for (unsigned i = 0; r.error.empty() && i < p.repeats; ++i) {
        asio::io_context ioc(1);
        tether::client_config cfg;
        cfg.url = p.gen->url("/idle");
        cfg.ping_interval = ping_interval;
        cfg.pong_timeout = pong_timeout;
        cfg.policy = tether::never_policy{};
        bool connected = false, finished = false;
        clock_type::time_point closed_at;
        tether::client_callbacks cb;
        cb.on_connected = [&](unsigned) { connected = true; };
        cb.on_close = [&](const tether::disconnect& d) {
            closed_at = clock_type::now();
            if (d.kind == tether::disconnect_kind::heartbeat_timeout) ++heartbeat_endings;
        };
        auto c = std::make_unique<tether::client>(ioc.get_executor(), cfg, cb);
        c->async_run([&](tether::error_code) { finished = true; });
        if (!run_until(
                ioc, [&] { return connected; }, milliseconds(10000))) {
            r.error = "never connected";
            break;
        }
        // Blackhole at a random phase of the ping cycle.
        run_for(ioc, milliseconds(std::uniform_int_distribution<int>(0, static_cast<int>(ping_interval.count()))(rng)));
        std::istringstream reply(p.gen->command("blackhole"));
        std::string word;
        long long at = 0;
        reply >> word >> at;
        const auto blackholed_at = from_ns(at);
        if (!run_until(
                ioc, [&] { return finished; }, ping_interval + pong_timeout + milliseconds(5000))) {
            r.error = "the blackhole was not detected";
            c->async_close([](tether::error_code) {});
            run_until(
                ioc, [&] { return finished; }, milliseconds(2000));
            break;
        }
        detect.push_back(ms(closed_at - blackholed_at));
    }
    const double bound = static_cast<double>((ping_interval + pong_timeout).count());
    r.messages = detect.size();
    for (double v : detect) r.latencies_us.push_back(v * 1000);
    if (r.error.empty() && heartbeat_endings != detect.size()) r.error = "some endings were not heartbeat timeouts";
    r.metrics = {{"ping_interval_ms", static_cast<double>(ping_interval.count())},
                 {"pong_timeout_ms", static_cast<double>(pong_timeout.count())},
                 {"bound_ms", bound},
                 {"detect_ms_min", detect.empty() ? 0 : *std::min_element(detect.begin(), detect.end())},
                 {"detect_ms_p50", median(detect)},
                 {"detect_ms_max", detect.empty() ? 0 : *std::max_element(detect.begin(), detect.end())},
                 {"within_bound", static_cast<double>(std::count_if(detect.begin(), detect.end(),
                                                                    [&](double d) { return d <= bound + 5; }))}};
    return r;
}

result tether_idle_sessions(const case_params& p)
{
    result r;
    const std::size_t n = p.sessions;
    r.note = fds_for(n);
    if (!r.note.empty()) return r;

    asio::io_context ioc(1);
    std::size_t connected = 0, finished = 0;
    std::vector<clock_type::time_point> attempts;
    attempts.reserve(8 * n);
    clock_type::time_point last_connected;
    tether::client_config cfg;
    cfg.url = p.gen->url("/idle");
    cfg.policy = tether::exponential_policy{};
    cfg.token_provider = [&] {  // called at the start of every attempt
        attempts.push_back(clock_type::now());
        return std::string();
    };
    std::vector<std::pair<clock_type::time_point, milliseconds>> reconnecting;  // when, and the delay chosen
    reconnecting.reserve(4 * n);
    tether::client_callbacks cb;
    cb.on_connected = [&](unsigned) {
        ++connected;
        last_connected = clock_type::now();
    };
    cb.on_reconnecting = [&](const tether::reconnect_event& e) {
        reconnecting.emplace_back(clock_type::now(), e.delay);
    };
    std::vector<std::unique_ptr<tether::client>> clients;
    clients.reserve(n);

    // The first session alone, outside the memory measurement: the first connection touches code
    // and tables (OpenSSL's random generator, the libraries' pages) once per process, about 3 MB
    // here, which is no session's own memory.
    clients.push_back(std::make_unique<tether::client>(ioc.get_executor(), cfg, cb));
    clients.back()->async_run([&](tether::error_code) { ++finished; });
    run_until(
        ioc, [&] { return connected == 1; }, milliseconds(30000));
    const std::size_t rss0 = rss_bytes();
    const auto t0 = clock_type::now();
    // In batches, so that the listener's backlog never overflows (a dropped SYN costs 1 s).
    constexpr std::size_t batch = 500;
    for (std::size_t i = 1; i < n; i += batch) {
        for (std::size_t k = i; k < std::min(n, i + batch); ++k) {
            clients.push_back(std::make_unique<tether::client>(ioc.get_executor(), cfg, cb));
            clients.back()->async_run([&](tether::error_code) { ++finished; });
        }
        if (!run_until(
                ioc, [&] { return connected == clients.size(); }, milliseconds(30000))) {
            r.error = "only " + std::to_string(connected) + " of " + std::to_string(clients.size()) + " connected";
            break;
        }
    }
    const double connect_seconds = seconds_between(t0, clock_type::now());
    const std::size_t rss1 = rss_bytes();
    const std::size_t fds = open_fds();

    restart_times t{};
    if (r.error.empty()) {
        attempts.clear();
        p.gen->send("restart 1000");  // down for 1 s: the first wave's early half is refused
        if (!run_until(
                ioc, [&] { return connected == 2 * n; }, milliseconds(60000)))
            r.error = "only " + std::to_string(connected - n) + " of " + std::to_string(n) + " reconnected";
        t = parse_restart(p.gen->read_reply());
    }

    for (auto& c : clients) c->async_close([](tether::error_code) {});
    run_until(
        ioc, [&] { return finished == clients.size(); }, milliseconds(60000));
    clients.clear();
    run_for(ioc, milliseconds(0));

    std::vector<double> noticed, delays;
    for (const auto& [at, delay] : reconnecting) {
        if (at < t.down) continue;
        noticed.push_back(ms(at - t.down));
        delays.push_back(static_cast<double>(delay.count()));
    }
    std::sort(noticed.begin(), noticed.end());
    std::sort(delays.begin(), delays.end());
    std::size_t peak = 0;
    for (const auto a : attempts) {
        if (a < t.down) continue;
        const auto bin = static_cast<std::size_t>(ms(a - t.down) / 100);
        if (r.series.size() <= bin) r.series.resize(bin + 1);
        peak = std::max(peak, static_cast<std::size_t>(++r.series[bin]));
    }
    r.messages = n;
    r.metrics = {{"sessions", static_cast<double>(n)},
                 {"connect_all_s", connect_seconds},
                 {"rss_per_session_kib", static_cast<double>(rss1 - rss0) / static_cast<double>(n - 1) / 1024.0},
                 {"open_fds", static_cast<double>(fds)},
                 {"server_down_ms", ms(t.up - t.down)},
                 {"attempts_after_restart", static_cast<double>(attempts.size())},
                 {"peak_attempts_per_100ms", static_cast<double>(peak)},
                 {"all_reconnected_after_s", seconds_between(t.down, last_connected)},
                 {"drops_handled_ms_p50", median(noticed)},
                 {"drops_handled_ms_max", noticed.empty() ? 0 : noticed.back()},
                 {"first_delay_ms_min", delays.empty() ? 0 : delays.front()},
                 {"first_delay_ms_max", delays.empty() ? 0 : delays.back()}};
    return r;
}

// 10,000 sessions on a two-thread pool, a server restart of 1.5 s, with or without an endpoint
// group: when the attempts reach the server, and how soon all sessions are back. An attempt is
// stamped as it starts (the token provider is called then, after the group let it go): each is a
// TCP connect the server's host sees, refused or not.
result tether_restart_storm(const case_params& p)
{
    result r;
    const std::size_t n = p.sessions;
    r.note = fds_for(n);
    if (!r.note.empty()) return r;

    asio::thread_pool pool(2);
    std::shared_ptr<tether::endpoint_group> group;
    if (p.group_rate > 0)
        group = std::make_shared<tether::endpoint_group>(tether::endpoint_group_config{
            .attempts_per_second = p.group_rate,
            .burst = static_cast<unsigned>(p.group_rate / 20),  // a twentieth of a second's worth
            .max_concurrent_attempts = 0,
            .breaker_failures = 100,
            .breaker_cooldown = milliseconds(500),
            .release_window = milliseconds(1000)});

    std::mutex mutex;  // the clients' callbacks run on both threads
    std::vector<clock_type::time_point> attempts;
    attempts.reserve(8 * n);
    std::size_t attempts_while_open = 0;  // started while the group's breaker was open, the probe aside
    std::atomic<std::size_t> connected{0}, finished{0};
    clock_type::time_point last_connected;
    tether::client_config cfg;
    cfg.url = p.gen->url("/idle");
    tether::exponential_policy policy;
    if (p.jitter >= 0) policy.jitter = p.jitter;
    cfg.policy = policy;
    cfg.group = group;
    cfg.token_provider = [&] {
        const auto now = clock_type::now();
        const bool open = group && group->status().front().breaker == tether::breaker_state::open;
        std::lock_guard lock(mutex);
        attempts.push_back(now);
        if (open) ++attempts_while_open;
        return std::string();
    };
    tether::client_callbacks cb;
    cb.on_connected = [&](unsigned) {
        const auto now = clock_type::now();
        std::lock_guard lock(mutex);
        ++connected;
        last_connected = now;
    };
    auto wait_for = [](const std::function<bool()>& done, milliseconds limit) {
        const auto deadline = clock_type::now() + limit;
        while (!done()) {
            if (clock_type::now() >= deadline) return false;
            std::this_thread::sleep_for(milliseconds(5));
        }
        return true;
    };

    std::vector<std::unique_ptr<tether::client>> clients;
    clients.reserve(n);
    const auto t0 = clock_type::now();
    constexpr std::size_t batch = 500;  // the listener's backlog must not overflow: a dropped SYN costs 1 s
    for (std::size_t i = 0; i < n && r.error.empty(); i += batch) {
        for (std::size_t k = i; k < std::min(n, i + batch); ++k) {
            clients.push_back(std::make_unique<tether::client>(pool.get_executor(), cfg, cb));
            clients.back()->async_run([&](tether::error_code) { ++finished; });
        }
        if (!wait_for([&] { return connected == clients.size(); }, milliseconds(60000)))
            r.error = "only " + std::to_string(connected) + " of " + std::to_string(clients.size()) + " connected";
    }
    const double connect_seconds = seconds_between(t0, clock_type::now());
    const std::size_t fds = open_fds();

    restart_times t{};
    if (r.error.empty()) {
        {
            std::lock_guard lock(mutex);
            attempts.clear();
            attempts_while_open = 0;
        }
        p.gen->send("restart 1500");
        t = parse_restart(p.gen->read_reply());
        if (!wait_for([&] { return connected == 2 * n; }, milliseconds(120000)))
            r.error = "only " + std::to_string(connected - n) + " of " + std::to_string(n) + " reconnected";
    }
    for (auto& c : clients) c->async_close([](tether::error_code) {});
    wait_for([&] { return finished == clients.size(); }, milliseconds(60000));
    clients.clear();
    pool.join();

    std::lock_guard lock(mutex);
    std::size_t peak = 0, first_bin = SIZE_MAX, last_bin = 0;
    for (const auto a : attempts) {
        if (a < t.down) continue;
        const auto bin = static_cast<std::size_t>(ms(a - t.down) / 100);
        if (r.series.size() <= bin) r.series.resize(bin + 1);
        peak = std::max(peak, static_cast<std::size_t>(++r.series[bin]));
        first_bin = std::min(first_bin, bin);
        last_bin = std::max(last_bin, bin);
    }
    const double bins = attempts.empty() ? 1 : static_cast<double>(last_bin - first_bin + 1);
    r.messages = n;
    r.metrics = {{"sessions", static_cast<double>(n)},
                 {"threads", 2},
                 {"connect_all_s", connect_seconds},
                 {"open_fds", static_cast<double>(fds)},
                 {"server_down_ms", ms(t.up - t.down)},
                 {"attempts_after_restart", static_cast<double>(attempts.size())},
                 {"peak_attempts_per_100ms", static_cast<double>(peak)},
                 {"mean_attempts_per_100ms", static_cast<double>(attempts.size()) / bins},
                 {"all_back_after_up_s", seconds_between(t.up, last_connected)}};
    if (group) {
        const auto s = group->status().front();
        r.metrics.push_back({"group_rate_per_100ms", p.group_rate / 10});
        r.metrics.push_back({"peak_over_rate", static_cast<double>(peak) / (p.group_rate / 10)});
        r.metrics.push_back({"bound_s", static_cast<double>(n) / p.group_rate + 2});
        r.metrics.push_back({"breaker_openings", static_cast<double>(s.breaker_openings)});
        r.metrics.push_back({"probes", static_cast<double>(s.probes)});
        r.metrics.push_back({"attempts_while_open", static_cast<double>(attempts_while_open)});
    }
    return r;
}

}  // namespace bench
