#include "link.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include <cstring>

namespace tether::detail {

asio::awaitable<void> strand_event::wait(clock_type::time_point deadline)
{
    if (set_) co_return;
    timer_.expires_at(deadline);
    co_await timer_.async_wait(use_tuple);
}

void link_state::send_control(wire::opcode op, std::span<const unsigned char> payload)
{
    control_frame f;
    f.op = op;
    f.size = static_cast<std::uint8_t>(payload.size());
    std::memcpy(f.payload.data(), payload.data(), payload.size());
    controls.push_back(f);
    control_bytes += payload.size() + 2;
    sends.wake();
}

void link_state::send_close_after_queue()
{
    if (close_to_send || close_sent) return;
    close_to_send = close_request{wire::close_code::normal, true};
    sends.wake();
}

void link_state::send_close_now(std::uint16_t code)
{
    if (close_sent) return;
    close_to_send = close_request{code, false};
    sends.wake();
}

link::link(asio::any_io_executor strand, std::unique_ptr<transport> io, std::string leftover,
           std::optional<wire::deflate_params> deflate, link_settings settings, send_queue& sends, delivery& inbound,
           counters& stats)
    : strand_(std::move(strand)), io_(std::move(io)), settings_(settings),
      codec_(deflate ? std::make_unique<wire::deflate_codec>(*deflate) : nullptr),
      state_(strand_, *io_, settings_, sends, inbound, stats), reader_(state_, codec_.get(), std::move(leftover)),
      writer_(state_, codec_.get()), heartbeat_(state_)
{
}

void link::close()
{
    state_.send_close_after_queue();
    state_.inbound.release_reader();  // a paused reader must read the server's answer
}

asio::awaitable<link_result> link::run()
{
    namespace ex = asio::experimental;
    auto [order, e1, d1, e2, d2, e3, d3] =
        co_await ex::make_parallel_group(asio::co_spawn(strand_, reader_.run(), asio::deferred),
                                         asio::co_spawn(strand_, writer_.run(), asio::deferred),
                                         asio::co_spawn(strand_, heartbeat_.run(), asio::deferred))
            .async_wait(ex::wait_for_one(), asio::use_awaitable);
    for (auto& e : {e1, e2, e3})
        if (e) std::rethrow_exception(e);
    disconnect* results[] = {&d1, &d2, &d3};
    link_result r{std::move(*results[order[0]]), state_.healthy};
    io_->close(r.why.kind != disconnect_kind::close_frame);
    co_return r;
}

}  // namespace tether::detail
