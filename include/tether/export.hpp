// tether: which declarations libtether exports.
//
// libtether and the testing kit are built with hidden symbol visibility
// (`gnu_symbol_visibility: 'hidden'`): only what carries TETHER_API is visible to programs,
// everything else stays inside the library. Asio and Beast are compiled header-only in the
// library, as in any program that includes them, and declared with default visibility there
// (lib/visible_boost.hpp), so that their shared state (the call stack that says which thread runs
// an io_context or a strand, the recycled handler memory, the error categories) is one and the same
// in the library and in the program. A program therefore compiles Asio as it wishes.
#ifndef TETHER_EXPORT_HPP
#define TETHER_EXPORT_HPP

// ELF (GCC, Clang): the one platform tether builds for.
#if defined(__GNUC__)
#  define TETHER_API __attribute__((visibility("default")))
#else
#  define TETHER_API
#endif

#endif
