// Internal: delivery, the layer between a link and the application. Inbound, it takes one read's
// messages at a time and gives each to a pending request, to a callback (as a JSON value through
// the message adapter, or unchanged), or to the inbox, from which the application takes them as
// JSON values or raw messages. Outbound, it completes the sends of each written batch. It owns the
// requests (`async_request`) that wait for a matching message. The reader's and the writer's side
// run on the client's strand; the receive side on any thread.
#ifndef TETHER_LIB_DELIVERY_HPP
#define TETHER_LIB_DELIVERY_HPP

#include "events.hpp"
#include "mailbox.hpp"

#include <tether/message.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tether::detail {

using value_handler = asio::any_completion_handler<void(error_code, boost::json::value)>;

class delivery : public std::enable_shared_from_this<delivery> {
public:
    delivery(asio::any_io_executor ex, asio::any_io_executor strand, const client_config& cfg, notifier& events,
             counters& stats, send_queue& sends);

    // --- the reader ------------------------------------------------------------------------------

    /// One read's complete messages, in order: the one hand-off per read.
    void deliver(std::span<const inbound_message> batch);
    /// How many more messages the application takes now (unbounded with a callback); at 0 reading
    /// pauses.
    std::size_t room() const;
    /// Completes when the inbox is down to half, or `release_reader` was called. Cancellable.
    asio::awaitable<void> wait_for_room();
    /// A closing link must read on to see the server's close frame: ends a wait for room.
    void release_reader() { inbox_->release_reader(); }
    /// Messages waiting in the inbox.
    std::size_t inbox_depth() const { return inbox_->size(); }
    /// Storage for the reader's next large message, from one the application has finished with.
    void reuse_storage(std::string& into) { inbox_->reuse_storage(into); }
    /// The link has turned quiet: what is kept for reuse goes.
    void trim() { inbox_->trim(); }

    // --- the writer ------------------------------------------------------------------------------

    /// A batch of sends was written (or failed with `ec`): completes them in order.
    void written(std::vector<outgoing>& batch, error_code ec);
    /// The message of request `id` was written (its response may come now), or failed with `ec`.
    void request_written(std::uint64_t id, error_code ec);

    // --- the application's receives, any thread ------------------------------------------------------

    /// Why the application may not receive from the inbox (a message callback takes the messages).
    error_code receive_refused() const noexcept;
    /// The next deliverable JSON value (objects with a string "type", from text or binary messages;
    /// others are counted and skipped), or every message as it came, constructed in `out`; false
    /// when the inbox has none.
    bool take(std::optional<boost::json::value>& out);
    bool take(std::optional<message>& out);
    /// Up to `max` of them, appended; how many.
    std::size_t take(std::vector<boost::json::value>& out, std::size_t max);
    std::size_t take(std::vector<message>& out, std::size_t max);
    /// Completes `h` with the next one (or up to `max`), waiting if there are none. Cancellable.
    void receive(asio::any_completion_handler<void(error_code, boost::json::value)> h);
    void receive(asio::any_completion_handler<void(error_code, message)> h);
    void receive(std::size_t max, asio::any_completion_handler<void(error_code, std::vector<boost::json::value>)> h);
    void receive(std::size_t max, asio::any_completion_handler<void(error_code, std::vector<message>)> h);

    // --- requests and the end, from the client, on the strand ---------------------------------------

    void add_request(std::uint64_t id, std::function<bool(const boost::json::value&)> match,
                     std::chrono::milliseconds timeout, value_handler h);
    void fail_request(std::uint64_t id, error_code ec);
    /// Responses to requests that went out on a link that has ended will not come.
    void fail_sent_requests();
    /// The client has finished: requests fail with `client_closed`, receivers once the inbox is empty.
    void finish();

private:
    template <class Result>
    friend struct receive_op;

    struct pending_request {
        std::uint64_t id;
        std::function<bool(const boost::json::value&)> match;
        value_handler handler;
        std::unique_ptr<asio::steady_timer> timer;
        bool sent = false;
    };

    // The first pending request that `v` answers, completed with it; false when there is none.
    bool answer_request(boost::json::value& v);
    bool take(std::optional<boost::json::value>& out, message_adapter& adapter);
    // A message the application cannot use as JSON, counted, and reported unless it is text of
    // another shape.
    void skipped(inbound_status status, const error_code& parse_error);
    template <class Result>
    void start_receive(std::size_t max, asio::any_completion_handler<void(error_code, Result)> h);

    asio::any_io_executor ex_;
    asio::any_io_executor strand_;
    notifier& events_;
    counters& stats_;
    send_queue& sends_;
    message_adapter adapter_;  // the strand's: callbacks and requests
    // The receivers': one at a time uses it (taken with one atomic exchange); a receiver on another
    // thread meanwhile parses with a fresh one.
    message_adapter receive_adapter_;
    std::atomic_flag receive_adapter_busy_;
    std::shared_ptr<inbox> inbox_;
    std::vector<inbound_message> unanswered_;
    std::list<pending_request> requests_;
};

}  // namespace tether::detail

#endif
