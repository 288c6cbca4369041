// capture.mjs: a tiny logging reverse proxy, to see exactly what a client
// sends before it reaches quotatui's proxy.
//
//   node capture.mjs <listen-port> <target-base-url> [log-file]
//
// Every request is forwarded unchanged to the target; one JSON line per
// request (method, path with query, headers, body) goes to the log file
// (default capture.jsonl). Credentials are redacted: the point is the
// request's shape, and tokens must never land in a log.
import http from 'node:http';
import fs from 'node:fs';

const [port, target, logFile = 'capture.jsonl'] = process.argv.slice(2);
if (!port || !target) {
  console.error('usage: node capture.mjs <listen-port> <target-base-url> [log-file]');
  process.exit(2);
}
const secret = /^(authorization|x-goog-api-key|x-api-key|cookie)$/i;

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      headers[k] = secret.test(k) ? '<redacted>' : v;
    }
    let parsed = body.toString('utf8');
    try { parsed = JSON.parse(parsed); } catch { /* keep the text */ }
    fs.appendFileSync(logFile, JSON.stringify({ method: req.method, url: req.url, headers, body: parsed }) + '\n');

    const up = http.request(new URL(req.url, target), { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res); // streams pass through chunk by chunk
    });
    up.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 502, message: `capture: ${err.message}`, status: 'UNAVAILABLE' } }));
    });
    up.end(body);
  });
}).listen(Number(port), '127.0.0.1', () => console.error(`capture: 127.0.0.1:${port} -> ${target}, log ${logFile}`));
