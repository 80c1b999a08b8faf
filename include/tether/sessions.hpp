// tether: the remote-sessions profile, the original "SessionsWebSocket" over the generic client.
#ifndef TETHER_SESSIONS_HPP
#define TETHER_SESSIONS_HPP

#include <tether/export.hpp>

#include <tether/client.hpp>
#include <tether/message.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace tether {

/// What the remote-sessions API needs. `make_sessions_config` turns it into a `client_config`.
struct sessions_options {
    std::string base_url;         ///< e.g. "https://api.example.com"; https becomes wss
    std::string session_id;       ///< percent-encoded into the path
    std::string organization_id;  ///< percent-encoded into the query
    /// Returns a fresh OAuth token; called on every connection attempt. Required.
    std::function<std::string()> token_provider;
    /// The asynchronous form, used instead of `token_provider` when set.
    std::function<boost::asio::awaitable<std::string>()> async_token_provider;
    /// How long `async_control_request` waits for the matching `control_response`.
    std::chrono::milliseconds control_timeout = 30s;
};

/// The `anthropic-version` header value sent on every upgrade.
inline constexpr std::string_view sessions_api_version = "2023-06-01";

/// A client configuration for the sessions API: the subscribe URL, `Authorization: Bearer` from
/// the token provider, `anthropic-version`, and the `seed` policy. Adjust the result freely
/// (intervals, policy, extra headers) before constructing the client. Throws
/// `std::invalid_argument` naming the field when one is missing.
TETHER_API client_config make_sessions_config(const sessions_options& options);

/// The original transport's interface on top of `client`: control requests out, their responses
/// matched on `response.request_id`.
class TETHER_API sessions_client {
public:
    sessions_client(client::executor_type ex, const sessions_options& options, client_callbacks callbacks = {});
    sessions_client(client::executor_type ex, client_config config, client_callbacks callbacks = {},
                    std::chrono::milliseconds control_timeout = 30s);

    /// The underlying client, for `async_run`, `async_receive`, `async_close` and the rest.
    client& connection() noexcept { return client_; }

    /// Sends `{"type":"control_request","request_id":<uuid4>,"request":request}` and completes
    /// when it was written, with the request id. Signature `void(error_code, std::string)`.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_send_control_request(boost::json::value request, CompletionToken&& token = {})
    {
        return boost::asio::async_initiate<CompletionToken, void(error_code, std::string)>(
            [this](auto handler, boost::json::value request) {
                start_send_control_request(std::move(request), std::move(handler));
            },
            token, std::move(request));
    }

    /// Sends a control request and completes with the matching `control_response` message, or
    /// with `error::request_timeout` / `error::connection_lost` / the send's error.
    /// Signature `void(error_code, boost::json::value)`.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_control_request(boost::json::value request, CompletionToken&& token = {})
    {
        std::string id = make_request_id();
        return client_.async_request(
            make_control_request(id, std::move(request)),
            [id](const boost::json::value& m) { return is_control_response_for(m, id); }, control_timeout_,
            std::forward<CompletionToken>(token));
    }

    /// Sends `response` as given. Signature `void(error_code)`.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_send_control_response(const boost::json::value& response, CompletionToken&& token = {})
    {
        return client_.async_send(response, std::forward<CompletionToken>(token));
    }

private:
    void start_send_control_request(boost::json::value request,
                                    boost::asio::any_completion_handler<void(error_code, std::string)> h);

    client client_;
    std::chrono::milliseconds control_timeout_;
};

}  // namespace tether

#endif
