// tether testing kit: the fault-injecting TCP proxy. Each proxied connection runs four
// coroutines: a reader and a writer per direction, joined by a bounded queue of timestamped
// chunks, so that latency delays data without throttling it and every fault can change while the
// connection is live.
#include <tether/testing/fault_proxy.hpp>

#include "waiters.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <array>
#include <deque>
#include <list>
#include <random>
#include <utility>
#include <vector>

namespace tether::testing {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);
constexpr std::size_t read_size = 64 * 1024;
// Beyond this many bytes waiting in one direction the reader stops, and TCP pushes back.
constexpr std::size_t max_queued = 1024 * 1024;
constexpr auto target_connect_timeout = std::chrono::seconds(5);

// Closes a socket, with an RST instead of a FIN when `reset` is set. Errors are of no interest.
void close_socket(tcp::socket& s, bool reset) noexcept
{
    boost::system::error_code ignored;
    if (!s.is_open()) return;
    if (reset) s.set_option(net::socket_base::linger(true, 0), ignored);
    s.close(ignored);
}

std::size_t index(direction d) noexcept
{
    return d == direction::upstream ? 0 : 1;
}

}  // namespace

namespace detail {

// One direction of one proxied connection.
struct pump {
    explicit pump(const net::any_io_executor& ex) : reader_wake(ex), writer_wake(ex) {}

    struct chunk {
        std::string data;
        std::size_t offset = 0;
        clock_type::time_point due;
    };

    link_faults faults;
    std::optional<std::uint64_t> limit_left;
    std::deque<chunk> queue;
    std::size_t queued = 0;
    clock_type::time_point last_due{};
    clock_type::time_point not_before{};  // pacing for the bandwidth limit and slice delay
    bool source_ended = false;            // a FIN arrived and is to be passed on once drained
    net::steady_timer reader_wake;        // cancelled to make the reader re-check its conditions
    net::steady_timer writer_wake;        // likewise for the writer; also its timed waits

    void set(const link_faults& f)
    {
        faults = f;
        limit_left = f.limit_data;
        wake();
    }
    void wake()
    {
        reader_wake.cancel();
        writer_wake.cancel();
    }
};

struct relay;

// What the proxy and its connections share; coroutines hold it, so it outlives the proxy object.
struct proxy_core : std::enable_shared_from_this<proxy_core> {
    proxy_core(net::any_io_executor ex, std::uint16_t target_port, std::uint16_t port)
        : ex_(std::move(ex)), target_(net::ip::make_address_v4("127.0.0.1"), target_port), port_(port), acceptor_(ex_)
    {
    }

    net::any_io_executor ex_;
    tcp::endpoint target_;
    std::uint16_t port_;
    tcp::acceptor acceptor_;
    std::vector<tcp::socket> fillers_;  // connections that fill the backlog in `unreachable` mode
    std::array<link_faults, 2> faults_{};
    accept_mode mode_ = accept_mode::forward;
    bool running_ = false;
    bool destroyed_ = false;
    std::uint64_t generation_ = 0;  // bumped per listen, so a stale accept loop ends
    std::mt19937_64 rng_{0x7e7e7e7e};
    fault_proxy_stats stats_;
    std::list<std::shared_ptr<relay>> links_;
    change_waiters waiters_;  // the async_wait_until calls under way

    void listen();
    void close_listener() noexcept;
    void fill_backlog();
    void notify() noexcept { waiters_.notify(); }
    void remove(relay* l) noexcept;
    template <class F>
    void for_each_link(F f)
    {
        auto copy = links_;  // closing a relay removes it from the list
        for (auto& l : copy) f(*l);
    }
    std::chrono::milliseconds jitter(std::chrono::milliseconds j)
    {
        if (j <= std::chrono::milliseconds::zero()) return {};
        std::uniform_int_distribution<std::int64_t> d(-j.count(), j.count());
        return std::chrono::milliseconds(d(rng_));
    }
};

// One proxied connection: the client's socket and the one to the target.
struct relay : std::enable_shared_from_this<relay> {
    relay(std::shared_ptr<detail::proxy_core> c, tcp::socket s)
        : core(std::move(c)), client(std::move(s)), server(core->ex_), pumps{pump(core->ex_), pump(core->ex_)}
    {
    }

    std::shared_ptr<detail::proxy_core> core;
    tcp::socket client;
    tcp::socket server;
    std::array<pump, 2> pumps;
    bool closed = false;
    int drained = 0;  // directions whose FIN has been passed on

