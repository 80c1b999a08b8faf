# An interop peer on Python's `websockets` (Debian's python3-websockets, its legacy asyncio API).
# It behaves exactly as peer.mjs (Node `ws`) does, by URL path (segments after those shown are
# free, so that callers can tell their connections apart, e.g. /echo/lib and /echo/cat):
#   /echo...         reports and echoes every message, text as text and binary as binary
#   /push/N...       sends N messages {"type":"push","i":1..N}, then behaves as /echo
#   /naive...        sends {"type":"hello"}, then echoes every message as binary, as the naive Node
#                    echo `ws.on('message', m => ws.send(m))` does (ws 8 hands out Buffers)
#   /mixed...        sends MIXED (below): text and binary, JSON and not; then behaves as /echo
#   /close/CODE...   closes with CODE ("bye") right after the upgrade
# It binds 127.0.0.1 port 0, prints the port, then one compact JSON line per event:
#   {"ev":"open","path":P,"auth":A,"custom":X,"ua":U}      upgrade headers (null when absent)
#   {"ev":"ext","path":P,"ext":E}                         the extensions negotiated ("" for none)
#   {"ev":"recv","path":P,"msg":M}                        a text message, as received
#   {"ev":"recv_binary","path":P,"size":S,"sha256":H}     a binary message: its size and SHA-256 (hex)
#   {"ev":"recv","path":P,"msg":M,"size":S}                one over 1 KiB: its first KiB, and its size
#                                                          (the reader of the pipe must keep up)
#   {"ev":"ping","path":P,"n":K}                          the K-th ping of this connection, answered
#   {"ev":"end","path":P,"count":C,"pings":K,"code":X}    the connection ended; X = the client's close code
import asyncio
import hashlib
import json
import sys

from websockets.exceptions import ConnectionClosed
from websockets.legacy.server import WebSocketServerProtocol, serve

sys.stdout.reconfigure(encoding="utf-8")


def report(**event):
    print(json.dumps(event, separators=(",", ":"), ensure_ascii=False), flush=True)


# What /mixed sends, in order: one message for each way a client may skip one. A str goes out as
# a text frame, bytes as a binary frame.
MIXED = [
    '{"type":"mixed","i":1}',  # a typed JSON object in a text frame
    '[1,2]',  # JSON text of another shape
    'not json',  # text that is not JSON
    b'{"type":"mixed","i":4}',  # a typed JSON object in a binary frame
    b'\x00\xff\x10',  # binary that is not JSON
    b'[4,5]',  # binary JSON of another shape
    'two\nlines',  # text with a newline in it
]


def segments(path):
    return path.split("?")[0].split("/")


class Protocol(WebSocketServerProtocol):
    answered = 0  # not `pings`: the base class keeps its own pings in flight under that name

    async def pong(self, data=b""):
        # The legacy protocol answers every ping by calling pong(); count them on the way.
        await super().pong(data)
        self.answered += 1
        report(ev="ping", path=self.path, n=self.answered)


async def process_request(path, headers):
    report(ev="open", path=path, auth=headers.get("Authorization"), custom=headers.get("X-Interop"),
           ua=headers.get("User-Agent"))
    return None


async def handler(ws, path):
    # permessage-deflate is accepted when a client offers it (websockets' default).
    report(ev="ext", path=path, ext=",".join(e.name for e in ws.extensions))
    parts = segments(path)
    count = 0
    try:
        if parts[1] == "close":
            await ws.close(int(parts[2]), "bye")
        else:
            if parts[1] == "push":
                for i in range(1, int(parts[2]) + 1):
                    await ws.send(json.dumps({"type": "push", "i": i}, separators=(",", ":")))
            elif parts[1] == "naive":
                await ws.send('{"type":"hello"}')
            elif parts[1] == "mixed":
                for payload in MIXED:
                    await ws.send(payload)
            async for msg in ws:
                count += 1
                if isinstance(msg, bytes):
                    report(ev="recv_binary", path=path, size=len(msg), sha256=hashlib.sha256(msg).hexdigest())
                elif len(msg) > 1024:
                    report(ev="recv", path=path, msg=msg[:1024], size=len(msg))
                else:
                    report(ev="recv", path=path, msg=msg)
                if parts[1] == "naive" and isinstance(msg, str):
                    msg = msg.encode("utf-8")
                try:
                    await ws.send(msg)
                except ConnectionClosed:
                    pass  # the client is closing; still report the rest of what it sent, as ws does
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    report(ev="end", path=path, count=count, pings=ws.answered, code=ws.close_code)


async def main():
    async with serve(handler, "127.0.0.1", 0, process_request=process_request, create_protocol=Protocol,
                     ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())
