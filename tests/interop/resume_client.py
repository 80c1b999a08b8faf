# A debugging aid, not part of the suite: a minimal client of tether's resume convention on
# Python's `websockets` (legacy asyncio API), to exercise resume_peer.py without tether.
#
#   resume_client.py URL N        e.g. resume_client.py 'ws://127.0.0.1:PORT/resume?session=dbg' 300
#
# It sends N messages {"seq":i,"type":"msg","n":i}, resending the unacknowledged ones first after
# each reconnect; delivers server events once each, in seq order (Last-Event-ID on reconnects);
# acknowledges them every 16 and at the end; retries a refused upgrade (e.g. 503) after 50 ms.
# It prints one JSON line of counts and exits 0 once all of its messages were acknowledged and it
# delivered server seqs 1..N, 1 on a violation, 2 after 60 s.
import asyncio
import json
import sys
from collections import deque

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.legacy.client import connect


async def main(url, n):
    unacked = deque()  # (seq, text) sent, not yet acknowledged, in order
    next_seq = 1
    acked = 0
    delivered = 0
    counts = {"connections": 0, "refused": 0, "duplicates": 0, "resent": 0}

    def finished():
        return acked == n and delivered == n

    while not finished():
        headers = {"Last-Event-ID": str(delivered)} if delivered else {}
        try:
            ws = await connect(url, extra_headers=headers, ping_interval=None)
        except (InvalidHandshake, OSError):
            counts["refused"] += 1
            await asyncio.sleep(0.05)
            continue
        counts["connections"] += 1

        async def send():
            nonlocal next_seq
            for _, message in list(unacked):
                counts["resent"] += 1
                await ws.send(message)
            while next_seq <= n:
                message = json.dumps({"seq": next_seq, "type": "msg", "n": next_seq}, separators=(",", ":"))
                unacked.append((next_seq, message))
                next_seq += 1
                await ws.send(message)
                await asyncio.sleep(0.001)

        sender = asyncio.create_task(send())
        try:
            async for text in ws:
                m = json.loads(text)
                if m.get("type") == "ack":
                    acked = max(acked, m["seq"])
                    while unacked and unacked[0][0] <= acked:
                        unacked.popleft()
                elif m["seq"] <= delivered:
                    counts["duplicates"] += 1
                elif m["seq"] == delivered + 1:
                    delivered = m["seq"]
                    if delivered % 16 == 0 or delivered == n:
                        await ws.send(json.dumps({"type": "ack", "seq": delivered}))
                else:
                    print(json.dumps({"error": f"server seq {m['seq']} after {delivered}"}))
                    return 1
                if finished():
                    await ws.close()
                    break
        except ConnectionClosed:
            pass
        sender.cancel()
        if not finished():
            await asyncio.sleep(0.05)
    print(json.dumps(dict(counts, acked=acked, delivered=delivered)), flush=True)
    return 0


async def bounded(url, n):
    try:
        return await asyncio.wait_for(main(url, n), timeout=60)
    except asyncio.TimeoutError:
        print(json.dumps({"error": "not finished within 60 s"}))
        return 2


sys.exit(asyncio.run(bounded(sys.argv[1], int(sys.argv[2]))))
