#include "mask.hpp"

#include <openssl/rand.h>

#include <cstring>
#include <random>

namespace tether::wire {

void mask_copy(unsigned char* dst, const unsigned char* src, std::size_t n, mask_key key, std::size_t phase) noexcept
{
    // The key rotated to this phase, repeated to fill a word: byte j of the word masks byte j.
    unsigned char pattern[8];
    for (std::size_t j = 0; j < 8; ++j) pattern[j] = key[(phase + j) & 3];
    std::uint64_t word_key;
    std::memcpy(&word_key, pattern, 8);

    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        std::uint64_t w[4];
        std::memcpy(w, src + i, 32);
        w[0] ^= word_key;
        w[1] ^= word_key;
        w[2] ^= word_key;
        w[3] ^= word_key;
        std::memcpy(dst + i, w, 32);
    }
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, src + i, 8);
        w ^= word_key;
        std::memcpy(dst + i, &w, 8);
    }
    for (; i < n; ++i) dst[i] = src[i] ^ pattern[i & 7];
}

void mask_source::refill() noexcept
{
    if (RAND_bytes(pool_.data(), static_cast<int>(pool_.size())) != 1) {
        // OpenSSL's generator failed (it practically never does): take the OS's directly.
        std::random_device os;
        for (std::size_t i = 0; i < pool_.size(); i += 4) {
            const auto r = os();
            std::memcpy(pool_.data() + i, &r, 4);
        }
    }
    used_ = 0;
}

}  // namespace tether::wire
