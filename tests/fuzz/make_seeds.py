#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into corpus/<target>/ (committed; rerun after a
change here). Each seed is a small, meaningful input the fuzzer mutates from. Deterministic: the
same bytes every run (zlib's output for a given input and level does not change)."""
import os
import struct
import zlib

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

# --- the codec targets: server bytes after the upgrade -------------------------------------------


def deflated(data):
    """A permessage-deflate payload (RFC 7692 7.2.1): raw deflate, sync-flushed, tail removed."""
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def binary(b, fin=True):
    return frame(2, b, fin)


def cut_header(op, n):
    """A frame header announcing n bytes, forced into the 64-bit form, with no payload."""
    return bytes([0x80 | op, 127]) + struct.pack(">Q", n)


streams = {
    "text": text(msg),
    "fragments_and_controls": text(msg[:10], False) + frame(9, b"p") + cont(msg[10:20], False) + frame(10, b"")
    + cont(msg[20:], True) + binary(b"\x00\xff" * 40),
    "close_reason": text(msg) + close(4001, b"session not found") + text("ignored after the close"),
    "close_empty": frame(8, b""),
    "close_bad_code": close(1005) + close(999),
    "close_one_byte": frame(8, b"\x03"),
    "close_bad_reason": close(1000, b"\xc0\xaf"),
    "lengths_16_64": text("a" * 126) + binary(b"b" * 300) + frame(2, b"c" * 10, length=70000),
    "non_canonical": bytes([0x81, 126]) + struct.pack(">H", 5) + b"hello",
    "non_canonical_64": bytes([0x81, 127]) + struct.pack(">Q", 200) + b"y" * 200,
    "top_bit": cut_header(1, 1 << 63) + b"payload",
    "huge_continuation": binary(b"ab", False) + bytes([0x00, 127]) + struct.pack(">Q", (1 << 64) - 2) + b"cd",
    "too_big_small_limit": text("z" * 300) + text("tiny"),
    "bad_utf8": text(b"ok \xed\xa0\x80 surrogate"),
    "utf8_split_across_frames": text(b"\xe2\x82", False) + cont(b"\xac euro", True),
    "utf8_cut_at_message_end": text(b"\xf0\x9f\x98", True),
    "utf8_empty_last_frame": text(b"\xe2\x82", False) + cont(b"", True) + text(b"\x80"),
    "empty_fragments": text(b"", False) + cont(b"", False) + cont(b"", True) + binary(b""),
    "reserved": frame(1, b"{}", rsv=4) + frame(3, b"") + frame(11, b""),
    "masked": frame(1, msg.encode(), mask=0x12345678),
    "control_fragmented": frame(9, b"p", fin=False),
    "control_too_big": frame(9, b"p" * 126),
    "unexpected_continuation": cont("orphan", True),
    "expected_continuation": text("a", False) + text("b"),
    "compressed": frame(1, deflated(msg.encode()), rsv=4) + frame(2, deflated(b"\x00" * 1000), rsv=4),
    "compressed_fragments": frame(1, deflated(msg.encode() * 3)[:7], fin=False, rsv=4)
    + frame(9, b"") + cont(deflated(msg.encode() * 3)[7:], True),
    "compressed_bomb": frame(2, deflated(b"\x00" * 300000), rsv=4),
    "compressed_garbage": frame(1, b"\xff\xfe\xfd\xfc", rsv=4),
    "compressed_final_block": frame(1, b"\x03\x00", rsv=4) + frame(1, b"\x03\x00", rsv=4),
}
# Byte 0 of decoder: bit 0 compression, bits 1-2 the limit (0: byte 1, 1: 65535 + byte 1, 2: 16 MiB,
# 3: SIZE_MAX), bit 3 server_no_context_takeover; bytes 2-3 the split point.
decoder_mode = {
    "too_big_small_limit": 0, "top_bit": 6, "huge_continuation": 6, "lengths_16_64": 2,
    "compressed": 1 | 4, "compressed_fragments": 1 | 4 | 8, "compressed_bomb": 1, "compressed_garbage": 1 | 4,
    "compressed_final_block": 1 | 4,
}
for name, b in streams.items():
    mode = decoder_mode.get(name, 4)
    limit = 200 if mode & 6 == 0 else 0
    split = len(b) // 2
    write("decoder", name, bytes([mode, limit, split >> 8, split & 0xFF]) + b)
    if name.startswith("compressed"):
        continue  # no compression in the differential target
    # Byte 0 of decoder_differential: bits 0-1 the limit (0: 1 + byte 1, ..., 3: SIZE_MAX), bits 2-4
    # Beast's read size (0: all, then 1, 2, 3, 5, 8, 13, 64 bytes).
    diff_limit = {0: 0, 6: 3, 2: 1}.get(mode & 6, 2)
    write("decoder_differential", name, bytes([diff_limit | (3 << 2), 199]) + b)
write("decoder_differential", "one_byte_reads", bytes([2 | (1 << 2), 0]) + streams["fragments_and_controls"])
write("decoder_differential", "cut_reserved_header", bytes([2, 0]) + text(msg) + bytes([0x83, 126, 0x01]))
write("decoder_differential", "cut_masked_header", bytes([2, 0]) + bytes([0x81, 0xfe, 0x01, 0x00, 0x12]))

# --- mask_utf8: a masking key, a shift byte, then bytes that are masked and validated as UTF-8 ------
texts = {
    "ascii_long": ("The quick brown fox jumps over the lazy dog. " * 20).encode(),
    "multilingual": "κόσμε, 世界, мир, 🌍🚀, ﬁ, \u00a0\u2028".encode(),
    "boundaries": "\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff".encode("utf-8", "surrogatepass"),
    "surrogate": b"abc\xed\xa0\x80def",
    "overlong": b"\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf",
    "above_max": b"\xf4\x90\x80\x80\xf5\x80",
    "truncated": b"abcdefg\xe2\x82",
    "non_ascii_at_word_edges": b"abcdefg\xc3\xa9abcdefgh\xc3\xa9abcdefghi\xc3\xa9" * 4,
    "stray_continuations": b"\x80\xbf\xc2",
}
for i, (name, t) in enumerate(texts.items()):
    write("mask_utf8", name, bytes([0x12, 0x34, 0x56, 0x78 + i, i * 37 & 0xFF]) + t)
