// tether: messages. Raw WebSocket messages (text or binary, carried unchanged); the JSON adapter on
// top of them (messages in, JSON values out); builders for control messages.
#ifndef TETHER_MESSAGE_HPP
#define TETHER_MESSAGE_HPP

#include <tether/export.hpp>

#include <tether/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tether {

/// The two kinds of WebSocket data message.
enum class message_kind : std::uint8_t {
    text,    ///< UTF-8 text (validated on receipt, as RFC 6455 requires)
    binary,  ///< any bytes
};

/// The name of a kind, "text" or "binary".
TETHER_API std::string_view to_string(message_kind k) noexcept;

/// A WebSocket message as it travels: its kind and its payload, unchanged.
struct message {
    message_kind kind = message_kind::text;
    std::string payload;

    bool operator==(const message&) const = default;
};

/// A message seen in place, valid only during the callback that receives it.
struct message_view {
    message_kind kind = message_kind::text;
    std::string_view payload;
};

/// What became of one inbound message in the JSON adapter. Text and binary messages are parsed
/// alike: many JSON servers send binary frames (Node's `ws` echoes text as binary).
enum class inbound_status {
    delivered,  ///< a JSON object with a string "type", text or binary: handed to the application.
    ignored,    ///< text: valid JSON, but not an object with a string "type": counted, dropped.
    malformed,  ///< text that is not JSON at all: counted, reported to `on_error`, dropped; the link stays up.
    /// binary, and not a JSON object with a string "type" (not JSON, or JSON of another shape):
    /// counted, reported to `on_error` as `error::binary_message_skipped`, dropped. Not dropped in
    /// silence as an untyped text is: a binary frame in a JSON conversation is rarely meant to be.
    binary_skipped,
};

/// The name of a status, e.g. "binary_skipped".
TETHER_API std::string_view to_string(inbound_status s) noexcept;

/// The result of adapting one message.
struct inbound {
    inbound_status status = inbound_status::malformed;
    boost::json::value value;  ///< the parsed value when `delivered`
    error_code error;          ///< the parse error when `malformed`, or `binary_skipped` for not being JSON
};

/// Parses messages into JSON. Reuses its parser and memory between calls, so steady-state
/// parsing does not allocate for the parser itself. Not thread safe; one per connection.
class TETHER_API message_adapter {
public:
    message_adapter();
    ~message_adapter();
    message_adapter(message_adapter&&) noexcept;
    message_adapter& operator=(message_adapter&&) noexcept;

    /// Adapts one complete message, text or binary.
    inbound adapt(message_view m);
    /// Adapts one complete text message.
    inbound adapt(std::string_view text) { return adapt(message_view{message_kind::text, text}); }

    /// The same, for a hot path: a delivered value is constructed in `out` (left empty otherwise),
    /// with its memory from `storage` (the default: new and delete), and a parse error goes to
    /// `parse_error`.
    inbound_status adapt(message_view m, std::optional<boost::json::value>& out, error_code& parse_error,
                         boost::json::storage_ptr storage = {});
    inbound_status adapt(std::string_view text, std::optional<boost::json::value>& out, error_code& parse_error,
                         boost::json::storage_ptr storage = {})
    {
        return adapt(message_view{message_kind::text, text}, out, parse_error, std::move(storage));
    }

private:
    struct state;
    std::unique_ptr<state> state_;
};

/// A fresh random (version 4) UUID in canonical form, for request ids.
TETHER_API std::string make_request_id();

/// `{"type":"control_request","request_id":<id>,"request":<request>}`.
TETHER_API boost::json::object make_control_request(std::string_view request_id, boost::json::value request);

/// True when `message` is `{"type":"control_response","response":{"request_id":<id>,...}}`.
TETHER_API bool is_control_response_for(const boost::json::value& message, std::string_view request_id) noexcept;

}  // namespace tether

#endif
