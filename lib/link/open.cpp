#include "open.hpp"

#include "../abandonable.hpp"
#include "../disconnect.hpp"
#include "../wire/handshake.hpp"

#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <filesystem>
#include <sstream>

namespace tether::detail {
namespace {

namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// TLS 1.2 or later; the chain is verified against the system store plus `ca_file`/`ca_path` (the
// host name per connection, in tls_handshake). Files that do not load throw, naming the field.
void configure_tls(ssl::context& ctx, const tls_config& t)
{
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    auto load = [](const char* field, const std::string& file, auto&& op) {
        error_code ec;
        op(ec);
        if (ec) throw std::invalid_argument(std::string(field) + ": cannot load '" + file + "': " + ec.message());
    };
    if (t.verify_peer) {
        ctx.set_verify_mode(ssl::verify_peer);
        ctx.set_default_verify_paths();
        if (!t.ca_file.empty())
            load("tls.ca_file", t.ca_file, [&](error_code& ec) { ctx.load_verify_file(t.ca_file, ec); });
        if (!t.ca_path.empty()) {
            if (!std::filesystem::is_directory(t.ca_path))
                throw std::invalid_argument("tls.ca_path: '" + t.ca_path + "' is not a directory");
            load("tls.ca_path", t.ca_path, [&](error_code& ec) { ctx.add_verify_path(t.ca_path, ec); });
        }
    } else {
        ctx.set_verify_mode(ssl::verify_none);
    }
    if (!t.certificate_file.empty()) {
        load("tls.certificate_file", t.certificate_file,
             [&](error_code& ec) { ctx.use_certificate_chain_file(t.certificate_file, ec); });
        load("tls.key_file", t.key_file,
             [&](error_code& ec) { ctx.use_private_key_file(t.key_file, ssl::context::pem, ec); });
        if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
            throw std::invalid_argument("tls.key_file: '" + t.key_file + "' does not match tls.certificate_file");
    }
}

// One attempt to open a link: the steps in order, each an early return with the disconnect that
// ended it.
class opener {
public:
    opener(const asio::any_io_executor& strand, open_target& target, std::function<void()>& abort)
        : strand_(strand), target_(target), cfg_(target.cfg), abort_(abort)
    {
    }

    asio::awaitable<std::variant<opened, disconnect>> run(const resume_offer& offer, const std::string& token)
    {
        beast::tcp_stream stream(strand_);
        auto connect_failure = co_await connect(stream);
        if (connect_failure) co_return std::move(*connect_failure);

        opened out;
        if (target_.url.secure) {
            auto tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(stream), *target_.tls);
            abort_ = [&layer = tls->next_layer()] { layer.socket().close(); };
            auto tls_failure = co_await tls_handshake(*tls);
            if (tls_failure) co_return std::move(*tls_failure);
            out.io = make_tls_transport(std::move(tls));
        } else {
            out.io = make_tcp_transport(std::move(stream));
        }
        abort_ = [io = out.io.get()] { io->close(true); };
        auto not_upgraded = co_await upgrade(*out.io, offer, token, out);
        if (not_upgraded) co_return std::move(*not_upgraded);
        co_return std::move(out);
    }

private:
    // Resolve, TCP connect and the proxy's tunnel, under `connect_timeout` (the TLS handshake,
    // which follows, under what remains of it).
    asio::awaitable<std::optional<disconnect>> connect(beast::tcp_stream& stream)
    {
        deadline_ = clock_type::now() + cfg_.connect_timeout;
        // With a proxy, resolving and connecting are about the proxy: failures say so.
        const auto& proxy = target_.proxy;
        const std::string& host = proxy ? proxy->host : target_.url.host;
        const std::string& port = proxy ? proxy->port : target_.url.port;
        const auto resolve_stage = proxy ? disconnect_kind::proxy : disconnect_kind::resolve;
        // getaddrinfo cannot be interrupted: the wait ends at the deadline or on abort, and a
        // resolve still under way is left to finish on its own (its resolver goes with it).
        struct resolving {
            explicit resolving(const asio::any_io_executor& ex) : resolver(ex), done(ex) {}
            tcp::resolver resolver;
            abandonable<std::pair<error_code, tcp::resolver::results_type>> done;
        };
        auto r = std::make_shared<resolving>(strand_);
        r->resolver.async_resolve(host, port, [r](error_code ec, tcp::resolver::results_type endpoints) {
            r->done.complete({ec, std::move(endpoints)});
        });
        abort_ = [r, &stream] {
            r->resolver.cancel();
            r->done.abort();
            stream.close();
        };
        co_await r->done.wait(deadline_);
        abort_ = [&stream] { stream.close(); };
        if (!r->done.result) {
            r->resolver.cancel();
            if (clock_type::now() >= deadline_) co_return timed_out(resolve_stage);
            co_return error_disconnect(resolve_stage, asio::error::operation_aborted);
        }
        auto [resolve_ec, endpoints] = std::move(*r->done.result);
        if (resolve_ec) co_return error_disconnect(resolve_stage, resolve_ec);

        stream.expires_at(deadline_);
        auto [connect_ec, ep] = co_await stream.async_connect(endpoints, use_tuple);
        if (const auto ec = connect_ec) {
            const auto stage = proxy ? disconnect_kind::proxy : disconnect_kind::connect;
            co_return step_failure(stage, ec);
        }
        error_code ignored;  // best effort; a socket aborted meanwhile fails the next step instead
        stream.socket().set_option(tcp::no_delay(true), ignored);
        if (proxy) {
            auto tunnel_failure = co_await open_tunnel(stream);
            if (tunnel_failure) co_return tunnel_failure;
        }
        co_return std::nullopt;
    }

