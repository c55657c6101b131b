// A Rekor v1 / Fulcio / TSA stand-in for the tests: the handlers of npm's @sigstore/mock (real
// SETs, real certificates, real RFC 3161 replies) behind a node:http server on 127.0.0.1, with
// what the package lacks and the tests need:
//   - a memory of the log: every entry returned is kept, a second POST of an equivalent entry
//     answers 409 with `Location: /api/v1/log/entries/<uuid>` as real Rekor does, and
//     GET /api/v1/log/entries/<uuid> and GET /api/v1/log/entries?logIndex=N give it back;
//   - GET /api/v1/log/publicKey (PEM);
//   - GET /__posted: every request body received, in order ({method, path, body}), so a test
//     can check what a client sent independently of what the mock made of it;
//   - POST /__fault {"mode": "garbage" | "500" | "hang" | "off"}: every /api/ endpoint then
//     answers non-JSON bytes, fails with 500, or never answers (until the mode is set back).
// Fulcio: POST /api/v2/signingCert, GET /api/v2/trustBundle, and GET /__ctlog/publicKey (PEM:
// the key of the CT log whose SCTs its certificates embed, for a test's trusted root). TSA: POST /api/v1/timestamp (the
// JSON request form sigstore-js sends), GET /api/v1/timestamp/certchain (PEM).
// The mock checks nothing it is sent (no OIDC token check, no proof of possession, no entry
// validation) and its inclusion proofs claim a tree of one entry.
//
// Usage: node server.mjs PORT [--prefix DIR]   (PORT 0: any free port)
// DIR is where `npm install --prefix` put @sigstore/mock (default $CHAINLET_SIGSTORE_MOCK, else
// /opt/chainlet-sigstore-mock). Prints one line `listening http://127.0.0.1:<port>` when ready.
import { createRequire } from 'node:module';
import { generateKeyPairSync, createHash } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';

