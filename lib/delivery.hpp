// Internal: delivery, the layer between a link and the application. Inbound, it takes one read's
// messages at a time and gives each to a pending request, a callback or an inbox: as JSON values
// (the message adapter) or unchanged. Outbound, it completes the sends of each written batch. It
// owns the requests (`async_request`) that wait for a matching message. Everything but the
// inboxes runs on the client's strand.
#ifndef TETHER_LIB_DELIVERY_HPP
#define TETHER_LIB_DELIVERY_HPP

#include "events.hpp"
#include "mailbox.hpp"

#include <tether/message.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tether::detail {

using value_handler = asio::any_completion_handler<void(error_code, boost::json::value)>;

/// A complete inbound message as the reader hands it over: a view into its read buffer, or into
/// `storage` (a message assembled from fragments or inflated), which delivery may move from.
struct inbound_message {
    message_kind kind = message_kind::text;
    std::string_view payload;
    std::string* storage = nullptr;
};

class delivery : public std::enable_shared_from_this<delivery> {
public:
    delivery(asio::any_io_executor ex, asio::any_io_executor strand, const client_config& cfg, notifier& events,
             counters& stats, send_queue& sends);

    inbound_format format() const noexcept { return format_; }
    inbox<boost::json::value>& json_inbox() noexcept { return *json_; }
    inbox<message>& raw_inbox() noexcept { return *raw_; }

    // --- the reader ------------------------------------------------------------------------------

    /// One read's complete messages, in order: the one hand-off per read.
    void deliver(std::span<const inbound_message> batch);
    /// How many more messages the application takes now (unbounded with a callback); at 0 reading
    /// pauses.
    std::size_t room() const;
    /// Completes when the inbox is down to half, or `release_reader` was called. Cancellable.
    asio::awaitable<void> wait_for_room();
    /// A closing link must read on to see the server's close frame: ends a wait for room.
    void release_reader();

    // --- the writer ------------------------------------------------------------------------------

    /// A batch of sends was written (or failed with `ec`): completes them in order.
    void written(std::vector<outgoing>& batch, error_code ec);

    // --- requests and the end, from the client -----------------------------------------------------

    void add_request(std::uint64_t id, std::function<bool(const boost::json::value&)> match,
                     std::chrono::milliseconds timeout, value_handler h);
    void fail_request(std::uint64_t id, error_code ec);
    /// Responses to requests that went out on a link that has ended will not come.
    void fail_sent_requests();
    /// The client has finished: requests fail with `client_closed`, receivers once the inbox is empty.
    void finish();

private:
    struct pending_request {
        std::uint64_t id;
        std::function<bool(const boost::json::value&)> match;
        value_handler handler;
        std::unique_ptr<asio::steady_timer> timer;
        bool sent = false;
    };

    // The first pending request that `v` answers, completed with it; false when there is none.
    bool answer_request(boost::json::value& v);
    void deliver_json(std::span<const inbound_message> batch);
    void deliver_raw(std::span<const inbound_message> batch);

    asio::any_io_executor ex_;
    asio::any_io_executor strand_;
    inbound_format format_;
    notifier& events_;
    counters& stats_;
    send_queue& sends_;
    message_adapter adapter_;
    std::shared_ptr<inbox<boost::json::value>> json_;
    std::shared_ptr<inbox<message>> raw_;
    std::vector<boost::json::value> json_batch_;
    std::vector<message> raw_batch_;
    std::list<pending_request> requests_;
};

}  // namespace tether::detail

#endif
