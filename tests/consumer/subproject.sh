#!/usr/bin/env bash
# tether as a Meson subproject: copies tests/consumer/project to a fresh temporary directory, puts
# a copy of tether's sources (the files git knows, tracked or new, not ignored) into its
# subprojects/tether, configures with `dependency('tether')` forced to fall back to that
# subproject, checks that only tether's two libraries are built (not its tests, tools, examples or
# benchmarks), compiles, and runs the program against tether's test server.
# Usage: subproject.sh TETHER_SOURCE_ROOT
set -u

src=$(cd "${1:?usage: subproject.sh TETHER_SOURCE_ROOT}" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# The consumer project, and tether in its subprojects/ as a user's checkout would be.
cp -R "$here/project" "$work/project"
dest="$work/project/subprojects/tether"
mkdir -p "$dest"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r -d '' f; do
        [ -f "$src/$f" ] || continue  # deleted in the working tree
        mkdir -p "$dest/$(dirname "$f")"
        cp -p "$src/$f" "$dest/$f"
    done < <(git -C "$src" ls-files -z --cached --others --exclude-standard)
else
    cp -R "$src/meson.build" "$src/meson_options.txt" "$src/include" "$src/lib" "$dest/"
fi

# The consumer's default build type (debug), without debug info: nobody debugs this throwaway
# build, and it compiles about 10 % faster.
cd "$work" || exit 1
start=$SECONDS
if meson setup build project --wrap-mode=nodownload --force-fallback-for=tether -Ddebug=false \
    > setup.log 2>&1; then
    pass "meson setup with tether as a subproject"
else
    cat setup.log
    fail "meson setup"
    finish
fi
grep -q "Executing subproject tether" setup.log || fail "tether was not taken from subprojects/"

# Only the two libraries may come from the subproject.
built=$(meson introspect build --targets | python3 -c '
import json, sys
print(" ".join(sorted(t["name"] for t in json.load(sys.stdin) if t["subproject"] == "tether")))')
if [ "$built" = "tether tether_testing" ]; then
    pass "the subproject builds only tether and tether_testing"
else
    fail "the subproject builds: $built"
fi

if meson compile -C build > compile.log 2>&1; then
    pass "compiled in $((SECONDS - start)) s"
else
    tail -n 60 compile.log
    fail "meson compile"
    finish
fi
if grep -q "warning:" compile.log; then
    grep -B2 -A6 "warning:" compile.log | head -n 60
    fail "compiler warnings"
fi

if out=$(timeout 60 build/consumer 2>&1); then
    pass "the consumer runs: $out"
else
    fail "the consumer failed: $out"
fi
finish
