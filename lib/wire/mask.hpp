// Internal: client-to-server masking (RFC 6455 5.3), a word at a time, and the keys for it.
#ifndef TETHER_LIB_WIRE_MASK_HPP
#define TETHER_LIB_WIRE_MASK_HPP

#include <array>
#include <cstddef>
#include <cstdint>

namespace tether::wire {

/// A masking key, in wire order.
using mask_key = std::array<unsigned char, 4>;

/// dst[i] = src[i] ^ key[(phase + i) % 4] for i < n. `dst` and `src` may be the same buffer but
/// must not otherwise overlap. Eight bytes at a time, any alignment.
void mask_copy(unsigned char* dst, const unsigned char* src, std::size_t n, mask_key key,
               std::size_t phase = 0) noexcept;

/// Masks (or unmasks: the operation is its own inverse) `n` bytes in place; `phase` is how many
/// bytes of the frame's payload came before them.
inline void mask_in_place(unsigned char* data, std::size_t n, mask_key key, std::size_t phase = 0) noexcept
{
    mask_copy(data, data, n, key, phase);
}

/// Masking keys from the system's CSPRNG (OpenSSL's RAND_bytes), bought in blocks of 64 keys so
/// that a frame costs a copy of four bytes, not a call into the generator. RFC 6455 5.3 asks for
/// keys a peer cannot predict: a proxy that caches by content must not see chosen bytes.
/// Not thread safe: one per writer.
class mask_source {
public:
    mask_key next() noexcept
    {
        if (used_ == pool_.size()) refill();
        mask_key k;
        for (std::size_t i = 0; i < 4; ++i) k[i] = pool_[used_ + i];
        used_ += 4;
        return k;
    }

private:
    void refill() noexcept;

    std::array<unsigned char, 256> pool_{};
    std::size_t used_ = pool_.size();
};

}  // namespace tether::wire

#endif
