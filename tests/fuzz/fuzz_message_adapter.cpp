// Fuzz target: the message adapter and control-response matching, built from lib/message.cpp
// with Boost.JSON compiled in (boost_json.cpp), so that the fuzzer sees the parser's coverage too.
// The input is split at NUL bytes (which no valid JSON text contains) into messages, adapted in
// turn by one long-lived adapter, as a connection's adapter is reused. Each must agree with a
// fresh boost::json::parse: malformed exactly when that fails, delivered exactly when the value is
// an object with a string "type", and then equal to it. Control messages built around a delivered
// value must survive the round trip through serialize and adapt, and match only their own id.
#include <tether/message.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

namespace json = boost::json;

void require(bool ok, const char* what)
{
    if (ok) return;
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
}

bool typed_object(const json::value& v)
{
    const auto* obj = v.if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    return type && type->is_string();
}

// Whether the round trip through serialize can hold for `v`: Boost.JSON 1.81 parses 1e999 as
// infinity but serializes it as "Infinity", which is no JSON, and its default number parsing is
// not correctly rounded, so a double may come back a bit off; and wrapping `v` in a control
// message adds a level that the parser's default max_depth (32) may refuse.
bool round_trips(const json::value& v, int depth = 0)
{
    if (depth > 28) return false;
    if (v.is_double()) return false;
    if (const auto* obj = v.if_object())
        for (const auto& kv : *obj)
            if (!round_trips(kv.value(), depth + 1)) return false;
    if (const auto* arr = v.if_array())
        for (const auto& e : *arr)
            if (!round_trips(e, depth + 1)) return false;
    return true;
}

// Equality, except that two NaNs are equal: Boost.JSON 1.81 parses a zero mantissa with an
// exponent past double's range (0e808) as 0 times infinity, NaN, in the reference and in the
// adapter alike, and NaN equals nothing.
bool same_value(const json::value& a, const json::value& b)
{
    if (a.is_double() && b.is_double() && std::isnan(a.get_double()) && std::isnan(b.get_double())) return true;
    if (a.kind() != b.kind()) return false;
    if (const auto* obj = a.if_object()) {
        const auto& other = b.get_object();
        if (obj->size() != other.size()) return false;
        for (const auto& kv : *obj) {
            const auto* v = other.if_contains(kv.key());
            if (!v || !same_value(kv.value(), *v)) return false;
        }
        return true;
    }
    if (const auto* arr = a.if_array()) {
        const auto& other = b.get_array();
        if (arr->size() != other.size()) return false;
        for (std::size_t i = 0; i < arr->size(); ++i)
            if (!same_value((*arr)[i], other[i])) return false;
        return true;
    }
    return a == b;
}

// Some string inside `v` (valid UTF-8, since the parser accepted it) to use as a request id.
std::string some_string(const json::value& v, int depth = 0)
{
    if (v.is_string()) return std::string(v.get_string());
    if (depth > 8) return {};
    if (const auto* obj = v.if_object())
        for (const auto& kv : *obj) {
            if (!kv.key().empty()) return std::string(kv.key());
            auto s = some_string(kv.value(), depth + 1);
            if (!s.empty()) return s;
        }
    if (const auto* arr = v.if_array())
        for (const auto& e : *arr) {
            auto s = some_string(e, depth + 1);
            if (!s.empty()) return s;
        }
    return {};
}

void check_one(tether::message_adapter& adapter, std::string_view text)
{
    const tether::inbound in = adapter.adapt(text);
    boost::system::error_code ec;
    const json::value reference = json::parse(text, ec);

    require((in.status == tether::inbound_status::malformed) == bool(ec), "malformed disagrees with json::parse");
    require(bool(in.error) == (in.status == tether::inbound_status::malformed), "error set exactly when malformed");
    if (ec) return;
    require((in.status == tether::inbound_status::delivered) == typed_object(reference),
            "delivered disagrees with the shape");
    if (in.status != tether::inbound_status::delivered) {
        require(in.value.is_null(), "a value handed out for a message not delivered");
    } else {
        require(same_value(in.value, reference), "the delivered value differs from json::parse");
    }

    // A request id taken from the value.
    std::string id = some_string(reference);
    if (id.empty()) id = "00000000-0000-4000-8000-000000000000";

    // The value itself as a response: it matches only if it has the shape.
    const auto* obj = reference.if_object();
    const json::value* type = obj ? obj->if_contains("type") : nullptr;
    const json::value* resp = obj ? obj->if_contains("response") : nullptr;
    const json::value* rid = resp && resp->is_object() ? resp->get_object().if_contains("request_id") : nullptr;
    const bool shaped =
        type && type->is_string() && type->get_string() == "control_response" && rid && rid->is_string();
    const std::string own = shaped ? std::string(rid->get_string()) : id;
    require(tether::is_control_response_for(reference, own) == shaped,
            "is_control_response_for disagrees with the shape");

    if (!round_trips(reference)) return;

    // Control messages around the value, with an id taken from it.
    const json::object request = tether::make_control_request(id, reference);
    const tether::inbound back = adapter.adapt(json::serialize(request));
    require(back.status == tether::inbound_status::delivered, "a control request did not survive the round trip");
    require(back.value.at("type") == "control_request" && back.value.at("request_id").as_string() == id &&
                back.value.at("request") == reference,
            "a control request changed in the round trip");
    require(!tether::is_control_response_for(back.value, id), "a control request matched as a response");

    const json::object response{{"type", "control_response"},
                                {"response", {{"request_id", id}, {"payload", reference}}}};
    const tether::inbound answer = adapter.adapt(json::serialize(response));
    require(answer.status == tether::inbound_status::delivered, "a control response did not survive the round trip");
    require(tether::is_control_response_for(answer.value, id), "a control response did not match its own id");
    require(!tether::is_control_response_for(answer.value, id + "x"), "a control response matched another id");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static tether::message_adapter adapter;  // reused across inputs, as one connection's is
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (;;) {
        const auto nul = rest.find('\0');
        check_one(adapter, rest.substr(0, nul));
        if (nul == std::string_view::npos) break;
        rest.remove_prefix(nul + 1);
    }
    return 0;
}
