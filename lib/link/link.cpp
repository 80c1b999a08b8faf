#include "link.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>

#include <algorithm>
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
    if (!payload.empty()) std::memcpy(f.payload.data(), payload.data(), payload.size());
    controls.push_back(f);
    control_bytes += payload.size() + 2;
    sends.wake();
}

std::array<unsigned char, 4> link_state::ping_payload() const noexcept
{
    std::array<unsigned char, 4> payload;
    std::memcpy(payload.data(), &ping_number, payload.size());
    return payload;
}

void link_state::send_ping(clock_type::time_point at)
{
    ++ping_number;
    ping_sent_at = at;
    send_control(wire::opcode::ping, ping_payload());
}

void link_state::pong_arrived(std::span<const unsigned char> payload)
{
    healthy = true;
    const auto expected = ping_payload();
    if (!ping_sent_at || !std::equal(payload.begin(), payload.end(), expected.begin(), expected.end()))
        return;  // unsolicited, or the answer to an older ping
    const auto sample = std::chrono::duration_cast<rtt_estimator::duration>(clock_type::now() - *ping_sent_at);
    ping_sent_at.reset();
    rtt.add(sample);
    link_rtt.add(sample);
    stats.rtt_smoothed_us.store(rtt.smoothed().count(), std::memory_order_relaxed);
    stats.rtt_variation_us.store(rtt.variation().count(), std::memory_order_relaxed);
    events.event({.kind = event_kind::pong, .rtt = sample});
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
           resume_state* resume, counters& stats, rtt_estimator& rtt, const notifier& events)
    : strand_(std::move(strand)), io_(std::move(io)), settings_(settings),
      codec_(deflate ? std::make_unique<wire::deflate_codec>(*deflate) : nullptr),
      state_(strand_, *io_, settings_, sends, inbound, resume, stats, rtt, events),
      reader_(state_, codec_.get(), std::move(leftover)), writer_(state_, codec_.get()), heartbeat_(state_),
      acker_(resume && resume->receives_acked() ? std::make_unique<acker>(state_) : nullptr), spawned_done_(strand_)
{
    state_.out = &writer_;
    state_.ack_task = acker_.get();
}

void link::close()
{
    // The server learns the last position delivered before the close (a later upgrade would
    // offer it anyway).
    if (state_.resume && state_.resume->ack_waiting()) state_.ack_requested = true;
    state_.send_close_after_queue();
    state_.inbound.release_reader();  // a paused reader must read the server's answer
}

asio::awaitable<link_result> link::run()
{
    spawned_running_ = acker_ ? 3 : 2;
    asio::co_spawn(strand_, writer_.run(),
                   asio::bind_cancellation_slot(stop_writer_.slot(), [this](std::exception_ptr e, disconnect why) {
                       ended(e, std::move(why));
                   }));
    asio::co_spawn(strand_, heartbeat_.run(),
                   asio::bind_cancellation_slot(stop_heartbeat_.slot(), [this](std::exception_ptr e, disconnect why) {
                       ended(e, std::move(why));
                   }));
    if (acker_)
        asio::co_spawn(strand_, acker_->run(),
                       asio::bind_cancellation_slot(acker_->stop.slot(), [this](std::exception_ptr e, disconnect why) {
                           ended(e, std::move(why));
                       }));
    std::exception_ptr reader_failure;
    try {
        disconnect why = co_await reader_.run();
        if (!first_end_) first_end_ = std::move(why);
    } catch (...) {
        reader_failure = std::current_exception();
        if (!first_end_) first_end_ = user_disconnect();
    }
    stop_all();
    while (spawned_running_ > 0) {
        spawned_done_.reset();
        co_await spawned_done_.wait();
    }
    if (reader_failure) std::rethrow_exception(reader_failure);
    if (failure_) std::rethrow_exception(failure_);
    link_result r{std::move(*first_end_), state_.healthy, state_.traffic, state_.link_rtt.summary()};
    io_->close(r.why.kind != disconnect_kind::close_frame);
    co_return r;
}

void link::ended(std::exception_ptr e, disconnect why)
{
    if (e && !failure_) failure_ = e;
    if (!first_end_) {
        first_end_ = std::move(why);
        stop_all();
    }
    if (--spawned_running_ == 0) spawned_done_.set();
}

// Each task stops at its next step: the spawned ones by cancellation, the reader by its flag and
// by its socket, which is reset (a link given up without a closing handshake is reset anyway).
void link::stop_all()
{
    if (state_.stopping) return;
    state_.stopping = true;
    stop_writer_.emit(asio::cancellation_type::terminal);
    stop_heartbeat_.emit(asio::cancellation_type::terminal);
    if (acker_) acker_->stop.emit(asio::cancellation_type::terminal);
    if (first_end_ && first_end_->kind != disconnect_kind::close_frame) io_->close(true);
    state_.inbound.release_reader();
    state_.controls_drained.set();
    state_.close_written.set();
}

}  // namespace tether::detail
