// Node's `ws` (npm ws@8) receiving from the generator, doing the same JSON check per message as
// tether (JSON.parse, then an object with a string "type"), timed the same way (the window opens at
// the first message and closes at the first check, every 16 messages, after SECONDS).
// Usage: node ws_client.mjs MODULES_DIR URL SECONDS, where MODULES_DIR/node_modules/ws is installed.
// Prints one JSON line: messages, seconds, cpu_seconds (this process, over the window), malformed,
// node and ws versions.
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const [modulesDir, url, secondsArg] = process.argv.slice(2);
if (!modulesDir || !url || !secondsArg) {
    console.error('usage: node ws_client.mjs MODULES_DIR URL SECONDS');
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(modulesDir), 'package.json'));
const WebSocket = require('ws');
const wsVersion = require('ws/package.json').version;
const seconds = Number(secondsArg);

let seen = 0;
let t0 = 0;
let cpu0 = null;
let done = false;
let malformed = 0;

const ws = new WebSocket(url, { perMessageDeflate: false });
ws.on('message', (data, isBinary) => {
    let v = null;
    try {
        v = JSON.parse(isBinary ? '' : data.toString('utf8'));
    } catch {
        v = null;
    }
    if (!(v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v.type === 'string')) malformed += 1;
    if (done) return;
    if (seen++ === 0) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
        return;
    }
    if ((seen & 15) !== 0) return;
    const now = performance.now();
    if (now - t0 < seconds * 1000) return;
    done = true;
    const cpu = process.cpuUsage(cpu0);
    console.log(JSON.stringify({
        messages: seen - 1,
        seconds: (now - t0) / 1000,
        cpu_seconds: (cpu.user + cpu.system) / 1e6,
        malformed,
        node: process.version,
        ws: wsVersion,
    }));
    ws.close(1000);
});
ws.on('close', () => process.exit(done ? 0 : 1));
ws.on('error', (err) => {
    console.error(`ws_client: ${err.message}`);
    process.exit(1);
});
setTimeout(() => process.exit(3), (seconds + 30) * 1000).unref();
