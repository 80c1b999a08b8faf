// Internal: the outbound ledger, the sans-I/O half of acknowledged sends. It keeps every message
// taken from the send queue until the server acknowledges it, numbers them, knows which of them
// this link has not written yet (all of them, after a reconnect), and hands back the sends to
// complete as writes and acknowledgements arrive. No I/O and no executor: the writer and the
// reader drive it on the client's strand, and its table tests drive it alone.
#ifndef TETHER_LIB_RESUME_LEDGER_HPP
#define TETHER_LIB_RESUME_LEDGER_HPP

#include "../fifo.hpp"
#include "../mailbox.hpp"

#include <tether/resume.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tether::detail {

/// One message kept until acknowledged.
struct retained {
    std::uint64_t seq = 0;  ///< 1, 2, 3...: the stamped sequence number
    message_kind kind = message_kind::text;
    std::string payload;  ///< as the application sent it, without the stamp
    std::string id;       ///< per-message acknowledgements: its id
    void_handler handler;
    std::uint64_t request_id = 0;  ///< the message of an `async_request`
    bool acknowledged = false;     ///< per message: acknowledged, waiting for those before it
    bool written = false;          ///< written at least once
};

/// A send the ledger is done with: complete it with `ec`.
struct finished_send {
    void_handler handler;
    std::uint64_t request_id = 0;
    error_code ec;
};

class outbound_ledger {
public:
    explicit outbound_ledger(const acknowledged_sends& cfg) : cfg_(cfg) {}

    /// How many more messages, and bytes, the buffer takes; 0 when it is full.
    std::size_t room_messages() const noexcept;
    std::size_t room_bytes() const noexcept;
    bool full() const noexcept { return room_messages() == 0 || room_bytes() == 0; }

    /// Takes `m` from the send queue: numbers it and keeps it (it is next to write). False, with
    /// `m` untouched, when the per-message style finds no id in it.
    bool keep(outgoing& m);

    /// The next kept message this link has not written, or null; `advance` moves past it.
    retained* next_to_write() noexcept;
    void advance() noexcept;
    /// The sequence number the next `advance` ends a write at: what `written_through` takes.
    std::uint64_t write_position() const noexcept { return next_write_; }

    /// A write that ended before `upto` succeeded: the sends that complete on their first write
    /// (`send_completion::written`) are appended to `done`. How many were written the first time.
    std::size_t written_through(std::uint64_t upto, std::vector<finished_send>& done);

    /// A new link: everything kept goes out again, oldest first. How many messages that is.
    std::size_t rewind() noexcept;

    /// Applies an acknowledgement; the sends it completes are appended to `done` (all of them for
    /// `send_completion::acknowledged`; for `written`, those not yet completed). How many kept
    /// messages it released. An acknowledgement of more than was sent releases what was sent.
    std::size_t acknowledge(const acknowledgement& a, std::vector<finished_send>& done);

    /// The client has finished: every kept message's send fails with `ec`.
    void fail_all(error_code ec, std::vector<finished_send>& done);

    std::size_t size() const noexcept { return kept_.size(); }
    std::size_t bytes() const noexcept { return bytes_; }
    /// The sequence number of the last message kept (0: none yet).
    std::uint64_t last_seq() const noexcept { return next_seq_ - 1; }
    /// Writes of a message after its first, over the ledger's life.
    std::uint64_t resent() const noexcept { return resent_; }

    /// The text that goes on the wire for `r`: its payload, stamped when the configuration says so.
    /// `stamp` receives the member to insert (`"seq":7,`) and `at` where; false: send as it is.
    bool stamp_of(const retained& r, std::string& stamp, std::size_t& at) const;

private:
    void release_front(std::vector<finished_send>& done);
    void complete(retained& r, std::vector<finished_send>& done, error_code ec = {});

    const acknowledged_sends& cfg_;
    fifo<retained> kept_;     // in sequence order, contiguous: kept_.at(i).seq == front seq + i
    std::size_t bytes_ = 0;   // payload bytes kept
    std::uint64_t next_seq_ = 1;
    std::uint64_t next_write_ = 1;     // the first sequence number this link has not written
    std::uint64_t never_written_ = 1;  // every message before it has been written at least once
    std::uint64_t resent_ = 0;
};

}  // namespace tether::detail

#endif
