// Internal: one link, a live WebSocket connection after its upgrade, and its tasks:
//   reader     large reads -> the frame decoder -> (resume: acks and duplicates out) -> one
//              hand-off per read to delivery
//   writer     the send queue (resume: through the ledger) and the control frames -> the frame
//              encoder -> one write per batch
//   heartbeat  pings, and the verdict when nothing at all arrives within the pong timeout
//   acker      resumable receives only: an acknowledgement back after the delay
// They share `link_state` (on the client's strand, so without locks). The first of them to end
// decides why the link ended; the others are then stopped and awaited.
#ifndef TETHER_LIB_LINK_LINK_HPP
#define TETHER_LIB_LINK_LINK_HPP

#include "../delivery.hpp"
#include "../events.hpp"
#include "../mailbox.hpp"
#include "../resume/resume_state.hpp"
#include "../wire/decoder.hpp"
#include "../wire/deflate.hpp"
#include "../wire/mask.hpp"
#include "liveness.hpp"
#include "rtt.hpp"
#include "transport.hpp"

#include <tether/disconnect.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tether::detail {

class writer;
class acker;

/// What a link is told by its client, for its whole life.
struct link_settings {
    std::size_t max_message_size = 16 * 1024 * 1024;
    milliseconds handshake_timeout{10000};  ///< bounds the closing handshake and the teardown
    milliseconds ping_interval{30000};      ///< 0: no heartbeat
    liveness_settings liveness;
    std::function<std::chrono::nanoseconds()> boot_clock;  ///< empty: CLOCK_BOOTTIME
};

/// What one link carried.
struct link_traffic {
    std::uint64_t messages_received = 0, messages_sent = 0, bytes_received = 0, bytes_sent = 0;
};

/// An event on the strand: `wait` completes once `set` has been called, at the deadline, or when
/// the waiting task is cancelled; `is_set` tells which.
class strand_event {
public:
    explicit strand_event(const asio::any_io_executor& strand) : timer_(strand) {}
    void set()
    {
        set_ = true;
        timer_.cancel();
    }
    void reset() noexcept { set_ = false; }
    bool is_set() const noexcept { return set_; }
    asio::awaitable<void> wait(clock_type::time_point deadline = clock_type::time_point::max());

private:
    asio::steady_timer timer_;
    bool set_ = false;
};

/// A control frame waiting for the writer.
struct control_frame {
    wire::opcode op = wire::opcode::pong;
    std::uint8_t size = 0;
    std::array<unsigned char, wire::max_control_payload> payload{};
};

/// What the tasks of one link share.
struct link_state {
    link_state(const asio::any_io_executor& strand, transport& io, const link_settings& settings, send_queue& sends,
               delivery& inbound, resume_state* resume, counters& stats, rtt_estimator& rtt, const notifier& events)
        : strand(strand), io(io), settings(settings), sends(sends), inbound(inbound), resume(resume), stats(stats),
          rtt(rtt), events(events), controls_drained(strand), close_written(strand)
    {
    }

    asio::any_io_executor strand;
    transport& io;
    const link_settings& settings;
    send_queue& sends;
    delivery& inbound;
    resume_state* resume;  // acknowledged sends, resumable receives: null when neither is on
    counters& stats;
    rtt_estimator& rtt;  // the client's, across its links
    const notifier& events;
    writer* out = nullptr;  // for the reader's write_now

    // What this link carried, for its record; the client's totals are in `stats`.
    link_traffic traffic;
    rtt_estimator link_rtt;  // this link's pongs only
    // The ping waiting for its pong: its number (echoed in the pong's payload) and when it went.
    std::uint32_t ping_number = 0;
    std::optional<clock_type::time_point> ping_sent_at;
    std::array<unsigned char, 4> ping_payload() const noexcept;  // the number, as ping and pong carry it

    // Liveness: any byte read proves the link alive.
    clock_type::time_point last_inbound = clock_type::now();
    bool healthy = false;   ///< a message or a pong arrived
    bool paused = false;    ///< the reader waits for the application: silence proves nothing
    bool stopping = false;  ///< another task ended the link: the reader stops at its next step

    // Control frames for the writer, in order; their payload bytes are bounded, past that the
    // reader stops reading until the writer has sent them (a ping flood meets TCP backpressure).
    std::vector<control_frame> controls;
    std::size_t control_bytes = 0;
    static constexpr std::size_t max_control_bytes = 64 * 1024;
    strand_event controls_drained;

    // The closing handshake.
    struct close_request {
        std::uint16_t code = 1000;
        bool after_queue = false;  ///< the application's close: flush the queued sends first
    };
    std::optional<close_request> close_to_send;
    bool close_sent = false;
    strand_event close_written;  ///< the writer wrote the close frame (or gave up writing)

