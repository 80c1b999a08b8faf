# A resume-convention peer on Python's `websockets` (Debian's python3-websockets, its legacy asyncio
# API): the server side of tether's resume convention (v1, see include/tether/testing/resume_server.hpp)
# for one session, with faults injected once each, for interop of tether's resume mode.
#
#   resume_peer.py N [--seconds S] [--port P] [--pace-ms D]
#
# It binds 127.0.0.1 port P (0: any), prints the port, then publishes N server messages
# {"type":"event","seq":M,"n":M}, one every D ms (default 2) whether or not a connection is open,
# the last third only once the abort below happened (so that some are in flight across it); each
# is kept until the client acknowledges it, sent on the newest connection, and replayed after
# the client's Last-Event-ID (or ?last_seq=) on a reconnect. Client messages carry "seq": the peer
# accepts seq == last accepted + 1 only, drops and counts duplicates (answering each with an ack),
# and acknowledges cumulatively, {"type":"ack","seq":N}: right after the 101, after 64 accepted
# messages, 50 ms after the first unacknowledged one, and at once for the N-th.
# Faults, once each: when about N/3 client messages were accepted it aborts the connection (no close
# frame, transport.abort()), having queued up to 5 publications on it that thus never leave (the
# next connection gets them by replay); it answers the next upgrade with 503; then lets the client in.
# It reports one compact JSON line per event on stdout:
#   {"ev":"open","attempt":K,"last_event_id":M}    an upgrade request (K counts them all)
#   {"ev":"reject","attempt":K,"status":503}       that request was answered 503
#   {"ev":"abort","accepted":A,"published":P}      the connection was aborted after A accepted
#   {"ev":"end","attempt":K,"code":X}               the connection ended (X: the close code, 1006 when none)
#   {"ev":"done","ok":B,"accepted":..,"duplicates_dropped":..,"gaps":..,"malformed":..,"replayed":..,
#    "published":..,"client_acked":..,"connections":..,"upgrades":..,"aborted":..,"rejected_503":..,
#    "violations":[...]}
# "done" comes once every client message 1..N was accepted exactly once, in order, and the client
# acknowledged all N server messages (then it waits up to 2 s for the client to close), or when
# the time bound S (default 60 s) passed. It exits 0 when ok: no gap, no message out of order
# (the "n" of the accepted messages must count up by one), nothing malformed, within the bound.
import argparse
import asyncio
import json
import sys
import urllib.parse
from http import HTTPStatus

from websockets.exceptions import ConnectionClosed
from websockets.legacy.server import serve

ACK_EVERY = 64
ACK_DELAY = 0.050


def report(**event):
    print(json.dumps(event, separators=(",", ":")), flush=True)


def text(obj):
    return json.dumps(obj, separators=(",", ":"))


class Connection:
    """One upgraded connection: its socket and the queue its writer task drains, in order."""

    def __init__(self, ws):
        self.ws = ws
        self.outbox = asyncio.Queue()
        self.writer = asyncio.create_task(self.write())

    async def write(self):
        try:
            while True:
                await self.ws.send(await self.outbox.get())
        except ConnectionClosed:
            pass


class Session:
    def __init__(self, n):
        self.n = n
        self.last_accepted = 0
        self.last_n = None  # the "n" of the last accepted message: the application's order
        self.duplicates = 0
        self.gaps = 0
        self.malformed = 0
        self.published = 0
        self.kept = {}  # seq -> text: published, not yet acknowledged
        self.sent_up_to = 0  # the highest seq handed to a connection: tells replays from first sends
        self.replayed = 0
        self.client_acked = 0
        self.attempts = 0
        self.upgrades = 0
        self.aborted = 0
        self.rejected = 0
        self.reject_next = False
        self.aborted_event = asyncio.Event()
        self.violations = []
        self.newest = None
        self.unacked = 0
        self.ack_timer = None
        self.done = asyncio.Event()

    def violation(self, what):
        if len(self.violations) < 20:
            self.violations.append(what)

    def finished(self):
        return self.last_accepted == self.n and self.client_acked == self.n

    def check_finished(self):
        if self.finished():
            self.done.set()

    # --- server -> client ---------------------------------------------------------------------
    def publish(self):
        self.published += 1
        seq = self.published
        self.kept[seq] = text({"type": "event", "seq": seq, "n": seq})
        if self.newest is not None:
            self.newest.outbox.put_nowait(self.kept[seq])
            self.sent_up_to = seq

    def client_acked_up_to(self, m):
        if m > self.published:
            self.violation(f"the client acknowledged {m}, beyond the {self.published} published")
            m = self.published
        for seq in range(self.client_acked + 1, m + 1):
            self.kept.pop(seq, None)
        self.client_acked = max(self.client_acked, m)
        self.check_finished()

    def open(self, conn, last_event_id):
        self.upgrades += 1
        self.newest = conn
        self.client_acked_up_to(last_event_id)
        self.ack_now()  # right after the 101: the position
        for seq in sorted(s for s in self.kept if s > last_event_id):
            if seq <= self.sent_up_to:
                self.replayed += 1
            else:
                self.sent_up_to = seq
            conn.outbox.put_nowait(self.kept[seq])

    # --- client -> server ---------------------------------------------------------------------
    def ack_now(self):
        self.unacked = 0
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None
        if self.newest is not None:
            self.newest.outbox.put_nowait(text({"type": "ack", "seq": self.last_accepted}))

    def receive(self, msg):
        try:
            obj = json.loads(msg)
        except (TypeError, ValueError):
            obj = None
        if not isinstance(obj, dict):
            self.malformed += 1
            self.violation(f"not a JSON object: {str(msg)[:80]}")
            return
        seq = obj.get("seq")
        if obj.get("type") == "ack":
            if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
                self.client_acked_up_to(seq)
            else:
                self.malformed += 1
                self.violation(f"an ack without a seq: {msg[:80]}")
            return
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            self.malformed += 1
            self.violation(f"a message without a positive seq: {msg[:80]}")
            return
        if seq <= self.last_accepted:
            self.duplicates += 1
            self.ack_now()  # a client whose ack was lost learns the position
            return
        if seq > self.last_accepted + 1:
            self.gaps += 1
            self.violation(f"seq {seq} after {self.last_accepted}: a gap")
            return
        n = obj.get("n")
        if not isinstance(n, int) or (self.last_n is not None and n != self.last_n + 1):
            self.violation(f"seq {seq} carries n {n!r} after n {self.last_n!r}: out of order")
        self.last_n = n if isinstance(n, int) else self.last_n
        self.last_accepted = seq
        if seq == self.n:
            self.ack_now()  # the last one: no reason to wait
        else:
            self.unacked += 1
            if self.unacked >= ACK_EVERY:
                self.ack_now()
            elif self.ack_timer is None:
                self.ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY, self.ack_now)
        self.check_finished()