    // CONNECT through the proxy; any 2xx opens the tunnel. Runs under the TCP stream's deadline.
    asio::awaitable<std::optional<disconnect>> open_tunnel(beast::tcp_stream& stream)
    {
        const std::string request = connect_request(target_.url, *target_.proxy);
        auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), use_tuple);
        auto failed = [](const error_code& ec, std::string what) {
            if (ec == beast::error::timeout) return timed_out(disconnect_kind::proxy);
            return disconnect{.kind = disconnect_kind::proxy, .error = error::proxy_failed, .reason = std::move(what)};
        };
        if (write_ec) co_return failed(write_ec, "proxy: sending CONNECT failed: " + write_ec.message());

        beast::flat_buffer buffer;
        http::response_parser<http::empty_body> parser;
        parser.skip(true);  // a CONNECT response has no body, whatever its headers say
        auto [read_ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
        if (read_ec) co_return failed(read_ec, "proxy: no HTTP answer to CONNECT: " + read_ec.message());
        const unsigned status = parser.get().result_int();
        if (status < 200 || status > 299) co_return proxy_status_disconnect(status);
        // The server has not been asked anything yet, so nothing may follow the proxy's answer.
        if (buffer.size() != 0) co_return failed({}, "proxy: unexpected data after its answer to CONNECT");
        co_return std::nullopt;
    }

    // The TLS handshake: SNI for host names, and OpenSSL's own host-name (or IP address) check,
    // so that a refused certificate reports which check failed.
    asio::awaitable<std::optional<disconnect>> tls_handshake(beast::ssl_stream<beast::tcp_stream>& tls)
    {
        const std::string& host = target_.url.host;
        SSL* handle = tls.native_handle();
        error_code not_ip;
        asio::ip::make_address(host, not_ip);
        const bool ip_literal = !not_ip;
        bool ok = ip_literal || SSL_set_tlsext_host_name(handle, host.c_str()) == 1;
        if (cfg_.tls.verify_peer) {
            if (ip_literal) {
                ok = ok && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(handle), host.c_str()) == 1;
            } else {
                SSL_set_hostflags(handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                ok = ok && SSL_set1_host(handle, host.c_str()) == 1;
            }
        }
        if (!ok)
            co_return error_disconnect(
                disconnect_kind::tls, error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));

        tls.next_layer().expires_at(deadline_);
        auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
        if (!ec) co_return std::nullopt;
        const long verify_result = SSL_get_verify_result(handle);
        if (ec != beast::error::timeout && cfg_.tls.verify_peer && verify_result != X509_V_OK)
            co_return tls_verify_disconnect(verify_result);
        co_return step_failure(disconnect_kind::tls, ec);
    }

    // The upgrade under handshake_timeout: the request, then the response's header read into a
    // buffer of ours; what follows the header is the first frames, which go to the reader.
    asio::awaitable<std::optional<disconnect>> upgrade(transport& io, const resume_offer& offer,
                                                       const std::string& token, opened& out)
    {
        io.tcp().expires_after(cfg_.handshake_timeout);
        const std::string key = wire::make_key();
        std::ostringstream request;
        request << wire::upgrade_request(target_.url, cfg_, token, key, offer.target,
                                         offer.header_field ? &*offer.header_field : nullptr);
        const std::string bytes = std::move(request).str();
        const asio::const_buffer request_buffer = asio::buffer(bytes);
        error_code ec = co_await io.write({&request_buffer, 1});
        if (ec) co_return upgrade_failure(ec);

        beast::flat_buffer buffer;
        http::response_parser<http::empty_body> parser;
        parser.skip(true);  // only the header matters: a 101 has no body, a refusal ends the attempt
        while (!parser.is_header_done()) {
            auto [rec, n] = co_await io.read_some(buffer.prepare(4096), false);
            if (rec == asio::error::eof) {
                // The server hung up: before a byte of its answer, or in the middle of it.
                const bool some = parser.got_some() || buffer.size() != 0;
                co_return upgrade_failure(some ? http::error::partial_message : http::error::end_of_stream);
            }
            if (rec) co_return upgrade_failure(rec);
            buffer.commit(n);
            buffer.consume(parser.put(buffer.data(), ec));
            if (ec && ec != http::error::need_more) co_return upgrade_failure(ec);
        }
        const auto& res = parser.get();
        if (res.result() != http::status::switching_protocols)
            co_return http_status_disconnect(res.result_int(), res[http::field::retry_after]);
        ec = wire::check_upgrade_response(res, key, cfg_.permessage_deflate, out.deflate);
        if (ec) co_return error_disconnect(disconnect_kind::protocol, ec);
        const auto rest = buffer.cdata();
        out.leftover.assign(static_cast<const char*>(rest.data()), rest.size());
        io.tcp().expires_never();
        co_return std::nullopt;
    }

    const asio::any_io_executor& strand_;
    open_target& target_;
    const client_config& cfg_;
    std::function<void()>& abort_;
    clock_type::time_point deadline_{};
};

}  // namespace

open_target::open_target(const client_config& c) : cfg(c), url(parse_ws_url(c.url)), proxy(select_proxy(url, c.proxy))
{
    if (!url.secure) return;
    tls.emplace(ssl::context::tls_client);
    configure_tls(*tls, c.tls);
}

asio::awaitable<std::variant<opened, disconnect>> open_link(const asio::any_io_executor& strand, open_target& target,
                                                            const resume_offer& offer, const std::string& token,
                                                            std::function<void()>& abort)
{
    // While it runs, `abort` stops the step under way; afterwards what it was before.
    struct restore_abort {
        std::function<void()>& slot;
        std::function<void()> previous;
        ~restore_abort() { slot = std::move(previous); }
    } restore{abort, abort};
    opener o(strand, target, abort);
    co_return co_await o.run(offer, token);
}

}  // namespace tether::detail