    // Resumable receives: the writer sends an acknowledgement in its next batch; the acker (only
    // when acknowledgements are on) is woken when delivered messages wait to be acknowledged.
    bool ack_requested = false;
    acker* ack_task = nullptr;

    /// `n` bytes were read: the link is alive.
    void arrived(std::size_t n) noexcept
    {
        last_inbound = clock_type::now();
        traffic.bytes_received += n;
        stats.bytes_received.fetch_add(n, std::memory_order_relaxed);
    }
    /// Queues the heartbeat's next ping, numbered so that its pong times this ping and not an
    /// older one.
    void send_ping(clock_type::time_point at);
    /// A pong arrived with `payload`: the round trip of the ping it answers, if it answers one.
    void pong_arrived(std::span<const unsigned char> payload);
    /// Queues a control frame and wakes the writer.
    void send_control(wire::opcode op, std::span<const unsigned char> payload);
    /// The application's close: after the queued messages, unless a close is under way already.
    void send_close_after_queue();
    /// A close that goes out next (an answer to the server's, or a failure), in place of one still
    /// waiting behind queued messages. Nothing once a close frame went out.
    void send_close_now(std::uint16_t code);
    /// True once a close frame was asked for or received: the heartbeat stops judging.
    bool closing() const noexcept { return close_to_send.has_value() || close_sent; }
};

/// How a link ended.
struct link_result {
    disconnect why;
    bool healthy = false;  ///< a message or a pong arrived on it
    link_traffic traffic;
    rtt_stats rtt;
};

class reader {
public:
    reader(link_state& st, wire::deflate_codec* codec, std::string leftover);
    asio::awaitable<disconnect> run();

private:
    // Reads into the buffer, or straight into a large message.
    asio::awaitable<error_code> read();
    // Decodes the complete frames in the buffer, stopping after `max_messages` messages (then
    // `stalled_`); returns how the link must end, if it must.
    std::optional<disconnect> decode(std::size_t max_messages);
    std::optional<disconnect> on_data(const wire::decoded& d, bool in_place);
    std::optional<disconnect> fail(std::uint16_t code, disconnect why);
    // The messages of this read, to the application in one hand-off.
    void deliver();
    // After a close frame went out (or was due): wait until it is written, then say goodbye below
    // WebSocket, all within handshake_timeout.
    asio::awaitable<disconnect> teardown(disconnect why);
    std::string& next_assembled();
    unsigned char* room_for(std::size_t n);  // n more bytes of the message being assembled

    link_state& st_;
    wire::deflate_codec* codec_;  // when permessage-deflate was negotiated
    wire::decoder decoder_;
    // Bytes read and not yet decoded: data_[begin_, end_), in small_ or in heap_.
    std::array<unsigned char, 512> small_{};
    std::unique_ptr<unsigned char[]> heap_;
    unsigned char* data_ = small_.data();
    std::size_t capacity_ = small_.size(), begin_ = 0, end_ = 0;
    std::size_t read_size_ = 64 * 1024;  // room for each read into the heap buffer (grows for large messages)
    // Messages of this read: views into data_ or into `assembled_`.
    std::vector<inbound_message> batch_;
    // Messages built from fragments, inflated, or read in place (each in a string of its own, so
    // that views stay valid as more are added).
    std::vector<std::unique_ptr<std::string>> assembled_;
    std::size_t assembled_used_ = 0;
    std::string* current_ = nullptr;  // the message being assembled, if any
    std::size_t current_length_ = 0;  // its bytes so far (uncompressed: the string may be longer)
    message_kind current_kind_ = message_kind::text;
    bool current_compressed_ = false;
    wire::utf8_validator inflated_utf8_;  // inflated text is checked as it comes out of the inflater
    // A large frame read in place: *current_ is already sized to its end; bytes up to `direct_at_`
    // have arrived.
    std::size_t direct_at_ = 0, direct_end_ = 0;
    std::size_t direct_read_ = 0;    // bytes just read in place, not yet decoded
    bool last_read_filled_ = false;  // the last read filled the buffer: more is probably waiting
    bool quiet_ = true;              // the last read was small: the link is not streaming
    bool stalled_ = false;           // decoding stopped for want of room in the application's inbox
};

class writer {
public:
    writer(link_state& st, wire::deflate_codec* codec) : st_(st), codec_(codec) {}
    asio::awaitable<disconnect> run();

