// Internal: UTF-8 validation for text messages, fed in pieces as they arrive (RFC 6455 8.1).
#ifndef TETHER_LIB_WIRE_UTF8_HPP
#define TETHER_LIB_WIRE_UTF8_HPP

#include <cstddef>
#include <cstdint>
#include <span>

namespace tether::wire {

/// Validates UTF-8 incrementally: a message may be fed in any pieces, split anywhere, and the
/// verdict fails at the first byte that no valid continuation could follow (an overlong form, a
/// surrogate, a code point above U+10FFFF, a stray continuation byte), not at the message's end.
/// ASCII runs are checked eight bytes at a time.
class utf8_validator {
public:
    /// Checks the next bytes; false once the input so far cannot be valid UTF-8 (and from then on).
    bool feed(std::span<const unsigned char> bytes) noexcept;

    /// True when the input so far is valid and ends on a character boundary.
    bool complete() const noexcept { return state_ == accept; }

    /// Starts a new message.
    void reset() noexcept { state_ = accept; }

    // The states: which bytes may come next. Public for the tests' tables.
    enum state : std::uint8_t {
        accept,    ///< a character boundary
        tail1,     ///< one continuation byte (80-BF) to go
        tail2,     ///< two to go
        tail3,     ///< three to go
        after_e0,  ///< A0-BF next (no overlong 3-byte form), then one more
        after_ed,  ///< 80-9F next (no surrogate), then one more
        after_f0,  ///< 90-BF next (no overlong 4-byte form), then two more
        after_f4,  ///< 80-8F next (nothing above U+10FFFF), then two more
        reject,    ///< invalid, for good
    };

private:
    std::uint8_t state_ = accept;
};

/// True when `bytes` are one complete, valid UTF-8 text.
bool is_valid_utf8(std::span<const unsigned char> bytes) noexcept;

}  // namespace tether::wire

#endif