    tcp::socket& source(direction d) noexcept { return d == direction::upstream ? client : server; }
    tcp::socket& destination(direction d) noexcept { return d == direction::upstream ? server : client; }

    // Ends the connection on both sides, with RSTs when `reset`, and wakes every coroutine.
    void close(bool reset) noexcept
    {
        if (closed) return;
        closed = true;
        auto keep = shared_from_this();  // removing it from the list may drop the last owner
        close_socket(client, reset);
        close_socket(server, reset);
        for (auto& p : pumps) p.wake();
        core->remove(this);
    }
};

void proxy_core::remove(relay* l) noexcept
{
    links_.remove_if([l](const std::shared_ptr<relay>& p) { return p.get() == l; });
    stats_.live_connections = links_.size();
    notify();
}

}  // namespace detail

struct fault_proxy::impl : detail::proxy_core {
    using proxy_core::proxy_core;
};

namespace {

using detail::relay;
using link_ptr = std::shared_ptr<relay>;

// Waits until `t` or until the timer is cancelled (a fault changed, data arrived, the relay closed).
net::awaitable<void> wait_on(net::steady_timer& timer, clock_type::time_point t = clock_type::time_point::max())
{
    timer.expires_at(t);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    (void)ec;
}

net::awaitable<void> read_side(link_ptr l, direction d)
{
    auto& p = l->pumps[index(d)];
    auto& core = *l->core;
    std::string buffer(read_size, '\0');
    for (;;) {
        while (!l->closed && (p.faults.stall || p.queued >= max_queued)) co_await wait_on(p.reader_wake);
        if (l->closed) co_return;
        auto [ec, n] = co_await l->source(d).async_read_some(net::buffer(buffer), use_nothrow);
        if (l->closed) co_return;
        if (ec) {
            // A blackhole hides the end of the stream too, until it is lifted.
            while (!l->closed && p.faults.blackhole) co_await wait_on(p.reader_wake);
            if (l->closed) co_return;
            if (ec == net::error::eof) {
                p.source_ended = true;
                p.writer_wake.cancel();
                co_return;
            }
            ++core.stats_.resets;
            l->close(true);  // a reset (or another failure) is passed on as a reset
            co_return;
        }
        if (p.faults.blackhole) {
            core.stats_.bytes_discarded += n;
            core.notify();
            continue;
        }
        auto due = clock_type::now() + p.faults.latency + core.jitter(p.faults.jitter);
        due = std::max(due, p.last_due);  // never reorder
        p.last_due = due;
        p.queued += n;
        // A copy of exactly n bytes: the queue is bounded in bytes, so a chunk must not keep the
        // whole read buffer's capacity.
        p.queue.push_back({std::string(buffer.data(), n), 0, due});
        p.writer_wake.cancel();
    }
}

net::awaitable<void> write_side(link_ptr l, direction d)
{
    auto& p = l->pumps[index(d)];
    auto& core = *l->core;
    auto& counter = d == direction::upstream ? core.stats_.bytes_upstream : core.stats_.bytes_downstream;
    for (;;) {
        if (l->closed) co_return;
        if (p.limit_left && *p.limit_left == 0) {
            ++core.stats_.cuts;
            l->close(false);
            co_return;
        }
        if (p.faults.blackhole && !p.queue.empty()) {
            core.stats_.bytes_discarded += p.queued;
            p.queue.clear();
            p.queued = 0;
            p.reader_wake.cancel();
            core.notify();
        }
        if (p.faults.stall || p.queue.empty()) {
            if (!p.faults.stall && p.source_ended) {
                // Drained after a FIN: pass the FIN on; when both ways are done, close.
                boost::system::error_code ignored;
                l->destination(d).shutdown(tcp::socket::shutdown_send, ignored);
                if (++l->drained == 2) l->close(false);
                co_return;
            }
            co_await wait_on(p.writer_wake);
            continue;
        }
        auto now = clock_type::now();
        auto& c = p.queue.front();
        const auto ready = std::max(c.due, p.not_before);
        if (now < ready) {
            co_await wait_on(p.writer_wake, ready);
            continue;
        }
        std::size_t piece = c.data.size() - c.offset;
        if (p.faults.slice > 0) piece = std::min(piece, p.faults.slice);
        if (p.faults.bandwidth > 0) piece = std::min(piece, std::max<std::size_t>(1, p.faults.bandwidth / 50));
        if (p.limit_left) piece = static_cast<std::size_t>(std::min<std::uint64_t>(piece, *p.limit_left));

        auto [ec, n] =
            co_await net::async_write(l->destination(d), net::buffer(c.data.data() + c.offset, piece), use_nothrow);
        if (l->closed) co_return;
        if (ec) {
            ++core.stats_.resets;
            l->close(true);
            co_return;
        }
        counter += n;
        if (p.limit_left) *p.limit_left -= n;
        now = clock_type::now();
        p.not_before = now;
        if (p.faults.slice > 0) p.not_before = now + p.faults.slice_delay;
        if (p.faults.bandwidth > 0)
            p.not_before = std::max(p.not_before,
                                    now + std::chrono::duration_cast<clock_type::duration>(
                                              std::chrono::duration<double>(double(n) / double(p.faults.bandwidth))));
        // The chunk may have been dropped by a blackhole set while this piece was written.
        if (!p.queue.empty() && &p.queue.front() == &c) {
            c.offset += n;
            if (c.offset == c.data.size()) {
                p.queued -= c.data.size();
                p.queue.pop_front();
                p.reader_wake.cancel();
            }
        }
        core.notify();
    }
}

net::awaitable<void> run_link(link_ptr l)
{
    auto& core = *l->core;
    // Connect to the target, bounded: a target that never answers must not hold the relay forever.
    net::steady_timer deadline(core.ex_, target_connect_timeout);
    deadline.async_wait([w = std::weak_ptr<relay>(l)](boost::system::error_code ec) {
        if (ec) return;
        if (auto self = w.lock()) close_socket(self->server, false);
    });
    auto [ec] = co_await l->server.async_connect(core.target_, use_nothrow);
    deadline.cancel();
    if (l->closed) co_return;
    if (ec) {
        ++core.stats_.upstream_failures;
        ++core.stats_.resets;
        l->close(true);  // as a dead server would look through a transparent relay
        co_return;
    }
    boost::system::error_code ignored;
    l->server.set_option(tcp::no_delay(true), ignored);
    for (auto d : {direction::upstream, direction::downstream}) {
        net::co_spawn(core.ex_, read_side(l, d), net::detached);
        net::co_spawn(core.ex_, write_side(l, d), net::detached);
    }
}

// Accept-and-stay-silent: read and discard, never answer, close only when the client does.
net::awaitable<void> run_silent(link_ptr l)
{
    std::string buffer(read_size, '\0');
    for (;;) {
        auto [ec, n] = co_await l->client.async_read_some(net::buffer(buffer), use_nothrow);
        if (l->closed) co_return;
        if (ec) {
            l->close(false);
            co_return;
        }
        l->core->stats_.bytes_discarded += n;
    }
}

net::awaitable<void> accept_loop(std::shared_ptr<detail::proxy_core> core, std::uint64_t generation)
{
    // Checked before accepting too: a loop spawned before a stop() or a mode change may start
    // only after the acceptor was reopened, and must not take a connection from its successor.
    auto stale = [&] { return !core->running_ || core->generation_ != generation || core->destroyed_; };
    for (;;) {
        if (stale()) co_return;
        auto [ec, socket] = co_await core->acceptor_.async_accept(use_nothrow);
        if (stale()) co_return;
        if (ec) continue;
        ++core->stats_.connections;
        if (core->mode_ == accept_mode::reset || core->mode_ == accept_mode::unreachable) {
            ++core->stats_.resets;
            close_socket(socket, true);
            core->notify();
            continue;
        }
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto l = std::make_shared<relay>(core, std::move(socket));
        l->pumps[0].set(core->faults_[0]);
        l->pumps[1].set(core->faults_[1]);
        core->links_.push_back(l);
        core->stats_.live_connections = core->links_.size();
        core->notify();
        if (core->mode_ == accept_mode::silent)
            net::co_spawn(core->ex_, run_silent(l), net::detached);
        else
            net::co_spawn(core->ex_, run_link(l), net::detached);
    }
}

net::awaitable<error_code> wait_until(std::shared_ptr<detail::proxy_core> core, std::function<bool()> predicate,
                                      std::chrono::milliseconds limit)
{
    return core->waiters_.wait_until(core->ex_, core, std::move(predicate), limit);
}

}  // namespace

