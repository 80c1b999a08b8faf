#!/usr/bin/env bash
# End-to-end checks of tether-cat against a python3-websockets peer on 127.0.0.1.
# Usage: test_cli.sh PATH/TO/tether-cat [PKI-DIR]. With the test PKI (tests/tls), wss:// is
# checked too. Exits 77 (skip) when python3 cannot import websockets.
# The peer reports what it sees as JSON lines on a pipe; the checks block on that pipe and on the
# tool's exit (each run bounded by `timeout`), never on sleeps.
set -u

cat_bin=${1:?usage: test_cli.sh PATH/TO/tether-cat [PKI-DIR]}
pki=${2:-}
python=
for candidate in "${PYTHON:-python3}" python3 /usr/bin/python3; do
    if "$candidate" -c 'import websockets' 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "SKIP: python3 websockets is not available"; exit 77; }

work=$(mktemp -d)
tls_pids=()
trap 'kill "$server_pid" "${tls_pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
failures=0
passes=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; passes=$((passes + 1)); }

# The peer. By path: /close/CODE closes at once with CODE, /reject/STATUS answers the upgrade
# with STATUS, anything else echoes. Prints its port, then one line per event; /burst reports only
# a count at the end, so that a pipe nobody reads meanwhile cannot stall it.
cat > "$work/peer.py" <<'EOF'
import asyncio, http, json, ssl, sys
import websockets

def report(**event):
    print(json.dumps(event), flush=True)

async def process_request(path, headers):
    report(ev="open", path=path, auth=headers.get("Authorization"), version=headers.get("anthropic-version"),
           test=headers.get("X-Test"))
    if path.startswith("/reject/"):
        return (http.HTTPStatus(int(path.split("/")[2])), [], b"rejected\n")
    return None

async def handler(ws, path):
    if path.startswith("/close/"):
        await ws.close(int(path.split("/")[2]), "bye")
        report(ev="end", path=path)
        return
    count, last = 0, None
    async for msg in ws:
        count, last = count + 1, msg
        if path != "/burst":
            report(ev="recv", msg=msg)
        try:
            await ws.send(msg)
        except websockets.ConnectionClosed:
            pass  # the client closed; still report the rest of what it sent
    report(ev="end", path=path, count=count, last=last)

async def main():
    tls = None
    if len(sys.argv) == 3:  # certificate and key: serve wss://
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[1], sys.argv[2])
    async with websockets.serve(handler, "127.0.0.1", 0, process_request=process_request, ssl=tls) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
EOF
mkfifo "$work/peer_out"
"$python" -u "$work/peer.py" > "$work/peer_out" &
server_pid=$!
exec 7< "$work/peer_out"
read -r -t 10 -u 7 port || { echo "FAIL: the peer did not start"; exit 1; }
base=ws://127.0.0.1:$port

# Reads the peer's events until one contains $1; they are kept in $seen for further checks.
seen=
peer_until() {
    local line
    seen=
    while read -r -t 5 -u 7 line; do
        seen+=$line$'\n'
        [[ $line == *"$1"* ]] && return 0
    done
    fail "the peer never reported '$1'"
    return 1
}

# Runs tether-cat with the given arguments and stdin from $stdin; sets $rc, $out and $err.
stdin=/dev/null
run() {
    timeout 10 "$cat_bin" "$@" < "$stdin" > "$work/out" 2> "$work/err"
    rc=$?
    out=$(cat "$work/out")
    err=$(cat "$work/err")
}
expect_rc() { [ "$rc" -eq "$1" ] && pass "$2" || fail "$2: exit $rc, expected $1; stderr: $err"; }

# --- usage -----------------------------------------------------------------------------------------
run; expect_rc 2 "missing URL is a usage error"
run --bogus "$base/"; expect_rc 2 "an unknown option is a usage error"
run --ping-interval abc "$base/"; expect_rc 2 "a bad number is a usage error"
[[ $err == *--ping-interval* ]] || fail "the number error names the option: $err"
run --reconnect-delay 0 "$base/"; expect_rc 2 "an invalid configuration is a usage error"
run http://127.0.0.1/; expect_rc 2 "a non-WebSocket URL is a usage error"
run --help; expect_rc 0 "--help succeeds"
[[ $out == usage:* ]] || fail "--help prints the usage to stdout"
[[ $out == *--text*--binary*--send-file*'"event":"ignored"'* ]] || fail "--help describes the modes and the ignored report"
run --text --binary "$base/"; expect_rc 2 "--text and --binary together are a usage error"
[[ $err == *'--text and --binary exclude each other'* ]] || fail "the conflict is named: $err"
run --send-file "$work/no-such-file" "$base/"; expect_rc 2 "an unreadable --send-file is a configuration error"
[[ $err == *"cannot open $work/no-such-file"* ]] || fail "the unreadable file is named: $err"