const args = process.argv.slice(2);
let prefix = process.env.CHAINLET_SIGSTORE_MOCK || '/opt/chainlet-sigstore-mock';
const at = args.indexOf('--prefix');
if (at >= 0) {
  prefix = args[at + 1];
  args.splice(at, 2);
}
const port = Number(args[0] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: server.mjs PORT [--prefix DIR] (got port ${args[0]})`);
  process.exit(2);
}
const require = createRequire(path.join(prefix, 'node_modules', 'x.js'));
let mock, canonicalize;
try {
  mock = require('@sigstore/mock');
  canonicalize = require('canonicalize');
  canonicalize = canonicalize.default ?? canonicalize;
} catch (e) {
  console.error(`@sigstore/mock is not installed under ${prefix} (scripts/setup-sigstore installs it): ${e.message}`);
  process.exit(3);
}

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = (label, der) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g).join('\n')}\n-----END ${label}-----\n`;

async function services(base) {
  const rekorKeys = keyPair();
  const tlog = await mock.initializeTLog(base, rekorKeys);
  const fulcioKeys = keyPair();
  const ca = await mock.initializeCA(fulcioKeys, await mock.initializeCTLog(fulcioKeys));
  const tsa = await mock.initializeTSA(keyPair());
  return {
    rekor: mock.rekorHandler(tlog),
    rekorPublicKeyPem: rekorKeys.publicKey.export({ format: 'pem', type: 'spki' }),
    fulcio: mock.fulcioHandler(ca),
    fulcioRootPem: pem('CERTIFICATE', ca.rootCertificate),
    // @sigstore/mock's CT log signs with the CA's own key pair.
    ctlogPublicKeyPem: fulcioKeys.publicKey.export({ format: 'pem', type: 'spki' }),
    tsa: mock.tsaHandler(tsa),
    tsaChainPem: pem('CERTIFICATE', tsa.intCertificate) + pem('CERTIFICATE', tsa.rootCertificate),
  };
}

const posted = [];
const byUuid = new Map(); // uuid -> the entry object as returned ({uuid: {...}})
const byIndex = new Map(); // logIndex -> uuid
const byContent = new Map(); // canonical proposed entry -> uuid
const hanging = new Set();
let fault = 'off';
let svc;

function send(res, status, body, type = 'application/json', headers = {}) {
  const bytes = typeof body === 'string' || Buffer.isBuffer(body) ? body : Buffer.from(body.buffer ?? body);
  res.writeHead(status, { 'Content-Type': type, ...headers });
  res.end(bytes);
}
const json = (res, status, value, headers) => send(res, status, JSON.stringify(value), 'application/json', headers);
const error = (res, status, message) => json(res, status, { code: status, message });

async function createEntry(res, body) {
  let proposed;
  try {
    proposed = JSON.parse(body);
  } catch (e) {
    return error(res, 400, `entry is not JSON: ${e.message}`);
  }
  const key = canonicalize(proposed);
  const existing = byContent.get(key);
  if (existing) {
    return json(res, 409, { code: 409, message: `An equivalent entry already exists in the transparency log with UUID ${existing}` },
      { Location: `/api/v1/log/entries/${existing}` });
  }
  const out = await svc.rekor.fn(body);
  if (out.statusCode !== 201) return send(res, out.statusCode, out.response, out.contentType ?? 'text/plain');
  const entry = JSON.parse(out.response);
  const uuid = Object.keys(entry)[0];
  byUuid.set(uuid, entry);
  byIndex.set(entry[uuid].logIndex, uuid);
  byContent.set(key, uuid);
  return json(res, 201, entry, { Location: `/api/v1/log/entries/${uuid}`, ETag: uuid });
}

async function route(req, res, url, body) {
  const p = url.pathname;
  if (req.method === 'POST' && p === '/api/v1/log/entries') return createEntry(res, body);
  if (req.method === 'GET' && p === '/api/v1/log/entries') {
    const n = Number(url.searchParams.get('logIndex'));
    const uuid = byIndex.get(n);
    return uuid ? json(res, 200, byUuid.get(uuid)) : error(res, 404, `no entry at logIndex ${url.searchParams.get('logIndex')}`);
  }
  const m = p.match(/^\/api\/v1\/log\/entries\/([0-9a-f]+)$/);
  if (req.method === 'GET' && m) {
    const entry = byUuid.get(m[1]) ?? byUuid.get(m[1].slice(-64));
    return entry ? json(res, 200, entry) : error(res, 404, `no entry ${m[1]}`);
  }
  if (req.method === 'GET' && p === '/api/v1/log/publicKey') return send(res, 200, svc.rekorPublicKeyPem, 'application/x-pem-file');
  if (req.method === 'POST' && p === svc.fulcio.path) {
    // sigstore-go (cosign 3) sends the token only in the Authorization header; the mock reads
    // it from the body, where the API also allows it.
    let request = body;
    try {
      const parsed = JSON.parse(body);
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!parsed.credentials && bearer) {
        parsed.credentials = { oidcIdentityToken: bearer };
        request = JSON.stringify(parsed);
      }
    } catch { /* the mock answers 400 */ }
    const out = await svc.fulcio.fn(request);
    // Fulcio's REST gateway answers 200 (sigstore-go accepts nothing else); the mock says 201.
    const status = out.statusCode === 201 ? 200 : out.statusCode;
    return send(res, status, out.response, out.contentType ?? 'text/plain');
  }
  if (req.method === 'GET' && p === '/__ctlog/publicKey') return send(res, 200, svc.ctlogPublicKeyPem, 'application/x-pem-file');
  if (req.method === 'GET' && p === '/api/v2/trustBundle') return json(res, 200, { chains: [{ certificates: [svc.fulcioRootPem] }] });
  if (req.method === 'POST' && p === svc.tsa.path) {
    const out = await svc.tsa.fn(body);
    return send(res, out.statusCode, out.response, out.contentType ?? 'text/plain');
  }
  if (req.method === 'GET' && p === '/api/v1/timestamp/certchain') return send(res, 200, svc.tsaChainPem, 'application/pem-certificate-chain');
  return error(res, 404, `no route ${req.method} ${p}`);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      if (url.pathname === '/__posted' && req.method === 'GET') return json(res, 200, posted);
      if (url.pathname === '/__fault' && req.method === 'POST') {
        const mode = JSON.parse(body).mode;
        if (!['garbage', '500', 'hang', 'off'].includes(mode)) return error(res, 400, `unknown fault mode ${mode}`);
        fault = mode;
        return json(res, 200, { mode });
      }
      if (req.method !== 'GET') {
        let parsed = body;
        try { parsed = JSON.parse(body); } catch { /* kept as a string */ }
        posted.push({ method: req.method, path: url.pathname, body: parsed });
      }
      if (url.pathname.startsWith('/api/')) {
        if (fault === 'garbage') return send(res, 200, '\u0000<html>not json\u00ff', 'application/json');
        if (fault === '500') return error(res, 500, 'fault injected by the test');
        if (fault === 'hang') { hanging.add(res); res.on('close', () => hanging.delete(res)); return; }
      }
      await route(req, res, url, body);
    } catch (e) {
      error(res, 500, `mock server: ${e.stack ?? e}`);
    }
  });
});

// Listen first, so that a port of 0 is known before the log takes its URL (its checkpoints name
// the host); announce only when every service is ready.
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
svc = await services(base);
process.stdout.write(`listening ${base}\n`);
const stop = () => { for (const r of hanging) r.destroy(); server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
