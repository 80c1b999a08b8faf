// The conformance case table: what the raw-frame server writes for each case, and what the client
// must do about it. Numbered in the spirit of the Autobahn TestSuite's sections:
//   0 upgrade responses (rejections, Retry-After, bad 101s, silence, leftovers after the 101)
//   1 framing (7/16/64-bit lengths, binary, canonical lengths, masking)   2 ping/pong
//   3 reserved bits   4 reserved opcodes   5 fragmentation (interleaved control frames)
//   6 UTF-8   7 close (codes, reasons, after-close)   9 limits (max_message_size, floods)
//   10 coalesced writes (many echoes at once: one frame and one masking key each, in order)
//   12 permessage-deflate (RFC 7692: the answer to the offer, compressed messages both ways)
// Most cases run the test's application on the JSON API; `raw` ones on the raw API, which carries
// binary messages too. Each case's id and description are printed by the test; `cases.cpp` is the
// table itself.
#ifndef TETHER_TESTS_CONFORMANCE_CASES_HPP
#define TETHER_TESTS_CONFORMANCE_CASES_HPP

#include <tether/disconnect.hpp>
#include <tether/error.hpp>
#include <tether/message.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tether::conformance {

/// How a case must end.
enum class outcome {
    /// The link stays up: every message is delivered (and echoed back by the test's application),
    /// every ping answered; then the server closes with 1000 and the client answers 1000.
    echoed,
    /// The client fails the connection: it writes a close frame with `client_close` (1002
    /// protocol error, 1007 bad payload, 1009 too big) and closes TCP, having delivered
    /// `messages` and answered `pongs` first.
    failed,
    /// The server's close frame in the script ends it: the client answers with `client_close`.
    closed,
    /// The upgrade fails (sections 0 and 12.1): the client writes no frame and reports `kind`.
    rejected,
};

/// How the server of a case accepts permessage-deflate (RFC 7692), and what follows for the client's
/// messages.
struct deflate_answer {
    /// The 101's Sec-WebSocket-Extensions, e.g. "permessage-deflate; server_no_context_takeover".
    std::string extensions;
    /// The client's messages come back compressed (RSV1, every one): tether compresses unless the
    /// server limited its window to 8 bits (client_max_window_bits=8).
    bool client_compresses = true;
    /// client_no_context_takeover was answered: each of the client's messages inflates alone.
    bool client_no_context_takeover = false;
    /// The client's compressor may use a window of 2^this bytes (client_max_window_bits, 15 when not
    /// answered): its messages must inflate through a window that small.
    int client_window_bits = 15;
};

struct conformance_case {
    std::string id;  ///< "5.4"
    std::string description;
    /// What the server writes after the 101, one write each; without `upgrade`, in place of the
    /// 101 (every "{ACCEPT}" becomes the right Sec-WebSocket-Accept).
    std::vector<std::string> script;
    bool upgrade = true;   ///< the server answers the upgrade request with a valid 101 first
    bool hold = false;     ///< after the script the server neither writes nor closes (a silent peer)
    std::size_t chop = 0;  ///< > 0: every write goes out in pieces of this many bytes
    outcome expect = outcome::echoed;
    /// Delivered to the application, in order, and echoed back: JSON texts (compared as JSON values,
    /// since the application echoes the parsed value) unless `raw`, then exactly these messages.
    std::vector<message> messages;
    std::vector<std::string> pongs;     ///< payloads of the client's pongs, in order
    std::uint16_t client_close = 1000;  ///< the code in the client's close frame
    /// How the client's disconnect is classified; for close_frame also the code it saw.
    disconnect_kind kind = disconnect_kind::close_frame;
    std::uint16_t peer_code = 1000;
    std::optional<std::string> peer_reason;                ///< the close reason the client must report
    std::optional<error> tether_error;                     ///< the tether::error of the disconnect, where it has one
    unsigned http_status = 0;                              ///< for kind http_status: the status reported
    std::optional<std::chrono::milliseconds> retry_after;  ///< for kind http_status
    std::size_t max_message_size = 0;                      ///< client_config::max_message_size; 0 = the default
    std::chrono::milliseconds handshake_timeout{0};        ///< client_config::handshake_timeout; 0 = 5 s
    /// The application takes every message unchanged (`on_raw_message`, text and binary) and echoes
    /// it as it came (`async_send(message)`); else it takes JSON (`on_message`) and echoes the value.
    bool raw = false;
    /// client_config::permessage_deflate. Unset: the suite's (off in `conformance`, on in
    /// `conformance_deflate_offered`, which runs exactly these cases again).
    std::optional<bool> offer_deflate;
    /// The server accepts permessage-deflate in its 101 (the client offers it).
    std::optional<deflate_answer> deflate;
    /// For kind protocol: the protocol_error the disconnect must carry, where the case checks it.
    std::optional<protocol_error> protocol;
    /// A library bug this case shows, with the proposed fix: the case is registered as an expected
    /// failure (Boost.Test `expected_failures`) until the fix lands; then clear this.
    std::string known_bug;
};

/// The table, in order; `/runCase?case=N` runs entry N - 1.
const std::vector<conformance_case>& cases();

/// A delivered message of exactly `size` bytes: `{"type":"m","pad":"xx..."}` (size >= 23).
std::string sized_message(std::size_t size);

}  // namespace tether::conformance

#endif
