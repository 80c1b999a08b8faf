// The client's public face: each entry point goes to the part that owns it. Sends and receives
// touch the mailbox directly, from any thread; the lifecycle (run, connect, close, reconnect) and
// requests go onto the strand, to the supervisor and to delivery.
#include <tether/client.hpp>

#include "delivery.hpp"
#include "events.hpp"
#include "mailbox.hpp"
#include "supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>

namespace tether {

namespace asio = boost::asio;
using namespace detail;

namespace {

// A strand over the application's executor, type-erased. Over an io_context's executor it is
// built on the concrete type: a strand over any_io_executor pays a second layer of type erasure
// (copies, destructions, calls through pointers) on every completion.
asio::any_io_executor make_client_strand(const asio::any_io_executor& ex)
{
    if (const auto* io = ex.target<asio::io_context::executor_type>()) return asio::make_strand(*io);
    return asio::make_strand(ex);
}

client_config validated(client_config cfg, const client_callbacks& cb)
{
    cfg.validate();
    if (cb.on_message && cb.on_raw_message)
        throw std::invalid_argument("on_raw_message: cannot be set together with on_message");
    return cfg;
}

}  // namespace

class client::impl : public std::enable_shared_from_this<impl> {
public:
    impl(executor_type ex, client_config cfg, client_callbacks cb)
        : ex_(std::move(ex)), strand_(make_client_strand(ex_)), cfg_(validated(std::move(cfg), cb)),
          events_(std::move(cb)), sends_(strand_, cfg_.send_queue_capacity),
          inbound_(std::make_shared<delivery>(ex_, strand_, cfg_, events_, stats_, sends_)),
          resume_(cfg_.resume.sends.enabled || cfg_.resume.receives.enabled
                      ? std::make_unique<resume_state>(cfg_.resume, ex_, events_, stats_, sends_, *inbound_)
                      : nullptr),
          supervisor_(ex_, strand_, cfg_, events_, stats_, sends_, *inbound_, resume_.get())
    {
    }

    void request(std::string text, std::function<bool(const boost::json::value&)> match,
                 std::chrono::milliseconds timeout, value_handler h)
    {
        const std::uint64_t id = ++next_request_id_;
        outgoing item{.kind = message_kind::text, .payload = std::move(text), .handler = {}, .request_id = id};
        if (const error_code refused = sends_.push(item))
            return post_completion(ex_, std::move(h), refused, boost::json::value());
        inbound_->add_request(id, std::move(match), timeout, std::move(h));
    }

    executor_type ex_;
    executor_type strand_;
    const client_config cfg_;
    notifier events_;
    counters stats_;
    send_queue sends_;
    std::shared_ptr<delivery> inbound_;
    std::unique_ptr<resume_state> resume_;  // acknowledged sends, resumable receives; null when off
    supervisor supervisor_;
    std::uint64_t next_request_id_ = 0;  // on the strand
};

// --- the public face -----------------------------------------------------------------------------

client::client(executor_type ex, client_config config, client_callbacks callbacks)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(config), std::move(callbacks)))
{
}

client::~client()
{
    // Silent from now on, on every thread; the rest on the strand (at once when this runs on it,
    // e.g. in a callback: the close is polite, and the link ends on its own time).
    impl_->events_.silence();
    asio::dispatch(impl_->strand_, [i = impl_] { i->supervisor_.shutdown(); });
}

client::executor_type client::get_executor() const noexcept
{
    return impl_->ex_;
}

std::string client::serialize(const boost::json::value& v)
{
    return boost::json::serialize(v);
}

void client::start_run(asio::any_completion_handler<void(error_code)> h)
{
    asio::post(impl_->strand_, [i = impl_, h = std::move(h)]() mutable { i->supervisor_.run(std::move(h), i); });
}

void client::start_connect(asio::any_completion_handler<void(error_code)> h)
{
    asio::post(impl_->strand_, [i = impl_, h = std::move(h)]() mutable { i->supervisor_.connect(std::move(h), i); });
}

