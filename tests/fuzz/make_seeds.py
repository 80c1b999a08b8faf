#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into corpus/<target>/ (committed; rerun after a
change here). Each seed is a small, meaningful input the fuzzer mutates from."""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def frame(op, payload=b"", fin=True, rsv=0, length=None, mask=None):
    """A WebSocket frame as a server writes it (unmasked unless `mask` is given)."""
    n = len(payload) if length is None else length
    out = bytes([(0x80 if fin else 0) | (rsv << 4) | op])
    m = 0x80 if mask is not None else 0
    if n < 126:
        out += bytes([m | n])
    elif n <= 0xFFFF:
        out += bytes([m | 126]) + struct.pack(">H", n)
    else:
        out += bytes([m | 127]) + struct.pack(">Q", n)
    if mask is not None:
        key = struct.pack(">I", mask)
        out += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return out + payload


def text(s, fin=True):
    return frame(1, s.encode() if isinstance(s, str) else s, fin)


def cont(s, fin):
    return frame(0, s.encode() if isinstance(s, str) else s, fin)


def close(code, reason=b""):
    return frame(8, struct.pack(">H", code) + reason)


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


msg = '{"type":"assistant","message":{"content":"hi"}}'
ok101 = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n")

# --- message_adapter: JSON texts, NUL-separated when several -------------------------------------
adapter = {
    "assistant": msg,
    "control_response": '{"type":"control_response","response":{"subtype":"success","request_id":"5f2b-1"}}',
    "control_request": '{"type":"control_request","request_id":"abc","request":{"subtype":"interrupt"}}',
    "untyped": '{"kind":"x","n":[1,2.5,-3e10,true,false,null]}',
    "type_not_string": '{"type":1}',
    "array": '[{"type":"x"},"y",{}]',
    "scalar": '"type"',
    "malformed": '{"type":"x"',
    "unicode": '{"type":"u","s":"\\u00e9\\ud83d\\ude00 κόσμε 𝄞"}',
    "deep": '{"type":"d","a":' + "[" * 40 + "]" * 40 + "}",
    "numbers": '{"type":"n","a":18446744073709551615,"b":-9223372036854775808,"c":1e308,"d":0.1e-320}',
    "several": msg + "\0" + "not json" + "\0" + '{"type":"control_response","response":{"request_id":"r"}}',
}
for name, s in adapter.items():
    write("message_adapter", name, s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s)

# --- upgrade_response: the server's bytes after the request --------------------------------------
upgrade = {
    "101": ok101,
    "101_then_frames": ok101 + text(msg) + frame(9, b"ping") + close(1000, b"bye"),
    "101_bad_accept": ok101.replace(b"{ACCEPT}", b"dGhlIHNhbXBsZSBub25jZQ=="),
    "101_no_upgrade": b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n",
    "401": b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
    "403_body": b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden",
    "404": b"HTTP/1.1 404 Not Found\r\n\r\n",
    "429_retry": b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n",
    "503_date": b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n\r\n",
    "503_chunked": b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\nRetry-After:  7 \r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "200": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "http10": b"HTTP/1.0 302 Found\r\nLocation: /elsewhere\r\n\r\n",
    "truncated": b"HTTP/1.1 101 Switching Proto",
    "garbage": b"\x00\xff\r\n\r\nHTTP",
}
for name, b in upgrade.items():
    write("upgrade_response", name, b)

# --- read_path: a mode byte (see fuzz_read_path.cpp), then the frames -----------------------------
read = {
    "text": (0, text(msg)),
    "fragmented_ping": (0, text(msg[:10], False) + frame(9, b"p") + cont(msg[10:], True)),
    "close_reason": (0, text(msg) + close(4001, b"session not found")),
    "echo_many": (4, text(msg) * 5 + close(1000)),
    "receive_paused": (1 | 8, text(msg) * 4),
    "too_big": (2, text('{"type":"x","pad":"' + "a" * 300 + '"}')),
    "huge_header": (2, frame(1, b"{", length=1 << 62)),
    "bad_utf8": (0, text(b'{"type":"\xc0\xaf"}')),
    "reserved": (0, frame(1, b"{}", rsv=4) + frame(3, b"")),
    "masked": (0, frame(1, msg.encode(), mask=0x12345678)),
    "binary_pong": (0, frame(2, b"\x00\x01") + frame(10, b"unsolicited") + text(msg)),
    "heartbeat": (16, text(msg)),
    "bad_close": (0, frame(8, b"\x03")),
    "everything": (1 | 4, text(msg[:5], False) + frame(9, b"a") + cont(msg[5:], True) + frame(2, b"b") + close(1001, b"\xce\xba")),
}
for name, (mode, b) in read.items():
    write("read_path", name, bytes([mode]) + b)
