// An interop peer on Node's `ws` (npm package ws@8). Usage: node peer.mjs MODULES_DIR, where
// MODULES_DIR/node_modules/ws is the installed package (run.sh installs it into the build tree).
// It behaves exactly as peer.py (Python websockets) does, by URL path (segments after those shown
// are free, so that callers can tell their connections apart, e.g. /echo/lib and /echo/cat):
//   /echo...         reports and echoes every message, text as text and binary as binary
//   /push/N...       sends N messages {"type":"push","i":1..N}, then behaves as /echo
//   /naive...        sends {"type":"hello"}, then echoes every message as binary: the naive echo
//                    `ws.on('message', m => ws.send(m))`, as a new user writes it (ws 8 hands out
//                    Buffers, and sends a Buffer as a binary frame)
//   /mixed...        sends MIXED (below): text and binary, JSON and not; then behaves as /echo
//   /close/CODE...   closes with CODE ("bye") right after the upgrade
// It binds 127.0.0.1 port 0, prints the port, then one compact JSON line per event:
//   {"ev":"open","path":P,"auth":A,"custom":X,"ua":U}      upgrade headers (null when absent)
//   {"ev":"ext","path":P,"ext":E}                         the extensions negotiated ("" for none)
//   {"ev":"recv","path":P,"msg":M}                        a text message, as received
//   {"ev":"recv_binary","path":P,"size":S,"sha256":H}     a binary message: its size and SHA-256 (hex)
//   {"ev":"recv","path":P,"msg":M,"size":S}                one over 1 KiB: its first KiB, and its size
//                                                          (the reader of the pipe must keep up)
//   {"ev":"ping","path":P,"n":K}                          the K-th ping of this connection, answered
//   {"ev":"end","path":P,"count":C,"pings":K,"code":X}    the connection ended; X = the client's close code
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';

const modulesDir = process.argv[2];
if (!modulesDir) {
    console.error('usage: node peer.mjs MODULES_DIR');
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(modulesDir), 'package.json'));
const { WebSocketServer } = require('ws');

// Writes to a pipe are synchronous on Linux, so each line leaves at once and in order.
const report = (event) => console.log(JSON.stringify(event));

// What /mixed sends, in order: one message for each way a client may skip one. A string goes out
// as a text frame, a Buffer as a binary frame.
const MIXED = [
    '{"type":"mixed","i":1}', // a typed JSON object in a text frame
    '[1,2]', // JSON text of another shape
    'not json', // text that is not JSON
    Buffer.from('{"type":"mixed","i":4}'), // a typed JSON object in a binary frame
    Buffer.from([0x00, 0xff, 0x10]), // binary that is not JSON
    Buffer.from('[4,5]'), // binary JSON of another shape
    'two\nlines', // text with a newline in it
];

// permessage-deflate accepted when a client offers it (it compresses messages of 1 KiB and more).
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
wss.on('listening', () => console.log(String(wss.address().port)));
wss.on('error', (err) => {
    console.error(`peer: ${err.message}`);
    process.exit(1);
});

wss.on('connection', (ws, req) => {
    const p = req.url;
    const parts = p.split('?')[0].split('/');
    report({
        ev: 'open',
        path: p,
        auth: req.headers['authorization'] ?? null,
        custom: req.headers['x-interop'] ?? null,
        ua: req.headers['user-agent'] ?? null,
    });
    report({ ev: 'ext', path: p, ext: ws.extensions });
    let count = 0;
    let pings = 0;
    // ws answers pings by itself (autoPong); the event tells us one arrived.
    ws.on('ping', () => {
        pings += 1;
        report({ ev: 'ping', path: p, n: pings });
    });
    ws.on('message', (data, isBinary) => {
        count += 1;
        if (isBinary) {
            report({ ev: 'recv_binary', path: p, size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
        } else {
            const msg = data.toString('utf8');
            report(msg.length > 1024 ? { ev: 'recv', path: p, msg: msg.slice(0, 1024), size: msg.length }
                                     : { ev: 'recv', path: p, msg });
        }
        if (parts[1] === 'naive') {
            ws.send(data); // the naive echo: a Buffer, so a binary frame
        } else {
            ws.send(data, { binary: isBinary });
        }
    });
    ws.on('close', (code) => report({ ev: 'end', path: p, count, pings, code }));
    ws.on('error', () => {});  // a broken link still ends with 'close'

    if (parts[1] === 'close') {
        ws.close(Number(parts[2]), 'bye');
    } else if (parts[1] === 'push') {
        const n = Number(parts[2]);
        for (let i = 1; i <= n; i += 1) ws.send(JSON.stringify({ type: 'push', i }));
    } else if (parts[1] === 'naive') {
        ws.send('{"type":"hello"}');
    } else if (parts[1] === 'mixed') {
        for (const m of MIXED) ws.send(m);
    }
});
