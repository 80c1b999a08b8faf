# What the consumer scripts share (sourced, not run): a temporary work directory removed at exit,
# the "ok:" and "FAIL:" lines with their closing count, and an install of a build directory.

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; passes=$((passes + 1)); }
finish() { echo "$passes passed, $failures failed"; [ "$failures" -eq 0 ]; exit; }

# install_build BUILD_DIR ROOT: `meson install --destdir ROOT` of a build whose installed targets
# are built (the tests depend on them); stops the script when it fails.
install_build() {
    if meson install -C "$1" --destdir "$2" --no-rebuild > "$work/install.log" 2>&1; then
        pass "meson install --destdir"
    else
        cat "$work/install.log"
        fail "meson install"
        finish
    fi
}
