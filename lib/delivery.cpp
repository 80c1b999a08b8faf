#include "delivery.hpp"

#include <boost/json/monotonic_resource.hpp>

#include <algorithm>
#include <limits>

namespace tether::detail {

namespace json = boost::json;

namespace {

// The most a batch receive's arena reserves up front for the values it guesses will follow.
constexpr std::size_t max_arena_guess = 1024 * 1024;

}  // namespace

delivery::delivery(asio::any_io_executor ex, asio::any_io_executor strand, const client_config& cfg, notifier& events,
                   counters& stats, send_queue& sends)
    : ex_(std::move(ex)), strand_(std::move(strand)), events_(events), stats_(stats), sends_(sends),
      inbox_(std::make_shared<inbox>(ex_, cfg.receive_buffer_capacity))
{
}

// --- the reader's side ------------------------------------------------------------------------------

void delivery::deliver(std::span<const inbound_message> batch)
{
    const auto& cb = events_.callbacks();
    if (cb.on_message) {
        std::optional<json::value> v;
        error_code parse_error;
        for (const auto& m : batch) {
            const inbound_status status = adapter_.adapt(message_view{m.kind, m.payload}, v, parse_error);
            if (status != inbound_status::delivered) {
                skipped(status, parse_error);
                continue;
            }
            ++stats_.received;
            if (requests_.empty() || !answer_request(*v)) events_.emit(cb.on_message, *v);
            v.reset();
        }
        return;
    }
    // Only while a request waits are messages parsed here: to find its response.
    std::span<const inbound_message> rest = batch;
    if (!requests_.empty()) {
        unanswered_.clear();
        for (const auto& m : batch) {
            inbound in = adapter_.adapt(message_view{m.kind, m.payload});
            if (in.status == inbound_status::delivered && answer_request(in.value)) {
                ++stats_.received;
                continue;
            }
            unanswered_.push_back(m);
        }
        rest = unanswered_;
    }
    if (cb.on_raw_message) {
        for (const auto& m : rest) {
            ++stats_.received;
            events_.emit(cb.on_raw_message, message_view{m.kind, m.payload});
        }
        return;
    }
    if (!rest.empty()) inbox_->push(rest);
}

std::size_t delivery::room() const
{
    if (receive_refused()) return std::numeric_limits<std::size_t>::max();
    return inbox_->room();
}

asio::awaitable<void> delivery::wait_for_room()
{
    co_await inbox_->async_wait_for_room(use_tuple);
}

// --- the writer's side ------------------------------------------------------------------------------

void delivery::written(std::vector<outgoing>& batch, error_code ec)
{
    for (auto& item : batch) {
        if (item.request_id != 0) {
            request_written(item.request_id, ec);
            continue;
        }
        if (!ec) ++stats_.sent;
        // From the writer, not from the send's initiation: a coroutine on this thread resumes at once.
        if (item.handler) dispatch_completion(ex_, std::move(item.handler), ec);
    }
    batch.clear();
}

// --- the application's receives ---------------------------------------------------------------------

error_code delivery::receive_refused() const noexcept
{
    const auto& cb = events_.callbacks();
    if (cb.on_message || cb.on_raw_message) return asio::error::operation_not_supported;
    return {};
}

bool delivery::take(std::optional<json::value>& out)
{
    if (receive_adapter_busy_.test_and_set(std::memory_order_acquire)) {
        message_adapter own;  // another thread is taking too
        return take(out, own);
    }
    const bool got = take(out, receive_adapter_);
    receive_adapter_busy_.clear(std::memory_order_release);
    return got;
}

bool delivery::take(std::optional<json::value>& out, message_adapter& adapter)
{
    inbox::entry e;
    bool got = false;
    while (!got && inbox_->try_pop(e)) {
        error_code parse_error;
        const inbound_status status = adapter.adapt(message_view{e.kind, e.payload}, out, parse_error);
        inbox_->release(e);
        if (status != inbound_status::delivered) {
            skipped(status, parse_error);
            continue;
        }
        ++stats_.received;
        got = true;
    }
    return got;
}

bool delivery::take(std::optional<message>& out)
{
    inbox::entry e;
    if (!inbox_->try_pop(e)) return false;
    if (e.owned)
        out.emplace(message{e.kind, std::move(*e.owned)});
    else
        out.emplace(message{e.kind, std::string(e.payload)});
    inbox_->release(e);
    ++stats_.received;
    return true;
}

std::size_t delivery::take(std::vector<json::value>& out, std::size_t max)
{
    // In chunks taken under one lock each, parsed with one adapter, the values of a batch in one
    // arena: values allocated together and freed together would each miss malloc's caches (a
    // batch of 64 at 256 B cost a third more than as many single receives). The arena goes when
    // the batch's last value does.
    const bool shared = !receive_adapter_busy_.test_and_set(std::memory_order_acquire);
    std::optional<message_adapter> own;
    message_adapter& adapter = shared ? receive_adapter_ : own.emplace();
    std::size_t n = 0;
    std::optional<json::value> v;
    std::optional<json::storage_ptr> arena;
    inbox::entry chunk[32];
    while (n < max) {
        const std::size_t got = inbox_->try_pop_some({chunk, std::min<std::size_t>(std::size(chunk), max - n)});
        if (got == 0) break;
        if (!arena) {
            // Room for the whole batch at the first chunk's sizes, guessed up to a bound: past it
            // the arena grows as values need (a batch of 64 messages of 1 MiB, taken one at a
            // time, would otherwise map 128 MiB for each).
            std::size_t bytes = 0;
            for (std::size_t i = 0; i < got; ++i) bytes += chunk[i].payload.size();
            const std::size_t first = 2 * bytes;  // about what the first chunk's values take
            const std::size_t chunks = std::max<std::size_t>(1, max / got);
            const std::size_t guess = first != 0 && chunks > max_arena_guess / first ? max_arena_guess : first * chunks;
            arena.emplace(json::make_shared_resource<json::monotonic_resource>(
                std::max(first, std::min(guess, max_arena_guess))));
        }
        for (std::size_t i = 0; i < got; ++i) {
            inbox::entry& e = chunk[i];
            error_code parse_error;
            const inbound_status status = adapter.adapt(message_view{e.kind, e.payload}, v, parse_error, *arena);
            inbox_->release(e);
            if (status != inbound_status::delivered) {
                skipped(status, parse_error);
                continue;
            }
            ++stats_.received;
            if (out.capacity() == out.size()) out.reserve(out.size() + std::min<std::size_t>(max - n, 64));
            out.push_back(std::move(*v));
            v.reset();
            ++n;
        }
    }
    if (shared) receive_adapter_busy_.clear(std::memory_order_release);
    return n;
}

std::size_t delivery::take(std::vector<message>& out, std::size_t max)
{
    std::size_t n = 0;
    inbox::entry chunk[32];
    while (n < max) {
        const std::size_t got = inbox_->try_pop_some({chunk, std::min<std::size_t>(std::size(chunk), max - n)});
        if (got == 0) break;
        for (std::size_t i = 0; i < got; ++i) {
            inbox::entry& e = chunk[i];
            if (e.owned)
                out.push_back({e.kind, std::move(*e.owned)});
            else
                out.push_back({e.kind, std::string(e.payload)});
            inbox_->release(e);
        }
        n += got;
        stats_.received += got;
    }
    return n;
}

void delivery::skipped(inbound_status status, const error_code& parse_error)
{
    error_code ec;
    std::string what;
    switch (status) {
    case inbound_status::delivered: return;
    case inbound_status::ignored: ++stats_.ignored; return;  // the original's rule: another shape is not for us
    case inbound_status::malformed:
        ++stats_.malformed;
        ec = parse_error;
        what = "malformed JSON message skipped: " + parse_error.message();
        break;
    case inbound_status::binary_skipped:
        ++stats_.binary_skipped;
        ec = error::binary_message_skipped;
        what = parse_error ? "binary message skipped: not JSON (" + parse_error.message() + ")"
                           : "binary message skipped: JSON, but not an object with a string \"type\"";
        break;
    }
    // Callbacks run on the strand, whichever thread took the message.
    asio::post(strand_, [self = shared_from_this(), ec, what = std::move(what)] {
        self->events_.emit(self->events_.callbacks().on_error, ec, what);
    });
}

// A receive that found nothing: parked in the inbox as a wake-up, it tries again after the
// reader's next hand-off (the messages may have gone to another receiver, or be ones a JSON
// receiver skips), and completes with the final error once the client has finished.
template <class T>
inline constexpr bool is_batch = false;
template <class T>
inline constexpr bool is_batch<std::vector<T>> = true;

template <class Result>
struct receive_op {
    std::shared_ptr<delivery> self;
    std::size_t max;  // 0: one message, else a batch of up to max
    asio::any_completion_handler<void(error_code, Result)> handler;

