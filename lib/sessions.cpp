#include <tether/sessions.hpp>
#include <tether/url.hpp>

#include <boost/asio/bind_executor.hpp>

#include <stdexcept>

namespace tether {

client_config make_sessions_config(const sessions_options& options)
{
    if (!options.token_provider && !options.async_token_provider)
        throw std::invalid_argument("token_provider: must be set (a fresh OAuth token for every attempt)");
    if (options.control_timeout <= std::chrono::milliseconds::zero())
        throw std::invalid_argument("control_timeout: must be positive");
    client_config cfg;
    cfg.url = sessions_url(options.base_url, options.session_id, options.organization_id);
    cfg.headers.push_back({"anthropic-version", std::string(sessions_api_version)});
    cfg.token_provider = options.token_provider;
    cfg.async_token_provider = options.async_token_provider;
    cfg.policy = seed_policy{};
    return cfg;
}

sessions_client::sessions_client(client::executor_type ex, const sessions_options& options, client_callbacks callbacks)
    : sessions_client(std::move(ex), make_sessions_config(options), std::move(callbacks), options.control_timeout)
{
}

sessions_client::sessions_client(client::executor_type ex, client_config config, client_callbacks callbacks,
                                 std::chrono::milliseconds control_timeout)
    : client_(std::move(ex), std::move(config), std::move(callbacks)), control_timeout_(control_timeout)
{
    if (control_timeout_ <= std::chrono::milliseconds::zero())
        throw std::invalid_argument("control_timeout: must be positive");
}

void sessions_client::start_send_control_request(boost::json::value request,
                                                 boost::asio::any_completion_handler<void(error_code, std::string)> h)
{
    std::string id = make_request_id();
    auto ex = boost::asio::get_associated_executor(h, client_.get_executor());
    client_.async_send(make_control_request(id, std::move(request)),
                       boost::asio::bind_executor(ex, [h = std::move(h), id](error_code ec) mutable {
                           std::move(h)(ec, ec ? std::string() : id);
                       }));
}

}  // namespace tether
