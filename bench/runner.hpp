// Running one case on its own io_context: until a condition holds (checked every 5 ms by a timer,
// so no clock read is added to the handlers being measured) or a time limit passes.
#ifndef TETHER_BENCH_RUNNER_HPP
#define TETHER_BENCH_RUNNER_HPP

#include "bench.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>

namespace bench {

/// Runs `ioc` until `done()` holds or `limit` has passed; true when `done()` held.
inline bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds limit)
{
    const auto deadline = clock_type::now() + limit;
    boost::asio::steady_timer poll(ioc);
    bool held = false;
    std::function<void()> arm = [&] {
        poll.expires_after(std::chrono::milliseconds(5));
        poll.async_wait([&](boost::system::error_code ec) {
            if (ec) return;
            held = done();
            if (held || clock_type::now() >= deadline) return ioc.stop();
            arm();
        });
    };
    held = done();
    if (held) return true;
    arm();
    ioc.restart();
    ioc.run();
    poll.cancel();
    ioc.restart();
    ioc.poll();  // let the cancelled poll complete
    return held || done();
}

/// Lets `ioc` run for `d` (a pause in which the clients go on working).
inline void run_for(boost::asio::io_context& ioc, std::chrono::milliseconds d)
{
    run_until(
        ioc, [] { return false; }, d);
}

/// Milliseconds as a double, for reports.
inline double ms(clock_type::duration d)
{
    return std::chrono::duration<double, std::milli>(d).count();
}

/// A steady-clock time point from the nanoseconds the generator reports (same clock, both processes).
inline clock_type::time_point from_ns(long long ns)
{
    return clock_type::time_point(std::chrono::duration_cast<clock_type::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace bench

#endif
