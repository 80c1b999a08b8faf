// tether testing kit: an in-process TCP proxy that injects network faults into live connections.
#ifndef TETHER_TESTING_FAULT_PROXY_HPP
#define TETHER_TESTING_FAULT_PROXY_HPP

#include <tether/export.hpp>

#include <tether/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tether::testing {

/// Which way bytes flow through the proxy.
enum class direction {
    upstream,    ///< client to server
    downstream,  ///< server to client
};

/// What happens to the bytes flowing one way through the proxy. The default value is a clean
/// link. Faults combine: latency, then slicing and the bandwidth limit, then the data limit.
/// Byte order is always kept: a fault may delay, split, discard or cut, never reorder.
struct link_faults {
    /// Each chunk read is forwarded this much later.
    std::chrono::milliseconds latency{0};
    /// Plus a uniform random offset in [-jitter, +jitter] per chunk (clamped at zero, and never
    /// earlier than the chunk before it). The proxy's generator is seeded with `set_seed`.
    std::chrono::milliseconds jitter{0};
    /// Bytes per second; 0 means unlimited. Data is written in pieces of about 1/50 s.
    std::size_t bandwidth = 0;
    /// Forwards in pieces of at most this many bytes; 0 means off.
    std::size_t slice = 0;
    /// The pause after each slice.
    std::chrono::milliseconds slice_delay{0};
    /// Reads and discards everything, and hides the end of the stream (FIN or RST) from the other
    /// side until the blackhole is lifted, as a silent network partition does. Never closes.
    bool blackhole = false;
    /// Stops reading (and forwarding) altogether, so the sender's TCP buffers fill and its writes
    /// block. Nothing is lost: lifting the stall lets everything through.
    bool stall = false;
    /// After this many more bytes (counted from the moment the fault is set on a live connection,
    /// or from the connection's start), the proxy closes the connection on both sides (FIN).
    std::optional<std::uint64_t> limit_data;
};

/// What the proxy does with a new TCP connection.
enum class accept_mode {
    forward,      ///< connect to the target and relay, applying the current faults
    silent,       ///< accept, never answer, never connect upstream; discard what the client sends,
                  ///< close only when the client does (an upgrade that is never answered)
    reset,        ///< accept, then reset at once (RST)
    unreachable,  ///< accept nothing: the listen backlog is full, SYNs are dropped, so a client's
                  ///< TCP connect hangs until its own timeout (a host that is down or firewalled)
};

/// Counters since construction.
struct fault_proxy_stats {
    std::uint64_t connections = 0;        ///< TCP connections accepted from clients
    std::uint64_t live_connections = 0;   ///< connections open now (silent ones included)
    std::uint64_t upstream_failures = 0;  ///< connections to the target that failed
    std::uint64_t bytes_upstream = 0;     ///< bytes forwarded client to server
    std::uint64_t bytes_downstream = 0;   ///< bytes forwarded server to client
    std::uint64_t bytes_discarded = 0;    ///< bytes swallowed by a blackhole
    std::uint64_t resets = 0;             ///< connections reset by the proxy
    std::uint64_t cuts = 0;               ///< connections closed by a data limit or `close_connections`
};

/// An in-process TCP proxy on 127.0.0.1 that sits between a client and a server and applies
/// faults to live connections: latency with jitter, a bandwidth limit, a blackhole, a reset,
/// slicing, a data limit, a stall, and accepting without answering. Point the client at `url()`
/// instead of the server.
///
/// Faults set with `set_faults` take effect at once on every live connection and on those
/// accepted later, until changed. `reset_connections` and `close_connections` act once, on the
/// connections live at that moment. Everything runs as coroutines on the executor given to the
/// constructor; the object is not thread safe: use it from that executor (tests run one
/// single-threaded io_context).
///
/// Lifetime: destroying the proxy (or `stop()`) closes its listener and every connection. Its
/// coroutines hold shared state, so they may still finish on the executor after the destructor
/// returns; they touch nothing of the test's. Run the io_context until they have (a test that
/// returns from `io_context::run` is fine).
class TETHER_API fault_proxy {
public:
    /// Listens on 127.0.0.1:`port` (0 = an ephemeral port) at once and forwards to
    /// 127.0.0.1:`target_port`.
    fault_proxy(boost::asio::any_io_executor ex, std::uint16_t target_port, std::uint16_t port = 0);
    ~fault_proxy();
    fault_proxy(const fault_proxy&) = delete;
    fault_proxy& operator=(const fault_proxy&) = delete;

    /// The port clients connect to.
    std::uint16_t port() const noexcept;
    /// `ws://127.0.0.1:<port><target>`
    std::string url(std::string_view target = "/") const;

    /// Sets the faults of one direction on every live and future connection. A blackhole or stall
    /// lifted, or a latency lowered, applies to data read from then on.
    void set_faults(direction d, link_faults f);
    /// Sets the same faults on both directions.
    void set_faults(link_faults f);
    /// The faults currently set for `d`.
    const link_faults& faults(direction d) const noexcept;
    /// Clean links both ways, and `accept_mode::forward`.
    void clear_faults();

    /// What to do with connections accepted from now on; live ones keep their mode.
    void set_accept_mode(accept_mode m);
    accept_mode get_accept_mode() const noexcept;

    /// Resets every live connection on both sides at once (SO_LINGER 0, then close: an RST).
    void reset_connections();
    /// Closes every live connection on both sides at once with a FIN and no WebSocket close frame,
    /// as a server process that exits would.
    void close_connections();

    /// Seeds the generator behind jitter, so that a run can be repeated.
    void set_seed(std::uint64_t seed);

    /// Closes the listener (new connections are refused) and resets every live connection.
    void stop();
    /// Listens again on the same port after `stop`.
    void start();

    fault_proxy_stats stats() const noexcept;

    /// Completes once `predicate()` holds, re-checked after every connection change and every
    /// forwarded chunk, or with a `timed_out` error after `limit`.
    boost::asio::awaitable<error_code> async_wait_until(std::function<bool()> predicate,
                                                        std::chrono::milliseconds limit = std::chrono::seconds(10));

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace tether::testing

#endif
