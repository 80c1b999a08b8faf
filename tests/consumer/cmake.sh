#!/usr/bin/env bash
# tether from CMake: `meson install --destdir` from a build directory into a temporary root; the
# installed prefix then moved to another directory and the root deleted, so that the package can
# only find itself from where it now is; then tests/consumer/cmake configured with
# CMAKE_PREFIX_PATH at the moved prefix alone (find_package(tether 0.1 CONFIG REQUIRED)), built,
# and its programs run: one linked with tether::testing against tether's test server, one with
# tether::tether alone. Skipped (77) when cmake is missing.
# Usage: cmake.sh BUILD_DIR
# Environment: CXX (else cmake's default); TETHER_CONSUMER_CXXFLAGS, more flags for the compile and
# link (the -fsanitize flags of a sanitizer build, which the programs need to load its libtether).
set -u

build=$(cd "${1:?usage: cmake.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v cmake >/dev/null; then
    echo "SKIP: cmake is not installed (Debian: cmake; scripts/dev deps installs it)"
    exit 77
fi

. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

root="$work/root"
install_build "$build" "$root"

# Where this build installs to, as configured; libdir relative to the prefix.
read -r prefix libdir < <(meson introspect "$build" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["libdir"])')
package="$libdir/cmake/tether"

missing=()
for f in tetherConfig.cmake tetherConfigVersion.cmake; do
    [ -e "$root$prefix/$package/$f" ] || missing+=("$package/$f")
done
if [ ${#missing[@]} -eq 0 ]; then
    pass "the CMake package installed in $prefix/$package"
else
    fail "not installed: ${missing[*]}"
    finish
fi
if grep -rq -e "$root" -e "$build" "$root$prefix/$package"; then
    fail "the CMake package names the DESTDIR or the build directory: $(grep -rn -e "$root" -e "$build" "$root$prefix/$package")"
fi

# The relocation: the prefix's contents elsewhere, under another name and depth, nothing left behind.
moved="$work/elsewhere/tether-moved"
mkdir -p "$work/elsewhere"
mv "$root$prefix" "$moved" && rm -rf "$root"

cmake_args=(-S "$here/cmake" -B "$work/build" -DCMAKE_PREFIX_PATH="$moved" -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if CXXFLAGS=${TETHER_CONSUMER_CXXFLAGS:-} cmake "${cmake_args[@]}" > "$work/configure.log" 2>&1; then
    pass "cmake found tether in the moved tree: $(grep '^tether_DIR:' "$work/build/CMakeCache.txt")"
else
    tail -n 60 "$work/configure.log"
    fail "cmake configure with find_package(tether 0.1 CONFIG REQUIRED)"
    finish
fi
grep -q "^tether_DIR:PATH=$moved/$package\$" "$work/build/CMakeCache.txt" ||
    fail "tether was found elsewhere: $(grep '^tether_DIR:' "$work/build/CMakeCache.txt")"

if cmake --build "$work/build" --parallel 2 --verbose > "$work/compile.log" 2>&1; then
    pass "built consumer (tether::testing) and connect_refused (tether::tether)${TETHER_CONSUMER_CXXFLAGS:+ with $TETHER_CONSUMER_CXXFLAGS}"
else
    tail -n 60 "$work/compile.log"
    fail "cmake --build"
    finish
fi
# What the targets carried into the compile: C++20 and the moved include directory (as a system
# directory: CMake's way with imported targets), and no Asio or Beast configuration macro.
compile=$(grep -m1 -- '-o CMakeFiles/consumer.dir/' "$work/compile.log")
for flag in -std=gnu++20 "-isystem $moved/include"; do
    [[ " $compile " == *" $flag "* ]] || fail "the consumer's compile lacks $flag: $compile"
done
# (Boost::json and Boost::url bring their own -DBOOST_JSON_DYN_LINK and the like.)
[[ $compile =~ -DBOOST_(ASIO|BEAST)_ ]] && fail "tether::tether imposes an Asio or Beast macro on its consumer: $compile"

# No LD_LIBRARY_PATH (meson test sets one into the build directory): the programs find the moved
# libraries by the run path CMake gave them.
unset LD_LIBRARY_PATH
for program in consumer connect_refused; do
    if out=$(timeout 60 "$work/build/$program" 2>&1); then
        pass "$program runs: $out"
    else
        fail "$program failed: $out"
    fi
    if ldd "$work/build/$program" | grep -q "libtether.so.0 => $moved/$libdir/libtether.so.0 "; then
        pass "$program loads libtether from the moved tree"
    else
        fail "$program resolved libtether elsewhere: $(ldd "$work/build/$program" | grep tether)"
    fi
done
finish
