#include "handshake.hpp"

#include <tether/proxy.hpp>

#include <boost/beast/http/rfc7230.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <random>

namespace tether::wire {

std::string make_key()
{
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
        std::random_device os;  // OpenSSL's generator failed: take the OS's directly
        for (auto& b : bytes) b = static_cast<unsigned char>(os());
    }
    return base64_encode({reinterpret_cast<const char*>(bytes), sizeof bytes});
}

std::string accept_for(std::string_view key)
{
    std::string s(key);
    s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(s.data(), s.size(), digest, &size, EVP_sha1(), nullptr);
    return base64_encode({reinterpret_cast<const char*>(digest), size});
}

http::request<http::empty_body> upgrade_request(const ws_url& url, const client_config& cfg, const std::string& token,
                                                std::string_view key, std::string_view target, const header* extra)
{
    http::request<http::empty_body> req{http::verb::get, target.empty() ? std::string_view(url.target) : target, 11};
    req.set(http::field::host, url.host_header);
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, key);
    req.set(http::field::sec_websocket_version, "13");
    if (cfg.permessage_deflate) req.set(http::field::sec_websocket_extensions, deflate_offer);
    req.set(http::field::user_agent, cfg.user_agent);
    for (const auto& h : cfg.headers) req.insert(h.name, h.value);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (extra) req.set(extra->name, extra->value);
    return req;
}

error_code check_upgrade_response(const http::response_header<>& res, std::string_view key, bool offered_deflate,
                                  std::optional<deflate_params>& deflate)
{
    deflate.reset();
    if (res.version() != 11) return protocol_error::bad_upgrade;
    if (!http::token_list(res[http::field::upgrade]).exists("websocket")) return protocol_error::bad_upgrade;
    if (!http::token_list(res[http::field::connection]).exists("upgrade")) return protocol_error::bad_upgrade;
    if (res[http::field::sec_websocket_accept] != accept_for(key)) return protocol_error::bad_accept;
    if (res.count(http::field::sec_websocket_protocol) != 0) return protocol_error::bad_subprotocol;
    // The answer may be split over several fields (RFC 9110 5.3): all of them together.
    std::string extensions;
    for (auto [it, end] = res.equal_range(http::field::sec_websocket_extensions); it != end; ++it) {
        if (it->value().empty()) continue;
        if (!extensions.empty()) extensions += ", ";
        extensions.append(it->value().data(), it->value().size());
    }
    if (!offered_deflate) return extensions.empty() ? error_code() : error_code(protocol_error::bad_extension);
    return parse_deflate_answer(extensions, deflate);
}

}  // namespace tether::wire