# --- round trip, invalid lines, :interrupt, end of input ---------------------------------------------
mkfifo "$work/in" "$work/out_pipe"
timeout 10 "$cat_bin" --token-command 'echo " s3cr3t-tok "' --header 'X-Test: yes' "$base/echo" \
    < "$work/in" > "$work/out_pipe" 2> "$work/err" &
cat_pid=$!
exec 3> "$work/in" 4< "$work/out_pipe"
peer_until '"ev": "open", "path": "/echo"'
[[ $seen == *'"auth": "Bearer s3cr3t-tok"'* ]] || fail "the token command's trimmed output is the bearer token: $seen"
[[ $seen == *'"test": "yes"'* ]] || fail "--header is sent: $seen"
echo '{"type":"hello","text":"caf\u00e9 \"q\""}' >&3
read -r -t 5 -u 4 reply
[ "$reply" = '{"type":"hello","text":"café \"q\""}' ] && pass "a message round-trips" || fail "round trip: '$reply'"
printf 'not json\n\n:interrupt\n' >&3
read -r -t 5 -u 4 reply
[[ $reply == *'"type":"control_request"'*'"request":{"subtype":"interrupt"}'* ]] &&
    pass ":interrupt sends a control request" || fail ":interrupt: '$reply'"
printf '{"type":"last","n":1}\n' >&3
exec 3>&-
wait "$cat_pid"; rc=$?; err=$(cat "$work/err")
expect_rc 0 "end of input closes and exits 0"
peer_until '"ev": "end", "path": "/echo"'
[[ $seen == *'\"type\":\"last\"'* ]] || fail "the last line is sent before the close: $seen"
[[ $seen == *'not json'* ]] && fail "an invalid line is not sent"
[[ $err == *'"event":"error"'*'line 2'* ]] || fail "an invalid line is reported: $err"
[[ $err == *'"event":"closed","reason":"closed by us","code":1000'* ]] || fail "the close is reported: $err"
[[ $err == *s3cr3t* ]] && fail "the token appears on stderr"
exec 4<&-

# --- a burst from a file: all of it, in order, before the close ------------------------------------
for i in $(seq 1 2000); do echo "{\"type\":\"n\",\"i\":$i}"; done > "$work/burst"
stdin=$work/burst run "$base/burst"
expect_rc 0 "a burst is sent and closed"
peer_until '"ev": "end", "path": "/burst"'
[[ $seen == *'"count": 2000, "last": "{\"type\":\"n\",\"i\":2000}"'* ]] &&
    pass "all 2000 burst lines arrive, the last one last" || fail "burst: $seen"

# --- sessions URL and header -----------------------------------------------------------------------
printf '{"type":"x"}\n' > "$work/one"
stdin=$work/one run --session 'se/1' --org org-1 --token-command 'echo tok' "http://127.0.0.1:$port"
expect_rc 0 "sessions mode connects"
peer_until '"ev": "open", "path": "/v1/sessions/'
[[ $seen == *'"path": "/v1/sessions/ws/se%2F1/subscribe?organization_uuid=org-1"'* ]] || fail "sessions path: $seen"
[[ $seen == *'"version": "2023-06-01"'* ]] || fail "anthropic-version header: $seen"
peer_until '"ev": "end", "path": "/v1/sessions/'

# --- endings decided by the policy (stdin stays open meanwhile) ------------------------------------
mkfifo "$work/hold"
exec 5<> "$work/hold"
stdin=$work/hold

run "$base/close/4003"
expect_rc 4 "close 4003 is permanent"
[[ $err == *'"event":"closed"'*'"code":4003'* ]] || fail "4003 closed event: $err"

run "$base/reject/401"
expect_rc 4 "HTTP 401 is permanent"

