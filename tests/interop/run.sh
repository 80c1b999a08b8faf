#!/usr/bin/env bash
# Interop checks of tether against a peer no one here wrote, on 127.0.0.1:
#   node     Node's `ws` (npm ws@8, installed on first use into node-ws/ next to INTEROP_CLIENT,
#            or into $TETHER_INTEROP_NODE_DIR, and reused afterwards); peer.mjs
#   python   Python's `websockets` (Debian's python3-websockets); peer.py
# Usage: run.sh node|python TETHER_CAT|none INTEROP_CLIENT
# The library is driven by INTEROP_CLIENT (one scenario per run, its own checks printed indented),
# the CLI by TETHER_CAT ('none' skips those checks). The peer reports what it sees as JSON lines on
# a pipe; the checks block on that pipe and on the programs' exits, each bounded, never on sleeps.
# With the python peer, tether's resume mode also runs against resume_peer.py, a peer of the resume
# convention that aborts a connection and refuses an upgrade with 503 on the way (resume_scenario).
# The last line is "N passed, M failed". Exits 77 (skipped) when the peer cannot run here.
set -u

usage="usage: run.sh node|python TETHER_CAT|none INTEROP_CLIENT"
peer=${1:?$usage}
cat_bin=${2:?$usage}
client_bin=${3:?$usage}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() {
    echo "SKIPPED: interop-$peer: $*"
    exit 77
}

case $peer in
node)
    command -v node > /dev/null || skip "node is not installed"
    command -v npm > /dev/null || skip "npm is not installed"
    modules=${TETHER_INTEROP_NODE_DIR:-$(cd "$(dirname "$client_bin")" && pwd)/node-ws}
    mkdir -p "$modules" || skip "cannot create $modules"
    ws_version() { node -p 'require(process.argv[1] + "/node_modules/ws/package.json").version' "$modules" 2> /dev/null; }
    # One installer at a time (interop-node may run concurrently with itself under --repeat).
    (
        if command -v flock > /dev/null; then flock -w 150 9 || exit 1; fi
        [[ $(ws_version) == 8.* ]] && exit 0
        echo "installing ws@8 into $modules"
        timeout 150 npm install --prefix "$modules" ws@8 --no-audit --no-fund --loglevel=error
    ) 9> "$modules/.lock" || skip "npm install ws@8 into $modules failed"
    ws=$(ws_version)
    [[ $ws == 8.* ]] || skip "ws@8 is not usable from $modules (found '$ws')"
    peer_cmd=(node "$here/peer.mjs" "$modules")
    peer_name="Node $(node --version) with ws $ws"
    ;;
python)
    python=
    for candidate in "${PYTHON:-python3}" python3 /usr/bin/python3; do
        if "$candidate" -c 'import websockets.legacy.server' 2> /dev/null; then
            python=$candidate
            break
        fi
    done
    [ -n "$python" ] || skip "no python3 can import websockets (Debian: python3-websockets)"
    peer_cmd=("$python" -u "$here/peer.py")
    peer_name="Python $("$python" -c 'import sys, websockets; print(sys.version.split()[0], "with websockets", websockets.__version__)')"
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac
[ -x "$client_bin" ] || { echo "FAIL: $client_bin is not executable"; echo "0 passed, 1 failed"; exit 1; }

work=$(mktemp -d)
peer_pid=
cat_pid=
resume_pid=
cleanup() {
    [ -n "$cat_pid" ] && kill "$cat_pid" 2> /dev/null
    [ -n "$resume_pid" ] && kill "$resume_pid" 2> /dev/null && wait "$resume_pid" 2> /dev/null
    [ -n "$peer_pid" ] && kill "$peer_pid" 2> /dev/null && wait "$peer_pid" 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT
failures=0
passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; passes=$((passes + 1)); }
check() { # CONDITION-STATUS DESCRIPTION: "check $? what" after a test command
    if [ "$1" -eq 0 ]; then pass "$2"; else fail "$2"; fi
}

