#include <tether/message.hpp>

#include "json_parser.hpp"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

namespace tether {

std::string_view to_string(message_kind k) noexcept
{
    return k == message_kind::binary ? "binary" : "text";
}

struct message_adapter::state {
    detail::json_parser json;
};

message_adapter::message_adapter() = default;  // the parser comes with the first message
message_adapter::~message_adapter() = default;
message_adapter::message_adapter(message_adapter&&) noexcept = default;
message_adapter& message_adapter::operator=(message_adapter&&) noexcept = default;

std::string_view to_string(inbound_status s) noexcept
{
    switch (s) {
    case inbound_status::delivered: return "delivered";
    case inbound_status::ignored: return "ignored";
    case inbound_status::malformed: return "malformed";
    case inbound_status::binary_skipped: return "binary_skipped";
    }
    return "unknown";
}

inbound message_adapter::adapt(message_view m)
{
    std::optional<boost::json::value> v;
    inbound in;
    in.status = adapt(m, v, in.error);
    if (v) in.value = std::move(*v);
    return in;
}

inbound_status message_adapter::adapt(message_view m, std::optional<boost::json::value>& out, error_code& parse_error,
                                      boost::json::storage_ptr storage)
{
    // A binary message is parsed as text is: the JSON parser checks its strings' UTF-8 itself.
    const bool binary = m.kind == message_kind::binary;
    if (!state_) state_ = std::make_unique<state>();
    auto& p = state_->json.parser;
    p.reset(std::move(storage));
    p.write(m.payload.data(), m.payload.size(), parse_error);
    if (parse_error) return binary ? inbound_status::binary_skipped : inbound_status::malformed;
    out.emplace(p.release());
    const auto* obj = out->if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    if (type && type->is_string()) return inbound_status::delivered;
    out.reset();
    return binary ? inbound_status::binary_skipped : inbound_status::ignored;
}

std::string make_request_id()
{
    // One generator per thread: seeded from the OS once, then cheap.
    thread_local boost::uuids::random_generator gen;
    return boost::uuids::to_string(gen());
}

boost::json::object make_control_request(std::string_view request_id, boost::json::value request)
{
    return {{"type", "control_request"}, {"request_id", request_id}, {"request", std::move(request)}};
}

bool is_control_response_for(const boost::json::value& message, std::string_view request_id) noexcept
{
    const auto* obj = message.if_object();
    if (!obj) return false;
    const auto* type = obj->if_contains("type");
    if (!type || !type->is_string() || type->get_string() != "control_response") return false;
    const auto* response = obj->if_contains("response");
    if (!response || !response->is_object()) return false;
    const auto* id = response->get_object().if_contains("request_id");
    return id && id->is_string() && id->get_string() == request_id;
}

}  // namespace tether
