#include "delivery.hpp"

#include <boost/json/parser.hpp>

#include <limits>

namespace tether::detail {

namespace json = boost::json;

delivery::delivery(asio::any_io_executor ex, asio::any_io_executor strand, const client_config& cfg, notifier& events,
                   counters& stats, send_queue& sends)
    : ex_(std::move(ex)), strand_(std::move(strand)), format_(cfg.inbound), events_(events), stats_(stats),
      sends_(sends), json_(std::make_shared<inbox<json::value>>(ex_, cfg.receive_buffer_capacity)),
      raw_(std::make_shared<inbox<message>>(ex_, cfg.receive_buffer_capacity))
{
}

void delivery::deliver(std::span<const inbound_message> batch)
{
    if (format_ == inbound_format::json)
        deliver_json(batch);
    else
        deliver_raw(batch);
}

void delivery::deliver_json(std::span<const inbound_message> batch)
{
    const auto& on_message = events_.callbacks().on_message;
    for (const auto& m : batch) {
        if (m.kind == message_kind::binary) {
            ++stats_.ignored;
            continue;
        }
        inbound in = adapter_.adapt(m.payload);
        switch (in.status) {
        case inbound_status::malformed:
            ++stats_.malformed;
            events_.emit(events_.callbacks().on_error, in.error,
                         "malformed JSON message skipped: " + in.error.message());
            continue;
        case inbound_status::ignored: ++stats_.ignored; continue;
        case inbound_status::delivered: break;
        }
        ++stats_.received;
        if (answer_request(in.value)) continue;
        if (on_message)
            events_.emit(on_message, in.value);
        else
            json_batch_.push_back(std::move(in.value));
    }
    if (!json_batch_.empty()) json_->push(json_batch_);
}

void delivery::deliver_raw(std::span<const inbound_message> batch)
{
    const auto& on_raw = events_.callbacks().on_raw_message;
    for (const auto& m : batch) {
        ++stats_.received;
        // A pending request looks at text messages that are JSON (the only kind it can match).
        if (!requests_.empty() && m.kind == message_kind::text) {
            inbound in = adapter_.adapt(m.payload);
            if (in.status == inbound_status::delivered && answer_request(in.value)) continue;
        }
        if (on_raw)
            events_.emit(on_raw, message_view{m.kind, m.payload});
        else
            raw_batch_.push_back({m.kind, m.storage ? std::move(*m.storage) : std::string(m.payload)});
    }
    if (!raw_batch_.empty()) raw_->push(raw_batch_);
}

std::size_t delivery::room() const
{
    const auto& cb = events_.callbacks();
    if (cb.on_message || cb.on_raw_message) return std::numeric_limits<std::size_t>::max();
    return format_ == inbound_format::json ? json_->room() : raw_->room();
}

asio::awaitable<void> delivery::wait_for_room()
{
    if (format_ == inbound_format::json)
        co_await json_->async_wait_for_room(use_tuple);
    else
        co_await raw_->async_wait_for_room(use_tuple);
}

void delivery::release_reader()
{
    json_->release_reader();
    raw_->release_reader();
}

void delivery::written(std::vector<outgoing>& batch, error_code ec)
{
    for (auto& item : batch) {
        if (item.request_id != 0) {
            if (ec) {
                fail_request(item.request_id, ec);
                continue;
            }
            for (auto& r : requests_)
                if (r.id == item.request_id) r.sent = true;
            continue;
        }
        if (!ec) ++stats_.sent;
        // From the writer, not from the send's initiation: a coroutine on this thread resumes at once.
        if (item.handler) dispatch_completion(ex_, std::move(item.handler), ec);
    }
    batch.clear();
}

void delivery::add_request(std::uint64_t id, std::function<bool(const json::value&)> match,
                           std::chrono::milliseconds timeout, value_handler h)
{
    auto timer = std::make_unique<asio::steady_timer>(strand_, timeout);
    timer->async_wait([w = weak_from_this(), id](error_code ec) {
        if (auto self = w.lock(); self && !ec) self->fail_request(id, error::request_timeout);
    });
    requests_.push_back({id, std::move(match), std::move(h), std::move(timer), false});
}

bool delivery::answer_request(json::value& v)
{
    for (auto it = requests_.begin(); it != requests_.end(); ++it) {
        if (!it->match(v)) continue;
        auto h = std::move(it->handler);
        requests_.erase(it);
        post_completion(ex_, std::move(h), error_code{}, std::move(v));
        return true;
    }
    return false;
}

void delivery::fail_request(std::uint64_t id, error_code ec)
{
    // A request that failed before it went out must not go out later.
    sends_.erase_request(id);
    for (auto it = requests_.begin(); it != requests_.end(); ++it) {
        if (it->id != id) continue;
        auto h = std::move(it->handler);
        requests_.erase(it);
        post_completion(ex_, std::move(h), ec, json::value());
        return;
    }
}

void delivery::fail_sent_requests()
{
    for (auto it = requests_.begin(); it != requests_.end();) {
        if (!it->sent) {
            ++it;
            continue;
        }
        auto h = std::move(it->handler);
        it = requests_.erase(it);
        post_completion(ex_, std::move(h), error_code(error::connection_lost), json::value());
    }
}

void delivery::finish()
{
    for (auto& r : requests_)
        post_completion(ex_, std::move(r.handler), error_code(error::client_closed), json::value());
    requests_.clear();
    json_->finish(error::client_closed);
    raw_->finish(error::client_closed);
}

}  // namespace tether::detail