// --- listening -------------------------------------------------------------------------------------

void detail::proxy_core::listen()
{
    // An unreachable listener has no room at all in its backlog; fill_backlog takes the rest.
    port_ = listen_on_loopback(acceptor_, port_,
                               mode_ == accept_mode::unreachable ? 0 : net::socket_base::max_listen_connections);
    running_ = true;
    ++generation_;
    if (mode_ == accept_mode::unreachable)
        fill_backlog();  // and never accept
    else
        net::co_spawn(ex_, accept_loop(shared_from_this(), generation_), net::detached);
}

// With a backlog of 0, Linux queues one connection and then drops further SYNs, so a client's
// connect() hangs in SYN-SENT: a true connect timeout, on loopback. The first filler completes;
// two more, left pending, cover kernels that queue one more.
void detail::proxy_core::fill_backlog()
{
    const tcp::endpoint endpoint(net::ip::make_address_v4("127.0.0.1"), port_);
    for (int i = 0; i < 3; ++i) {
        tcp::socket s(ex_);
        boost::system::error_code ec;
        s.open(tcp::v4(), ec);
        if (ec) break;
        s.native_non_blocking(true, ec);
        // A raw connect: Asio's synchronous one would wait for the connection to complete.
        const int rc = ::connect(s.native_handle(), endpoint.data(), static_cast<socklen_t>(endpoint.size()));
        if (i == 0 && rc != 0 && errno == EINPROGRESS) {
            // Wait (briefly, bounded) for the first filler to be queued.
            ::pollfd pfd{s.native_handle(), POLLOUT, 0};
            ::poll(&pfd, 1, 1000);
        }
        fillers_.push_back(std::move(s));
    }
}