run --reconnect-delay 10 "$base/close/1011"
expect_rc 3 "repeated 1011 closes exhaust the seed policy"
n=$(grep -c '"event":"reconnecting"' <<< "$err")
[ "$n" -eq 5 ] && pass "5 retries before giving up" || fail "$n reconnecting events, expected 5: $err"
# The seed policy spreads each delay by up to 10 %.
[[ $err =~ '"event":"reconnecting","attempt":2,"delay_ms":'(9|10|11)','.*'"code":1011' ]] || fail "reconnecting event: $err"

run --stats --reconnect-delay 10 "$base/close/1011"
expect_rc 3 "--stats: the policy gives up as before"
stats_line=$(tail -n 1 <<< "$err")
if "$python" - "$stats_line" << 'EOF'; then pass "--stats prints the counters and the history as JSON on exit"; else fail "--stats: $stats_line"; fi
import json, sys
e = json.loads(sys.argv[1])
assert e["event"] == "stats", e
s, h = e["stats"], e["history"]
assert s["attempts"] == 6 and s["connections"] == 6, s
assert s["bytes_received"] > 0 and s["bytes_sent"] > 0, s
assert len(h) == 6, h
assert [r["attempt"] for r in h] == [1, 2, 3, 4, 5, 6], h
assert all(r["why"]["close_code"] == 1011 and r["connected"] and r["ended"] >= r["started"] for r in h), h
assert all(r["delay_ms"] in (9, 10, 11) for r in h[:-1]) and h[-1]["delay_ms"] is None, h
EOF

run --policy never --token-command 'echo s3cr3t; exit 3' "$base/echo"
expect_rc 3 "a failing token command fails the attempt"
[[ $err == *'token command exited with status 3'* ]] || fail "token failure reported: $err"
[[ $err == *s3cr3t* ]] && fail "the token command's output appears on stderr"
exec 5<&-

# --- wss:// with the test PKI: a verified round trip; refused certificates exit 4 and say why -------
if [ -n "$pki" ]; then
    # Starts a TLS peer with certificate $1 and sets $tls_port; its events go to a file.
    start_tls_peer() {
        local fifo=$work/tls_$1
        mkfifo "$fifo"
        "$python" -u "$work/peer.py" "$pki/$1.pem" "$pki/$1.key" > "$fifo" &
        tls_pids+=($!)
        exec 6< "$fifo"
        tls_port=
        read -r -t 10 -u 6 tls_port || fail "the TLS peer ($1) did not start"
        cat <&6 > "$work/tls_$1.log" &  # drain its events
        exec 6<&-
    }
    stdin=$work/one
    start_tls_peer server
    mkfifo "$work/tls_in" "$work/tls_out"
    timeout 10 "$cat_bin" --cafile "$pki/ca.pem" --token-command 'echo tls-s3cr3t' "wss://127.0.0.1:$tls_port/echo" \
        < "$work/tls_in" > "$work/tls_out" 2> "$work/err" &
    cat_pid=$!
    exec 3> "$work/tls_in" 4< "$work/tls_out"
    echo '{"type":"x"}' >&3
    reply=
    read -r -t 5 -u 4 reply
    exec 3>&-
    wait "$cat_pid"; rc=$?; err=$(cat "$work/err")
    exec 4<&-
    expect_rc 0 "wss:// with --cafile connects and closes"
    [ "$reply" = '{"type":"x"}' ] && pass "a message round-trips over wss://" || fail "wss:// echo: '$reply'"
    run --policy never "wss://127.0.0.1:$tls_port/echo"
    expect_rc 4 "an untrusted certificate is permanent"
    [[ $err == *'not trusted'* ]] || fail "the untrusted certificate is named: $err"
    start_tls_peer expired
    run --cafile "$pki/ca.pem" --token-command 'echo tls-s3cr3t' "wss://127.0.0.1:$tls_port/echo"
    expect_rc 4 "an expired certificate is permanent"
    [[ $err == *'expired'* ]] || fail "the expiry is named: $err"
    [[ $err == *s3cr3t* ]] && fail "the token appears on stderr"
    run --cert "$pki/client.pem" "wss://127.0.0.1:$tls_port/"
    expect_rc 2 "--cert without --key is a usage error"
    [[ $err == *'tls.key_file'* ]] || fail "the missing key is named: $err"
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