# --- the peer ----------------------------------------------------------------------------------
mkfifo "$work/peer_out"
"${peer_cmd[@]}" > "$work/peer_out" 2> "$work/peer_err" &
peer_pid=$!
exec 7< "$work/peer_out"
if ! read -r -t 15 -u 7 port || ! [[ $port =~ ^[0-9]+$ ]]; then
    echo "FAIL: the $peer peer did not start: $(cat "$work/peer_err")"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "peer: $peer_name on 127.0.0.1:$port"
base=ws://127.0.0.1:$port

# Reads the peer's events until one contains $1 ($2 times, default once). The lines read are kept
# in $seen for further checks, and all of them in $work/events for the tally at the end.
seen=
peer_until() {
    local line want=${2:-1} n=0
    seen=
    while read -r -t 5 -u 7 line; do
        seen+=$line$'\n'
        printf '%s\n' "$line" >> "$work/events"
        [[ $line == *"$1"* ]] && n=$((n + 1))
        [ "$n" -ge "$want" ] && return 0
    done
    fail "the peer reported '$1' $n times, expected $want; peer stderr: $(cat "$work/peer_err")"
    return 1
}
count_in() { grep -cF -- "$1" <<< "$2"; } # PATTERN TEXT: lines of TEXT containing PATTERN

# --- the library: interop_client, one scenario per run --------------------------------------------
lib() { # NAME URL SCENARIO [N]
    local name=$1
    shift
    timeout 40 "$client_bin" "$@" > "$work/client_out" 2>&1
    local rc=$?
    sed 's/^/    | /' "$work/client_out"
    [ "$rc" -eq 0 ] && pass "library: $name" || fail "library: $name: interop_client exited $rc"
}

lib "close 4003 stops at once with unauthorized" "$base/close/4003/lib" 4003
peer_until '"ev":"end","path":"/close/4003/lib"'

lib "close 4001 is retried 3 times, then session_not_found" "$base/close/4001/lib" 4001
peer_until '"ev":"end","path":"/close/4001/lib"' 4
n=$(count_in '"ev":"open","path":"/close/4001/lib","auth":"Bearer interop-token"' "$seen")
[ "$n" -eq 4 ] && pass "library: the peer saw 4 attempts at /close/4001, each with a bearer token" ||
    fail "library: $n attempts with a token at /close/4001, expected 4: $seen"

lib "headers, 5 messages echoed in order, heartbeat (20 ms) up for 0.5 s, close" "$base/echo/lib" echo 5
peer_until '"ev":"end","path":"/echo/lib"'
[[ $seen == *'"ev":"open","path":"/echo/lib","auth":"Bearer interop-token","custom":"library","ua":"tether/0.1"'* ]]
check $? "library: the peer saw Authorization: Bearer interop-token, X-Interop: library, User-Agent: tether/0.1"
order=$(grep -F '"ev":"recv","path":"/echo/lib"' <<< "$seen" | grep -o '\\"i\\":[0-9]*' | tr -dc '0-9\n' | paste -sd ' ')
[ "$order" = "1 2 3 4 5" ] && pass "library: the peer received messages 1..5 in order" ||
    fail "library: the peer received messages '$order', expected '1 2 3 4 5'"
