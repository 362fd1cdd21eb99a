// The console's page: dist/console/ (index.html, app.js, app.css), built by
// `npm run build` from host-broker/console/web/. Public (the page holds no data:
// it asks for the token before it shows anything), gzip-compressed once and kept
// in memory, with a strict Content-Security-Policy.
import * as fs from 'fs';
import type * as http from 'http';
import * as path from 'path';
import * as zlib from 'zlib';
import type { RawRoute } from '../control/http-server';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** dist/console of the package this file belongs to (found upwards, so it works from compiled output too). */
export function consoleDir(from = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'console');
    const up = path.dirname(dir);
    if (up === dir) return path.join(from, 'dist', 'console');
    dir = up;
  }
}

const HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

interface Asset { type: string; raw: Buffer; gz: Buffer; mtimeMs: number }

export function staticRoutes(dir = consoleDir()): RawRoute[] {
  const cache = new Map<string, Asset>();
  const load = (name: string): Asset | undefined => {
    const file = path.join(dir, name);
    let st: fs.Stats;
    try { st = fs.statSync(file); } catch { return undefined; }
    const hit = cache.get(name);
    if (hit && hit.mtimeMs === st.mtimeMs) return hit;
    const raw = fs.readFileSync(file);
    const a = { type: TYPES[path.extname(name)] ?? 'application/octet-stream', raw, gz: zlib.gzipSync(raw, { level: 9 }), mtimeMs: st.mtimeMs };
    cache.set(name, a);
    return a;
  };
  const serve = (name: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const a = load(name);
    if (!a) {
      const body = `The console is not built (${path.join(dir, name)} is missing): run npm run build.\n`;
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? a.gz : a.raw;
    res.writeHead(200, {
      ...HEADERS, 'content-type': a.type, 'content-length': body.length, vary: 'accept-encoding',
      // The page is small; revalidating it each time keeps a rebuilt console from mixing old and new files.
      'cache-control': 'no-cache', ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  return [
    { method: 'GET', path: '/', public: true, handle: serve('index.html') },
    { method: 'GET', path: '/assets/app.js', public: true, handle: serve('app.js') },
    { method: 'GET', path: '/assets/app.css', public: true, handle: serve('app.css') },
  ];
}
