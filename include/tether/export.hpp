// tether: which declarations libtether exports.
//
// libtether is built with hidden symbol visibility (`gnu_symbol_visibility: 'hidden'`): only what
// carries TETHER_API is visible to programs, everything else stays inside the library. Asio,
// Beast and Boost.JSON are compiled header-only in the library, as in any program that includes
// them, with their own default visibility (lib/asio.hpp), so that their shared state (the call
// stack that says which thread runs an io_context or strand, the recycled handler memory, the
// error categories) is one and the same in the library and in the program. A program therefore
// compiles Asio as it wishes: header-only, or its own separate compilation.
#ifndef TETHER_EXPORT_HPP
#define TETHER_EXPORT_HPP

// ELF (GCC, Clang): the one platform tether builds for.
#if defined(__GNUC__)
#  define TETHER_API __attribute__((visibility("default")))
#else
#  define TETHER_API
#endif

#endif