def position(path, headers):
    """The client's Last-Event-ID (or ?last_seq=); 0 when absent, None when not a number."""
    value = headers.get("Last-Event-ID")
    if value is None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        value = query.get("last_seq", ["0"])[0]
    value = value.strip()
    return int(value) if value.isdigit() else None


async def main():
    parser = argparse.ArgumentParser(description="tether resume-convention interop peer")
    parser.add_argument("n", type=int, help="messages each way")
    parser.add_argument("--seconds", type=float, default=60.0, help="the time bound")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pace-ms", type=float, default=2.0, help="between two publications")
    args = parser.parse_args()
    session = Session(args.n)
    abort_after = max(1, args.n // 3)

    async def process_request(path, headers):
        session.attempts += 1
        last = position(path, headers)
        report(ev="open", attempt=session.attempts, last_event_id=last)
        if last is None:
            session.violation(f"attempt {session.attempts}: Last-Event-ID is no number")
            return HTTPStatus.BAD_REQUEST, [], b"Last-Event-ID is no number\n"
        if session.reject_next:
            session.reject_next = False
            session.rejected += 1
            report(ev="reject", attempt=session.attempts, status=503)
            return HTTPStatus.SERVICE_UNAVAILABLE, [], b"resume_peer: try again\n"
        return None

    async def handler(ws, path):
        attempt = session.attempts
        conn = Connection(ws)
        session.open(conn, position(path, ws.request_headers))
        try:
            async for msg in ws:
                session.receive(msg)
                if not session.aborted and session.last_accepted >= abort_after:
                    session.aborted += 1
                    session.reject_next = True
                    session.aborted_event.set()
                    # Queued, not yet written (the writer task does not run before the abort): lost
                    # with this connection, replayed on the next.
                    for _ in range(min(5, args.n - session.published)):
                        session.publish()
                    report(ev="abort", accepted=session.last_accepted, published=session.published)
                    ws.transport.abort()
                    break
        except ConnectionClosed:
            pass
        if session.newest is conn:
            session.newest = None
        conn.writer.cancel()
        report(ev="end", attempt=attempt, code=ws.close_code or 1006)

    async def publisher():
        while session.published < args.n:
            if session.published >= args.n - args.n // 3 and not session.aborted:
                await session.aborted_event.wait()
                continue
            session.publish()
            await asyncio.sleep(args.pace_ms / 1000)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.seconds
    async with serve(handler, "127.0.0.1", args.port, process_request=process_request, ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        publishing = asyncio.create_task(publisher())
        try:
            await asyncio.wait_for(session.done.wait(), timeout=args.seconds)
        except asyncio.TimeoutError:
            session.violation(f"not finished within {args.seconds:g} s")
        # Lets the last ack reach the client, which then closes (bounded: it may not).
        newest = session.newest
        if newest is not None and not session.violations:
            try:
                await asyncio.wait_for(newest.ws.wait_closed(), timeout=max(0.1, min(2.0, deadline - loop.time())))
            except asyncio.TimeoutError:
                pass
        publishing.cancel()
    ok = not session.violations and session.finished()
    report(ev="done", ok=ok, accepted=session.last_accepted, duplicates_dropped=session.duplicates,
           gaps=session.gaps, malformed=session.malformed, replayed=session.replayed,
           published=session.published, client_acked=session.client_acked, connections=session.attempts,
           upgrades=session.upgrades, aborted=session.aborted, rejected_503=session.rejected,
           violations=session.violations)
    return 0 if ok else 1


sys.exit(asyncio.run(main()))