void detail::proxy_core::close_listener() noexcept
{
    running_ = false;
    ++generation_;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& s : fillers_) close_socket(s, true);
    fillers_.clear();
}

// --- fault_proxy -------------------------------------------------------------------------------------

fault_proxy::fault_proxy(net::any_io_executor ex, std::uint16_t target_port, std::uint16_t port)
    : impl_(std::make_shared<impl>(std::move(ex), target_port, port))
{
    impl_->listen();
}

fault_proxy::~fault_proxy()
{
    impl_->destroyed_ = true;
    stop();
    impl_->notify();
}

std::uint16_t fault_proxy::port() const noexcept
{
    return impl_->port_;
}

std::string fault_proxy::url(std::string_view target) const
{
    std::string u = "ws://127.0.0.1:" + std::to_string(impl_->port_);
    if (target.empty() || target.front() != '/') u += '/';
    u += target;
    return u;
}

void fault_proxy::set_faults(direction d, link_faults f)
{
    impl_->faults_[index(d)] = f;
    impl_->for_each_link([&](relay& l) { l.pumps[index(d)].set(f); });
}

void fault_proxy::set_faults(link_faults f)
{
    set_faults(direction::upstream, f);
    set_faults(direction::downstream, f);
}

const link_faults& fault_proxy::faults(direction d) const noexcept
{
    return impl_->faults_[index(d)];
}

void fault_proxy::clear_faults()
{
    set_faults(link_faults{});
    set_accept_mode(accept_mode::forward);
}

void fault_proxy::set_accept_mode(accept_mode m)
{
    const accept_mode before = std::exchange(impl_->mode_, m);
    const bool was_unreachable = before == accept_mode::unreachable;
    const bool is_unreachable = m == accept_mode::unreachable;
    // Moving into or out of `unreachable` needs a listener with another backlog on the same port.
    if (impl_->running_ && was_unreachable != is_unreachable) {
        impl_->close_listener();
        impl_->listen();
    }
}

accept_mode fault_proxy::get_accept_mode() const noexcept
{
    return impl_->mode_;
}

void fault_proxy::reset_connections()
{
    impl_->for_each_link([&](relay& l) {
        ++impl_->stats_.resets;
        l.close(true);
    });
}

void fault_proxy::close_connections()
{
    impl_->for_each_link([&](relay& l) {
        ++impl_->stats_.cuts;
        l.close(false);
    });
}

void fault_proxy::set_seed(std::uint64_t seed)
{
    impl_->rng_.seed(seed);
}

void fault_proxy::stop()
{
    impl_->close_listener();
    reset_connections();
}

void fault_proxy::start()
{
    if (impl_->running_) return;
    impl_->listen();
}

fault_proxy_stats fault_proxy::stats() const noexcept
{
    return impl_->stats_;
}

net::awaitable<error_code> fault_proxy::async_wait_until(std::function<bool()> predicate,
                                                         std::chrono::milliseconds limit)
{
    return wait_until(impl_, std::move(predicate), limit);
}

}  // namespace tether::testing