void client::start_send(message m, asio::any_completion_handler<void(error_code)> h)
{
    outgoing item{.kind = m.kind, .payload = std::move(m.payload), .handler = std::move(h), .request_id = 0};
    if (const error_code refused = impl_->sends_.push(item))
        post_completion(impl_->ex_, std::move(item.handler), refused);
}

std::optional<boost::json::value> client::try_receive()
{
    std::optional<boost::json::value> v;
    impl_->inbound_->take(v);
    return v;
}

std::size_t client::try_receive_some(std::vector<boost::json::value>& out, std::size_t max)
{
    return impl_->inbound_->take(out, max);
}

std::optional<message> client::try_receive_raw()
{
    std::optional<message> m;
    impl_->inbound_->take(m);
    return m;
}

std::size_t client::try_receive_raw_some(std::vector<message>& out, std::size_t max)
{
    return impl_->inbound_->take(out, max);
}

void client::start_receive(asio::any_completion_handler<void(error_code, boost::json::value)> h)
{
    impl_->inbound_->receive(std::move(h));
}

void client::start_receive_some(std::size_t max,
                                asio::any_completion_handler<void(error_code, std::vector<boost::json::value>)> h)
{
    if (max == 0)
        return post_completion(impl_->ex_, std::move(h), error_code(asio::error::invalid_argument),
                               std::vector<boost::json::value>());
    impl_->inbound_->receive(max, std::move(h));
}

void client::start_receive_raw(asio::any_completion_handler<void(error_code, message)> h)
{
    impl_->inbound_->receive(std::move(h));
}

void client::start_receive_raw_some(std::size_t max,
                                    asio::any_completion_handler<void(error_code, std::vector<message>)> h)
{
    if (max == 0)
        return post_completion(impl_->ex_, std::move(h), error_code(asio::error::invalid_argument),
                               std::vector<message>());
    impl_->inbound_->receive(max, std::move(h));
}

void client::start_request(std::string text, std::function<bool(const boost::json::value&)> match,
                           std::chrono::milliseconds timeout,
                           asio::any_completion_handler<void(error_code, boost::json::value)> h)
{
    asio::post(impl_->strand_,
               [i = impl_, t = std::move(text), m = std::move(match), timeout, h = std::move(h)]() mutable {
                   i->request(std::move(t), std::move(m), timeout, std::move(h));
               });
}

void client::start_close(asio::any_completion_handler<void(error_code)> h)
{
    asio::post(impl_->strand_, [i = impl_, h = std::move(h)]() mutable { i->supervisor_.close(std::move(h)); });
}

void client::reconnect()
{
    asio::post(impl_->strand_, [i = impl_] { i->supervisor_.reconnect(); });
}

bool client::is_connected() const noexcept
{
    return impl_->supervisor_.state() == client_state::connected;
}

client_state client::state() const noexcept
{
    return impl_->supervisor_.state();
}

client_stats client::stats() const noexcept
{
    client_stats s = impl_->stats_.snapshot();
    s.inbox_depth = impl_->inbound_->inbox_depth();
    s.send_queue_depth = impl_->sends_.size();
    return s;
}

std::vector<connection_record> client::history() const
{
    return impl_->supervisor_.history();
}

std::string_view to_string(client_state s) noexcept
{
    switch (s) {
    case client_state::idle: return "idle";
    case client_state::connecting: return "connecting";
    case client_state::connected: return "connected";
    case client_state::reconnecting: return "reconnecting";
    case client_state::closing: return "closing";
    case client_state::closed: return "closed";
    }
    return "unknown";
}

std::string_view to_string(event_kind k) noexcept
{
    switch (k) {
    case event_kind::state: return "state";
    case event_kind::held: return "held";
    case event_kind::attempt: return "attempt";
    case event_kind::connected: return "connected";
    case event_kind::disconnected: return "disconnected";
    case event_kind::decision: return "decision";
    case event_kind::pong: return "pong";
    case event_kind::heartbeat_timeout: return "heartbeat_timeout";
    case event_kind::gap: return "gap";
    }
    return "unknown";
}

}  // namespace tether
