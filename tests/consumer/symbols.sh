#!/usr/bin/env bash
# What libtether and libtether_testing export (issue 13: a library that is a good guest).
#   symbols.sh SOURCE_ROOT LIBTETHER LIBTETHER_TESTING
# Both are built with hidden visibility; a program sees what carries TETHER_API and the Boost
# objects it must share with the libraries. Checks, for each library:
#   - every strong symbol (a definition of the library's own: T, D, B, R) is tether's public API:
#     in namespace tether, not tether::detail, with its type information;
#   - it defines no strong Asio or Beast symbol: a program that compiles Asio itself (its own
#     separate compilation, or a library that does) would get two definitions;
#   - Asio's shared state is visible, so that the program and the library share it: the call
#     stack of the running thread (what lets `dispatch` run at once) and the error categories.
# and prints the counts: all exported symbols, tether's, Boost's (weak: inline functions and
# template statics, which the dynamic linker merges with the program's). First, every Boost header
# that the libraries' sources or the public headers include must be in lib/visible_boost.hpp, which
# declares them with default visibility before anything else.
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

command -v nm > /dev/null || { echo "SKIP: nm (binutils) is not installed"; exit 77; }

# none LIST OK WHAT: passes with OK when LIST (lines) is empty, else fails with WHAT and the list.
none() {
    if [[ -z $1 ]]; then
        pass "$2"
    else
        fail "$3 ($(wc -l <<< "$1")):"$'\n'"$(head -n 20 <<< "$1")"
    fi
}
count() { grep -c -- "$1" <<< "$2" || true; }

src=${1:?usage: symbols.sh SOURCE_ROOT LIBTETHER LIBTETHER_TESTING}
shift
missing=$(comm -23 \
    <(grep -rhoE '#include <boost/[^>]+>' "$src/lib" "$src/include" --include='*.[ch]pp' | grep -v '/src.hpp>' | sort -u) \
    <(grep -oE '^#include <boost/[^>]+>' "$src/lib/visible_boost.hpp" | sort -u))
none "$missing" "every Boost header of the libraries is declared in lib/visible_boost.hpp" \
     "Boost headers missing from lib/visible_boost.hpp"

for lib in "$@"; do
    name=$(basename "$lib")
    symbols=$(nm -D -C --defined-only "$lib") || { fail "nm $lib"; continue; }
    # "ADDRESS TYPE NAME", the name demangled (it may contain spaces).
    strong=$(awk '$2 ~ /^[TDBR]$/ { $1 = ""; $2 = ""; sub(/^  /, ""); print }' <<< "$symbols")
    total=$(wc -l <<< "$symbols")
    echo "$name: $total exported; $(wc -l <<< "$strong") strong (the library's own definitions)," \
         "$(count 'tether::' "$symbols") of tether's, $(count 'boost::' "$symbols") of Boost's (weak or unique)"

    foreign=$(grep -v -E '^((typeinfo|typeinfo name|vtable|VTT|construction vtable for .*) for )?tether::' <<< "$strong" |
              grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' || true)
    none "$foreign" "$name: every strong symbol is in namespace tether" "$name: strong symbols outside namespace tether"
    detail=$(grep -E '(^| for )tether::(.*::)?detail::' <<< "$strong" || true)
    none "$detail" "$name: nothing of tether::detail is exported" "$name: tether::detail exported"
    asio=$(grep -E '^((typeinfo|typeinfo name|vtable|guard variable) for )?boost::(asio|beast)::' <<< "$strong" || true)
    none "$asio" "$name: no strong Asio or Beast symbol (a program's own separate compilation cannot collide)" \
         "$name: strong Asio or Beast symbols"
done

# libtether runs Asio code and compares Asio's error codes: its copies of the shared objects must
# be visible, or they would be the library's alone.
symbols=$(nm -D -C --defined-only "$1")
for object in 'boost::asio::detail::call_stack<boost::asio::detail::thread_context, boost::asio::detail::thread_info_base>::top_' \
              'boost::asio::detail::call_stack<boost::asio::detail::strand_executor_service::strand_impl, unsigned char>::top_' \
              'boost::asio::error::get_misc_category()::instance' \
              'boost::asio::error::get_ssl_category()::instance'; do
    if grep -qF -- "$object" <<< "$symbols"; then
        pass "$(basename "$1") shares $object"
    else
        fail "$(basename "$1") does not export $object: the program and the library would each have their own"
    fi
done

finish