if [[ $seen =~ \"ev\":\"end\",\"path\":\"/echo/lib\",\"count\":5,\"pings\":([0-9]+),\"code\":1000 ]] &&
    [ "${BASH_REMATCH[1]}" -ge 3 ]; then
    pass "library: the peer answered ${BASH_REMATCH[1]} pings and saw close 1000"
else
    fail "library: expected >= 3 pings answered and close 1000: $(grep -F '"ev":"end"' <<< "$seen")"
fi

lib "permessage-deflate: 5 messages of 16 KiB echoed, heartbeat up, close" "$base/echo/deflate" deflate 5
peer_until '"ev":"end","path":"/echo/deflate"'
[[ $seen == *'"ev":"ext","path":"/echo/deflate","ext":"permessage-deflate"'* ]]
check $? "library: permessage-deflate negotiated when the client offers it"
grep -qF '"ev":"ext","path":"/echo/lib","ext":""' "$work/events"
check $? "library: no extension when the client does not offer one"
n=$(count_in '"ev":"recv","path":"/echo/deflate"' "$seen")
[[ $n -eq 5 && $seen =~ \"ev\":\"end\",\"path\":\"/echo/deflate\",\"count\":5,\"pings\":[0-9]+,\"code\":1000 ]]
check $? "library: the peer inflated 5 messages and saw close 1000 ($n received)"

lib "receives 5 pushed messages in order, then an echo" "$base/push/5/lib" push 5
peer_until '"ev":"end","path":"/push/5/lib"'
[[ $seen == *'"ev":"end","path":"/push/5/lib","count":1,'*'"code":1000'* ]]
check $? "library: the peer saw one message after its pushes, then close 1000"

# --- the library's resume mode against resume_peer.py: nothing lost across reconnects -------------
# The peer (its own process: one session, its own faults) publishes N events and accepts N client
# messages; it aborts the connection once, answers the next upgrade with 503, and reports one
# "done" line of counts when both directions are complete, or when its time bound passes.
resume_scenario() { # N
    local n=$1 rport line report= rc peer_rc verdict
    mkfifo "$work/resume_out"
    "$python" -u "$here/resume_peer.py" "$n" --seconds 45 > "$work/resume_out" 2> "$work/resume_err" &
    resume_pid=$!
    exec 8< "$work/resume_out"
    if ! read -r -t 15 -u 8 rport || ! [[ $rport =~ ^[0-9]+$ ]]; then
        fail "resume: the peer did not start: $(cat "$work/resume_err")"
        exec 8<&-
        return
    fi
    timeout 50 "$client_bin" "ws://127.0.0.1:$rport/resume?session=interop" resume "$n" > "$work/client_out" 2>&1
    rc=$?
    sed 's/^/    | /' "$work/client_out"
    [ "$rc" -eq 0 ] && pass "library: resume: $n messages each way, acknowledged, across an abort and a 503" ||
        fail "library: resume: interop_client exited $rc"
    # A client that succeeded has had its last ack: the peer reports within a few seconds. One that
    # failed may leave the peer waiting: it is given the same few seconds, then stopped.
    while read -r -t 10 -u 8 line; do
        printf '%s\n' "$line" >> "$work/resume_events"
        if [[ $line == *'"ev":"done"'* ]]; then
            report=$line
            break
        fi
    done
    exec 8<&-
    [ -n "$report" ] || kill "$resume_pid" 2> /dev/null
    wait "$resume_pid"
    peer_rc=$?
    resume_pid=
    if [ -z "$report" ]; then
        fail "resume: the peer did not report; its events: $(paste -sd ' ' "$work/resume_events" 2> /dev/null); stderr: $(cat "$work/resume_err")"
        return
    fi
    echo "    peer: $report"
    [ "$peer_rc" -eq 0 ] && pass "resume: the peer saw no violation (exit 0)" || fail "resume: the peer exited $peer_rc"
    verdict=$("$python" - "$n" "$report" << 'PY'
import json, sys
n, r = int(sys.argv[1]), json.loads(sys.argv[2])
checks = {
    "client messages 1..N accepted exactly once, in order": r["accepted"] == n and r["gaps"] == 0
        and r["malformed"] == 0 and not r["violations"],
    "server events 1..N all acknowledged by the client": r["published"] == n and r["client_acked"] == n,
    "an abort, a 503 and >= 3 connection attempts": r["aborted"] >= 1 and r["rejected_503"] >= 1
        and r["connections"] >= 3,
}
for what, ok in checks.items():
    print(("ok " if ok else "FAIL ") + what)
PY
)
    [ -n "$verdict" ] || fail "resume: the peer's report does not parse: $report"
    while read -r line; do
        case $line in
        "ok "*) pass "resume: ${line#ok }" ;;
        *) fail "resume: ${line#FAIL }: $report" ;;
        esac
    done <<< "$verdict"
}
if [ "$peer" = python ]; then
    resume_scenario 300
fi

# --- the CLI: tether-cat ---------------------------------------------------------------------------
cat_events() { grep -F "\"event\":\"$1\"" < "$work/err"; }
if [ "$cat_bin" = none ]; then
    echo "note: tether-cat was not built (-Dtools=false); its interop checks are not run"
else
    # tether-cat's stdin stays open (a FIFO nobody writes) while the policy decides.
    mkfifo "$work/hold"
    exec 5<> "$work/hold"

    timeout 10 "$cat_bin" --token-command 'echo cat-token' "$base/close/4003/cat" < "$work/hold" > /dev/null 2> "$work/err"
    rc=$?
    [ "$rc" -eq 4 ] && pass "tether-cat: close 4003 exits 4" || fail "tether-cat: close 4003: exit $rc, expected 4: $(cat "$work/err")"
    [ -z "$(cat_events reconnecting)" ] && [[ $(cat_events closed) == *'"code":4003'* ]]
    check $? "tether-cat: close 4003 is not retried and is reported closed with 4003"
    peer_until '"ev":"end","path":"/close/4003/cat"'

    timeout 10 "$cat_bin" --token-command 'echo cat-token' --reconnect-delay 10 "$base/close/4001/cat" \
        < "$work/hold" > /dev/null 2> "$work/err"
    rc=$?
    [ "$rc" -eq 3 ] && pass "tether-cat: close 4001 gives up with exit 3" || fail "tether-cat: close 4001: exit $rc, expected 3: $(cat "$work/err")"
    retries=$(cat_events reconnecting | grep -F '"code":4001' | grep -o '"attempt":[0-9]*,"delay_ms":[0-9]*' | paste -sd ' ')
    # 10, 20, 30 ms, each spread by the seed policy's jitter of up to 10 %.
    [[ $retries =~ ^'"attempt":2,"delay_ms":'(9|10|11)' "attempt":3,"delay_ms":'(1[89]|2[012])' "attempt":4,"delay_ms":'(2[7-9]|3[0-3])$ ]] &&
        pass "tether-cat: 3 reconnecting events on close 4001, after 10, 20, 30 ms +-10 % (2 s x n scaled)" ||
        fail "tether-cat: reconnecting events: '$retries'; stderr: $(cat "$work/err")"
    peer_until '"ev":"end","path":"/close/4001/cat"' 4
    n=$(count_in '"ev":"open","path":"/close/4001/cat","auth":"Bearer cat-token"' "$seen")
    [ "$n" -eq 4 ] && pass "tether-cat: the peer saw 4 attempts at /close/4001, each with a bearer token" ||
        fail "tether-cat: $n attempts with a token at /close/4001, expected 4: $seen"
    exec 5<&-

    # An interactive run: stdin and stdout are FIFOs the checks write and read, a line at a time.
    start_cat() {
        rm -f "$work/in" "$work/out_pipe"
        mkfifo "$work/in" "$work/out_pipe"
        timeout 20 "$cat_bin" "$@" < "$work/in" > "$work/out_pipe" 2> "$work/err" &
        cat_pid=$!
        exec 3> "$work/in" 4< "$work/out_pipe"
    }
    reply=
    # A line exactly as printed (IFS= keeps its spaces); long ones (100 KiB of base64) take a while.
    cat_reads() { IFS= read -r -t 10 -u 4 reply || reply="(nothing within 10 s)"; }
    stop_cat() { # closes stdin, waits for the exit: tether-cat flushes, closes with 1000, exits 0
        exec 3>&-
        wait "$cat_pid"
        rc=$?
        cat_pid=
        exec 4<&-
        [ "$rc" -eq 0 ] && pass "tether-cat: $1: end of input closes, exit 0" || fail "tether-cat: $1: exit $rc: $(cat "$work/err")"
    }

    start_cat "$base/push/3/cat"
    got=
    for i in 1 2 3; do
        cat_reads
        got+="$reply "
    done
    [ "$got" = '{"type":"push","i":1} {"type":"push","i":2} {"type":"push","i":3} ' ] &&
        pass "tether-cat: prints the peer's 3 pushed messages in order" || fail "tether-cat: pushed messages: $got"
    echo '{"type":"after-push"}' >&3
    cat_reads
    [ "$reply" = '{"type":"after-push"}' ] && pass "tether-cat: a line after the pushes is echoed" || fail "tether-cat: echo after push: '$reply'"
    stop_cat "push"
    peer_until '"ev":"end","path":"/push/3/cat"'
    [[ $seen == *'"ev":"end","path":"/push/3/cat","count":1,'*'"code":1000'* ]]
    check $? "tether-cat: the peer saw one message after its pushes, then close 1000"

    start_cat --token-command 'echo " cat-token "' --header 'X-Interop: cat' --ping-interval 20 --pong-timeout 100 "$base/echo/cat"
    peer_until '"ev":"open","path":"/echo/cat"'
    [[ $seen == *'"ev":"open","path":"/echo/cat","auth":"Bearer cat-token","custom":"cat","ua":"tether/0.1"'* ]]
    check $? "tether-cat: the peer saw Authorization: Bearer cat-token and X-Interop: cat"
    echo '{"type":"interop","text":"café \"q\" \\","n":1}' >&3
    cat_reads
    [ "$reply" = '{"type":"interop","text":"café \"q\" \\","n":1}' ] && pass "tether-cat: a message round-trips" ||
        fail "tether-cat: round trip: '$reply'"
    peer_until '"ev":"recv","path":"/echo/cat"'
    [[ $seen == *'"msg":"{\"type\":\"interop\",\"text\":\"café \\\"q\\\" \\\\\",\"n\":1}"'* ]]
    check $? "tether-cat: the peer received the line byte for byte"
    echo '{"type":"second","n":2}' >&3
    cat_reads
    [ "$reply" = '{"type":"second","n":2}' ] && pass "tether-cat: a second message round-trips" ||
        fail "tether-cat: second round trip: '$reply'"
    # tether pings 20 ms after the previous pong deadline (100 ms), so 8 pings on this one
    # connection take about 1 s, each answered within the deadline or the link would be replaced.
    if peer_until '"ev":"ping","path":"/echo/cat","n":8}'; then
        pass "tether-cat: the peer answered 8 heartbeat pings (20 ms + 100 ms deadline) on one connection"
    fi
    stop_cat "heartbeat"
    peer_until '"ev":"end","path":"/echo/cat"'
    [[ $seen == *'"ev":"end","path":"/echo/cat","count":2,'*'"code":1000'* ]]
    check $? "tether-cat: the peer saw 2 messages, then close 1000"
    [ "$(cat_events connected | wc -l)" -eq 1 ] && [ -z "$(cat_events reconnecting)" ] &&
        ! grep -qi heartbeat "$work/err"
    check $? "tether-cat: one connection throughout, no reconnect, no heartbeat timeout"

    # --- the JSON layer and binary frames: a naive echo server --------------------------------------
    # `ws.on('message', m => ws.send(m))` echoes text as binary (ws 8 hands out Buffers): JSON mode
    # prints the echo all the same, and ignores nothing.
    start_cat "$base/naive/cat"
    cat_reads
    [ "$reply" = '{"type":"hello"}' ] && pass "tether-cat: the naive echo's hello is printed" || fail "tether-cat: hello: '$reply'"
    echo '{"type":"user","text":"hi"}' >&3
    cat_reads
    [ "$reply" = '{"type":"user","text":"hi"}' ] &&
        pass "tether-cat: JSON mode prints the echo that came back in a binary frame (the naive echo)" ||
        fail "tether-cat: the naive echo: '$reply'; stderr: $(cat "$work/err")"
    stop_cat "naive echo"
    [ -z "$(cat_events ignored)" ] && [ -z "$(cat_events error)" ]
    check $? "tether-cat: the naive echo: nothing ignored, nothing reported, no 'ignored' line at exit"
    peer_until '"ev":"end","path":"/naive/cat"'
    [[ $seen == *'"ev":"recv","path":"/naive/cat","msg":"{\"type\":\"user\",\"text\":\"hi\"}"'* ]]
    check $? "tether-cat: the naive echo: the peer received the line as a text frame"

    # A typed JSON file sent with --send-file goes out binary, and comes back binary from /echo.
    printf '{"type":"file","n":1}' > "$work/typed.json"
    start_cat --send-file "$work/typed.json" "$base/echo/jsonfile"
    cat_reads
    [ "$reply" = '{"type":"file","n":1}' ] && pass "tether-cat: JSON mode prints a typed object echoed in a binary frame" ||
        fail "tether-cat: --send-file in JSON mode: '$reply'; stderr: $(cat "$work/err")"
    stop_cat "--send-file in JSON mode"
    peer_until '"ev":"end","path":"/echo/jsonfile"'
    [[ $seen == *"\"ev\":\"recv_binary\",\"path\":\"/echo/jsonfile\",\"size\":21,\"sha256\":\"$(sha256sum < "$work/typed.json" | cut -d' ' -f1)\""* ]]
    check $? "tether-cat: --send-file: the peer received the file as one binary message"

    # --- --text: lines as they are, both ways -------------------------------------------------------
    start_cat --text "$base/echo/text"
    for line in 'plain text, not JSON: {"a"' 'café "q" \' '' ':interrupt' '  spaced  '; do
        printf '%s\n' "$line" >&3
        cat_reads
        [ "$reply" = "$line" ] && pass "tether-cat --text: '$line' goes out and comes back as it is" ||
            fail "tether-cat --text: '$line' came back as '$reply'"
    done
    printf 'not \xff UTF-8\n' >&3 # line 6
    echo after >&3
    cat_reads
    [ "$reply" = after ] && pass "tether-cat --text: a line that is not UTF-8 is not sent, the next one is" ||
        fail "tether-cat --text: after the line that is not UTF-8: '$reply'"
    stop_cat "--text"
    [[ $(cat_events error) == *'line 6: not UTF-8, not sent'* ]]
    check $? "tether-cat --text: the line that is not UTF-8 is reported by its number"
    peer_until '"ev":"end","path":"/echo/text"'
    [[ $seen == *'"ev":"recv","path":"/echo/text","msg":""'* && $seen == *'"ev":"recv","path":"/echo/text","msg":":interrupt"'* &&
        $seen == *'"ev":"end","path":"/echo/text","count":6,'*'"code":1000'* ]]
    check $? "tether-cat --text: the peer received 6 text messages (a blank one, ':interrupt' as it is), then close 1000"

    # --- --binary: base64 lines, both ways -----------------------------------------------------------
    start_cat --binary "$base/echo/binary"
    for line in AP8Q '' aGVsbG8=; do # 00 FF 10, nothing, "hello"
        printf '%s\n' "$line" >&3
        cat_reads
        [ "$reply" = "$line" ] && pass "tether-cat --binary: '$line' goes out binary and comes back in base64" ||
            fail "tether-cat --binary: '$line' came back as '$reply'"
    done
    printf 'not base64!\nZm8=x\n' >&3 # lines 4 and 5
    printf '  ZW5k \n' >&3            # "end"; the spaces around are not base64's
    cat_reads
    [ "$reply" = ZW5k ] && pass "tether-cat --binary: invalid base64 lines are not sent, the next one is" ||
        fail "tether-cat --binary: after the invalid lines: '$reply'"
    stop_cat "--binary"
    [[ $(cat_events error) == *'line 4: invalid base64, not sent'*'line 5: invalid base64, not sent'* ]]
    check $? "tether-cat --binary: the invalid base64 lines are reported by their numbers"
    peer_until '"ev":"end","path":"/echo/binary"'
    [[ $seen == *"\"ev\":\"recv_binary\",\"path\":\"/echo/binary\",\"size\":3,\"sha256\":\"$(printf '\x00\xff\x10' | sha256sum | cut -d' ' -f1)\""* &&
        $seen == *"\"ev\":\"recv_binary\",\"path\":\"/echo/binary\",\"size\":0,"* &&
        $seen == *'"ev":"end","path":"/echo/binary","count":4,'*'"code":1000'* ]]
    check $? "tether-cat --binary: the peer received 4 binary messages with the decoded bytes, then close 1000"

    # --- --send-file: a file as one binary message ---------------------------------------------------
    head -c 102400 /dev/urandom > "$work/blob"
    start_cat --binary --send-file "$work/blob" "$base/echo/file"
    cat_reads
    printf '%s' "$reply" | base64 -d > "$work/blob_back" 2> /dev/null && cmp -s "$work/blob" "$work/blob_back"
    check $? "tether-cat --send-file: 100 KiB go out as one binary message, and the echo comes back whole in base64"
    stop_cat "--send-file"
    peer_until '"ev":"end","path":"/echo/file"'
    [[ $seen == *"\"ev\":\"recv_binary\",\"path\":\"/echo/file\",\"size\":102400,\"sha256\":\"$(sha256sum < "$work/blob" | cut -d' ' -f1)\""* &&
        $seen == *'"ev":"end","path":"/echo/file","count":1,'*'"code":1000'* ]]
    check $? "tether-cat --send-file: the peer received the file, byte for byte, as one message"

    printf '{"type":"stdin"}' | timeout 10 "$cat_bin" --send-file - "$base/echo/stdin" > /dev/null 2> "$work/err"
    rc=$?
    [ "$rc" -eq 0 ] && pass "tether-cat --send-file -: stdin goes out, then the end of input closes, exit 0" ||
        fail "tether-cat --send-file -: exit $rc: $(cat "$work/err")"
    peer_until '"ev":"end","path":"/echo/stdin"'
    [[ $seen == *"\"ev\":\"recv_binary\",\"path\":\"/echo/stdin\",\"size\":16,\"sha256\":\"$(printf '{"type":"stdin"}' | sha256sum | cut -d' ' -f1)\""* ]]
    check $? "tether-cat --send-file -: the peer received all of stdin as one binary message"

    # --- what each mode ignores, and says so: /mixed sends one message of each sort ------------------
    # After the expected lines, one line of our own and its echo: it comes after every message of
    # /mixed, so all of them have been handled when it is printed.
    mixed() { # SYNC-LINE EXPECTED-LINES...: reads the expected lines, then syncs; $got has them
        local sync=$1 i
        shift
        got=
        for ((i = 1; i <= $#; i++)); do
            cat_reads
            got+="$reply|"
        done
        printf '%s\n' "$sync" >&3
        cat_reads
        [ "$reply" = "$sync" ] || fail "tether-cat: /mixed: the sync line came back as '$reply'"
        want=$(printf '%s|' "$@")
    }
    stats_check() { # PYTHON-ASSERTIONS on s (the stats) and h (the history) of the last stats line
        local line
        line=$(cat_events stats | tail -n 1)
        "$json_python" - "$line" "$1" << 'PY'
import json, sys
e = json.loads(sys.argv[1])
s, h = e["stats"], e["history"]
exec(sys.argv[2])
PY
    }
    json_python=
    for candidate in "${PYTHON:-python3}" python3 /usr/bin/python3; do
        if "$candidate" -c 'import json' 2> /dev/null; then json_python=$candidate; break; fi
    done

    start_cat --stats "$base/mixed/json"
    mixed '{"type":"sync"}' '{"type":"mixed","i":1}' '{"type":"mixed","i":4}'
    [ "$got" = "$want" ] && pass "tether-cat: JSON mode prints the typed objects of text and binary frames, nothing else" ||
        fail "tether-cat: /mixed in JSON mode printed '$got', expected '$want'"
    stop_cat "/mixed in JSON mode"
    [ "$(cat_events ignored)" = '{"event":"ignored","count":5,"reasons":{"untyped_json":1,"malformed_json":2,"binary_not_typed_json":2}}' ]
    check $? "tether-cat: JSON mode reports at exit 5 ignored: 1 untyped JSON text, 2 not JSON, 2 binary ($(cat_events ignored))"
    [ "$(cat_events error | grep -c 'malformed JSON message skipped')" -eq 2 ] &&
        [ "$(cat_events error | grep -c 'binary message skipped: not JSON')" -eq 1 ] &&
        [ "$(cat_events error | grep -c 'binary message skipped: JSON, but not an object')" -eq 1 ]
    check $? "tether-cat: JSON mode reports each text that is not JSON and each skipped binary message as it comes"
    stats_check '
assert s["messages_received"] == 3 and s["messages_sent"] == 1, s
assert s["messages_ignored"] == 1 and s["messages_malformed"] == 2 and s["messages_binary_skipped"] == 2, s
assert s["connections"] == 1 and s["attempts"] == 1 and s["bytes_received"] > 0 and s["bytes_sent"] > 0, s
assert len(h) == 1 and h[0]["attempt"] == 1 and h[0]["connected"] and h[0]["ended"] and h[0]["healthy"], h
assert h[0]["delay_ms"] is None and h[0]["messages_sent"] == 1, h
'
    check $? "tether-cat --stats: the counters (the JSON layer's skips by reason) and one connection in the history"
    peer_until '"ev":"end","path":"/mixed/json"'

    start_cat --text "$base/mixed/text"
    mixed sync '{"type":"mixed","i":1}' '[1,2]' 'not json'
    [ "$got" = "$want" ] && pass "tether-cat --text: every text message without a newline is printed as it is" ||
        fail "tether-cat --text: /mixed printed '$got', expected '$want'"
    stop_cat "/mixed with --text"
    [ "$(cat_events ignored)" = '{"event":"ignored","count":4,"reasons":{"binary_in_text_mode":3,"newline_in_text":1}}' ]
    check $? "tether-cat --text: reports at exit 4 ignored: 3 binary, 1 with a newline ($(cat_events ignored))"
    [ "$(cat_events error | grep -c 'binary message of [0-9]* bytes not printed')" -eq 3 ] &&
        [ "$(cat_events error | grep -c 'text message of 9 bytes not printed: --text refuses a text message with a newline')" -eq 1 ]
    check $? "tether-cat --text: reports each message it does not print as it comes"
    peer_until '"ev":"end","path":"/mixed/text"'

    start_cat --binary --stats "$base/mixed/binary"
    mixed c3luYw== "$(printf '{"type":"mixed","i":4}' | base64 -w0)" AP8Q "$(printf '[4,5]' | base64 -w0)"
    [ "$got" = "$want" ] && pass "tether-cat --binary: every binary message is printed in base64" ||
        fail "tether-cat --binary: /mixed printed '$got', expected '$want'"
    stop_cat "/mixed with --binary"
    [ "$(cat_events ignored)" = '{"event":"ignored","count":4,"reasons":{"text_in_binary_mode":4}}' ]
    check $? "tether-cat --binary: reports at exit 4 text messages ignored ($(cat_events ignored))"
    stats_check '
assert s["messages_received"] == 8 and s["messages_sent"] == 1, s
assert s["messages_ignored"] == 0 and s["messages_malformed"] == 0 and s["messages_binary_skipped"] == 0, s
assert s["connections"] == 1 and len(h) == 1 and h[0]["healthy"], (s, h)
'
    check $? "tether-cat --stats with --binary: all 8 messages received, none skipped by a JSON layer, one connection"
    peer_until '"ev":"end","path":"/mixed/binary"'
fi

# --- the tally: every client has exited and the peer reported each connection's end, so the log
# holds every connection made; a retry that should not have happened would show here. ------------
tally=$(grep -o '"ev":"open","path":"[^"]*"' "$work/events" | sed 's/.*"path":"//; s/"$//' | LC_ALL=C sort | uniq -c |
    awk '{ printf "%s%s=%s", sep, $2, $1; sep = " " }')
expected="/close/4001/lib=4 /close/4003/lib=1 /echo/deflate=1 /echo/lib=1 /push/5/lib=1"
[ "$cat_bin" = none ] ||
    expected="/close/4001/cat=4 /close/4001/lib=4 /close/4003/cat=1 /close/4003/lib=1 /echo/binary=1 /echo/cat=1 /echo/deflate=1 /echo/file=1 /echo/jsonfile=1 /echo/lib=1 /echo/stdin=1 /echo/text=1 /mixed/binary=1 /mixed/json=1 /mixed/text=1 /naive/cat=1 /push/3/cat=1 /push/5/lib=1"
[ "$tally" = "$expected" ] && pass "connections per path as expected: $tally" ||
    fail "connections per path: $tally; expected $expected"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