    /// Called on the strand (by the reader, after a hand-off): when the writer sleeps and there is
    /// something to send, writes it now, with one non-blocking system call, instead of waking the
    /// writer through the event loop. A reply to a message then goes out at once; what the kernel
    /// does not take is left to the writer.
    void write_now();

private:
    void gather();               // the write's buffers from the encoded pieces
    void finish(error_code ec);  // a batch was written (or failed): complete its sends
    // Encodes the next batch (control frames, messages, the close) for one write; false when
    // there is nothing to write.
    bool encode_batch();
    void encode_message(outgoing& item);
    // Acknowledged sends: the ledger's messages this link has not written, then new ones from the
    // send queue as far as the ledger has room.
    void encode_kept(outbound_ledger& ledger);
    void encode_kept_message(retained& r);
    void encode_message(std::string_view text);  // a text frame of ours: an acknowledgement
    void encode_frame(wire::opcode op, std::span<const unsigned char> payload, bool compressed = false);
    void add_piece(std::size_t at, std::size_t n);         // out_[at, at + n) joins the write
    void add_piece(std::span<const unsigned char> bytes);  // bytes of the ledger's store join it
    unsigned char* grow(std::size_t n);

    link_state& st_;
    wire::deflate_codec* codec_;  // when permessage-deflate was negotiated
    wire::mask_source masks_;
    std::vector<outgoing> batch_;  // the messages of the batch being written, completed after it
    // Headers and small payloads, masked, back to back.
    std::unique_ptr<unsigned char[]> out_;
    std::size_t out_size_ = 0, out_capacity_ = 0;
    // The write, in order: pieces of out_, large payloads masked where they are, and framed
    // messages in the ledger's store.
    struct piece {
        const unsigned char* data;  // null: out_ + offset
        std::size_t offset, size;
    };
    std::vector<piece> pieces_;
    std::vector<asio::const_buffer> buffers_;
    std::size_t batch_bytes_ = 0;  // of the batch being written
    // Acknowledged sends: the batch ends before this sequence number; how many kept messages it has.
    std::uint64_t kept_end_ = 0;
    std::size_t kept_in_batch_ = 0;
    std::vector<outgoing> refused_;  // taken from the queue, refused by the ledger (no id)
    bool close_in_batch_ = false;
    bool parked_ = false;   // waiting for work in the send queue
    bool pending_ = false;  // buffers_ holds the rest of a batch write_now started
};

class heartbeat {
public:
    explicit heartbeat(link_state& st) : st_(st) {}
    asio::awaitable<disconnect> run();

private:
    link_state& st_;
};

/// Resumable receives: when delivered messages wait to be acknowledged and no count made it due
/// at once, asks the writer for an acknowledgement `ack_delay` after the first of them.
class acker {
public:
    explicit acker(link_state& st) : st_(st), wanted_(st.strand), timer_(st.strand) {}
    asio::awaitable<disconnect> run();
    /// Delivered messages wait to be acknowledged.
    void wake()
    {
        if (!wanted_.is_set()) wanted_.set();
    }
    /// Stops the task (the link's end); kept here, so that a link without acknowledgements pays
    /// for none of it.
    asio::cancellation_signal stop;

private:
    link_state& st_;
    strand_event wanted_;
    asio::steady_timer timer_;
};

/// One connection after its upgrade. Owns its stream; runs until the first task ends.
///
/// The reader runs in `run` itself; the writer and the heartbeat are spawned beside it, each with
/// a cancellation signal of the link's. Three tasks under a parallel group of spawned coroutines
/// cost 3.5 KiB of frames and group state per idle connection; this costs two spawns.
class link {
public:
    link(asio::any_io_executor strand, std::unique_ptr<transport> io, std::string leftover,
         std::optional<wire::deflate_params> deflate, link_settings settings, send_queue& sends, delivery& inbound,
         resume_state* resume, counters& stats, rtt_estimator& rtt, const notifier& events);

    asio::awaitable<link_result> run();

    /// The application's close: flush the queued sends, close with 1000, and read on until the
    /// server's close frame.
    void close();
    /// A hard stop (close_timeout, reconnect()): the socket is reset at once.
    void abort() noexcept { io_->close(true); }

private:
    // A spawned task ended: the first ending of the three decides, and stops the others.
    void ended(std::exception_ptr e, disconnect why);
    void stop_all();

    asio::any_io_executor strand_;
    std::unique_ptr<transport> io_;
    link_settings settings_;
    // permessage-deflate's state (13 KiB), allocated only when the server accepted it.
    std::unique_ptr<wire::deflate_codec> codec_;
    link_state state_;
    reader reader_;
    writer writer_;
    heartbeat heartbeat_;
    std::unique_ptr<acker> acker_;  // only with acknowledgements of resumable receives
    asio::cancellation_signal stop_writer_, stop_heartbeat_;
    unsigned spawned_running_ = 0;
    strand_event spawned_done_;
    std::optional<disconnect> first_end_;
    std::exception_ptr failure_;  // a task threw: rethrown once all have stopped
};

}  // namespace tether::detail

#endif