    void operator()(error_code ec)
    {
        if (ec) return dispatch_completion(self->ex_, std::move(handler), ec, Result());
        if constexpr (is_batch<Result>) {
            Result r;
            if (self->take(r, max) > 0)
                return dispatch_completion(self->ex_, std::move(handler), error_code{}, std::move(r));
        } else {
            std::optional<Result> r;
            if (self->take(r)) return dispatch_completion(self->ex_, std::move(handler), error_code{}, std::move(*r));
        }
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto inbox = self->inbox_;
        inbox->wait(void_handler(std::move(*this)), slot);
    }
};

template <class Result>
void delivery::start_receive(std::size_t max, asio::any_completion_handler<void(error_code, Result)> h)
{
    if (const error_code refused = receive_refused()) return post_completion(ex_, std::move(h), refused, Result());
    auto slot = asio::get_associated_cancellation_slot(h);
    // The caller found nothing a moment ago; the inbox checks again under its lock before parking.
    inbox_->wait(void_handler(receive_op<Result>{shared_from_this(), max, std::move(h)}), slot);
}

void delivery::receive(asio::any_completion_handler<void(error_code, json::value)> h)
{
    start_receive<json::value>(0, std::move(h));
}

void delivery::receive(asio::any_completion_handler<void(error_code, message)> h)
{
    start_receive<message>(0, std::move(h));
}

void delivery::receive(std::size_t max, asio::any_completion_handler<void(error_code, std::vector<json::value>)> h)
{
    start_receive<std::vector<json::value>>(max, std::move(h));
}

void delivery::receive(std::size_t max, asio::any_completion_handler<void(error_code, std::vector<message>)> h)
{
    start_receive<std::vector<message>>(max, std::move(h));
}

// --- requests and the end -----------------------------------------------------------------------------

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

void delivery::request_written(std::uint64_t id, error_code ec)
{
    if (ec) return fail_request(id, ec);
    for (auto& r : requests_)
        if (r.id == id) r.sent = true;
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
    inbox_->finish(error::client_closed);
}

}  // namespace tether::detail
