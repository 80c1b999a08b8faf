// What the faults programs measure of their own process: file descriptors, the resident set, and
// memory as a growth check should count it. Under AddressSanitizer (clang: __has_feature; gcc:
// __SANITIZE_ADDRESS__) freed blocks wait in its quarantine before they are reused, so the
// resident set grows with the traffic though nothing leaks: there the measure is the heap's live
// bytes, from the sanitizer's allocator (a block in the quarantine counts as freed).
#ifndef TETHER_TESTS_FAULTS_MEASURE_HPP
#define TETHER_TESTS_FAULTS_MEASURE_HPP

#include <malloc.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TETHER_FAULTS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TETHER_FAULTS_ASAN)
#define TETHER_FAULTS_ASAN 1
#endif
#if defined(TETHER_FAULTS_ASAN) && __has_include(<sanitizer/allocator_interface.h>)
#include <sanitizer/allocator_interface.h>
#elif defined(TETHER_FAULTS_ASAN)
// GCC 12 ships no <sanitizer/allocator_interface.h>; its libasan has the function all the same.
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace tether::faults {

inline std::size_t open_fds()
{
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

inline std::size_t rss_kib()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t total = 0, resident = 0;
    statm >> total >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) / 1024;
}

#ifdef TETHER_FAULTS_ASAN
inline constexpr bool under_address_sanitizer = true;
inline constexpr const char* memory_measure = "live heap (ASan allocator)";
inline constexpr const char* heap_sampled = "live heap MiB (ASan allocator)";
/// Bytes allocated and not yet freed.
inline std::size_t heap_in_use()
{
    return __sanitizer_get_current_allocated_bytes();
}
/// Memory as a growth check counts it: the live heap here, KiB.
inline std::size_t memory_kib()
{
    return heap_in_use() / 1024;
}
#else
inline constexpr bool under_address_sanitizer = false;
inline constexpr const char* memory_measure = "rss";
inline constexpr const char* heap_sampled = "heap MiB in use (mallinfo2)";
/// Bytes allocated and not yet freed.
inline std::size_t heap_in_use()
{
    return ::mallinfo2().uordblks;
}
/// Memory as a growth check counts it: the resident set, KiB.
inline std::size_t memory_kib()
{
    return rss_kib();
}
#endif

}  // namespace tether::faults

#endif
