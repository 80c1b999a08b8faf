#!/usr/bin/env bash
# tether installed: `meson install --destdir` from a build directory into a temporary root, checks
# what landed there, then compiles a program with `pkg-config --cflags --libs tether
# tether-testing` against that copy alone (PKG_CONFIG_SYSROOT_DIR points the paths into the
# temporary root), links it and runs it against tether's test server.
# Usage: installed.sh BUILD_DIR PROGRAM.cpp
# Environment: CXX (default c++); TETHER_CONSUMER_CXXFLAGS, more flags for the compile and link (the
# -fsanitize flags of a sanitizer build, which the program needs to load its libtether).
set -u

build=$(cd "${1:?usage: installed.sh BUILD_DIR PROGRAM.cpp}" && pwd)
program=${2:?usage: installed.sh BUILD_DIR PROGRAM.cpp}

. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

root="$work/root"
install_build "$build" "$root"

# Where this build installs to, as configured.
read -r prefix includedir libdir < <(meson introspect "$build" --buildoptions | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
print(p, os.path.join(p, o["includedir"]), os.path.join(p, o["libdir"]))')

missing=()
for f in "$includedir/tether/tether.hpp" "$includedir/tether/testing/test_server.hpp" \
         "$libdir/libtether.so" "$libdir/libtether_testing.so" \
         "$libdir/pkgconfig/tether.pc" "$libdir/pkgconfig/tether-testing.pc"; do
    [ -e "$root$f" ] || missing+=("$f")
done
if [ ${#missing[@]} -eq 0 ]; then
    pass "headers, libraries and pkg-config files installed under $prefix"
else
    fail "not installed: ${missing[*]}"
fi

# Only the installed copy: no -I or -L into the source or build tree.
export PKG_CONFIG_PATH="$root$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"
if flags=$(pkg-config --cflags --libs tether tether-testing); then
    pass "pkg-config: $flags"
else
    fail "pkg-config --cflags --libs tether tether-testing"
    finish
fi
# Asio and Beast are the program's to configure: tether.pc imposes no macro.
[[ $flags == *-D* ]] && fail "pkg-config imposes a definition on its consumer: $flags"
[[ $flags == *"$build"* ]] && fail "pkg-config points into the build directory"

# shellcheck disable=SC2086  # the flags are meant to split
if ${CXX:-c++} -std=c++20 -Wall -Wextra -Wpedantic -Werror ${TETHER_CONSUMER_CXXFLAGS:-} -o "$work/consumer" \
    "$program" $flags > "$work/compile.log" 2>&1; then
    pass "compiled and linked against the installed tether${TETHER_CONSUMER_CXXFLAGS:+ with ${CXX:-c++} $TETHER_CONSUMER_CXXFLAGS}"
else
    tail -n 60 "$work/compile.log"
    fail "compiling against the installed tether"
    finish
fi

if out=$(LD_LIBRARY_PATH="$root$libdir" timeout 60 "$work/consumer" 2>&1); then
    pass "the consumer runs: $out"
else
    fail "the consumer failed: $out"
fi
# It must have loaded the installed libraries, not some other copy.
if LD_LIBRARY_PATH="$root$libdir" ldd "$work/consumer" | grep -q "libtether.so.* => $root$libdir/"; then
    pass "it loads libtether from the installed copy"
else
    fail "libtether resolved elsewhere: $(LD_LIBRARY_PATH="$root$libdir" ldd "$work/consumer" | grep tether)"
fi
finish
