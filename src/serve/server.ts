/**
 * `icl-lab serve`'s HTTP server (node:http): the built web app (dist/web) and a read-only JSON API
 * over the runs, reports and sweeps below DIR, with server-sent events for live runs.
 *
 *   GET /api/index                         runs table rows, reports, sweeps
 *   GET /api/run?path=P[&smooth=a]         one run: figures (Vega-Lite specs), snapshots, statistics
 *   GET /api/compare?path=P&path=Q[&smooth=a]
 *   GET /api/overlay?path=P&path=Q...&metric=loss|val_loss|eta[&smooth=a]   one metric of up to MAX_OVERLAY runs
 *   GET /api/report?path=P   /api/sweep?path=P
 *   GET /api/evaluate?path=P&shift=K&value=V  the run's model and the estimators on shifted prompts (shifted.ts; a worker thread)
 *   GET /api/events                        text/event-stream: `index` (runs appeared/vanished) and `run` ({path, step, status})
 *   GET /files/<path>                      a file below DIR as it is (reports' report.html and figures)
 *
 * The routes, query parameters, events and response shapes are declared once in api.ts (the web
 * app imports them from there).
 *
 * Nothing is ever written into DIR. A path that leaves DIR ('..', an absolute path, a symbolic link
 * out) is refused with 403, a missing one with 404. Only GET and HEAD.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { FileFormatError } from '../io/safetensors.js';
import { mtimeOf, RUN_FILES } from '../run/run-dir.js';
import { API_PREFIX, MAX_OVERLAY, OVERLAY_METRICS, QUERY, ROUTES, type IndexResponse, type LiveEvents, type OverlayMetric, type ReportResponse } from './api.js';
import { compareRuns, etaScatter, evaluatedLengths, markDifferences, overlayRuns, reportSummary, runDetail, runRow, sweepSummary } from './data.js';
import { PathError, resolveInside, scanTree, type Found } from './scan.js';
import { parseShiftQuery, shiftedEvaluation } from './shifted.js';

/** Where the built web app is looked for: dist/web next to dist/serve, or from src/ (tests). */
export const ASSET_CANDIDATES = [new URL('../web', import.meta.url), new URL('../../dist/web', import.meta.url)].map((u) => fileURLToPath(u));

export function assetDir(): string | null {
  return ASSET_CANDIDATES.find((p) => existsSync(join(p, 'index.html'))) ?? null;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.wasm': 'application/wasm', '.md': 'text/markdown; charset=utf-8', '.csv': 'text/csv; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
  '.ico': 'image/x-icon', '.map': 'application/json; charset=utf-8',
};

/**
 * The Content-Security-Policy of every file served from below DIR (/files/...): a sandbox (an
 * opaque origin, no scripts, no forms), nothing loaded but the page's own inline styles and data:
 * images. A run directory's name is the user's; a report that shows it must not act in the lab.
 */
export const FILES_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'";

/** The most runs one /api/compare request may name (each distinct). */
export const MAX_COMPARE = 64;

/**
 * True for a name or address of this machine's loopback interface, in any spelling: localhost,
 * 127.x.y.z, ::1 (also 0:0:0:0:0:0:0:1) and ::ffff:127.x.y.z.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (/^localhost$/i.test(h)) return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (!isIPv6(h)) return false;
  const n = new URL(`http://[${h}]/`).hostname; // normalised: [::1], [::ffff:7f00:1]
  return n === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(n);
}

/** The host of a Host header (without its port; IPv6 in brackets). */
function hostOfHeader(h: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(:\d+)?$/.exec(h);
  return m ? m[1]! : '';
}

export interface ServeOptions {
  /** The folder served (must exist). */
  root: string;
  port: number;
  host: string;
  /** Built web app (default: assetDir()). */
  assets?: string | null;
  /** How often live state is polled while a page listens (ms, default 1000). */
  pollMs?: number;
}

export interface LabServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startServer(o: ServeOptions): Promise<LabServer> {
  const root = realpathSync(o.root);
  const given = o.assets === undefined ? assetDir() : o.assets;
  const assets = given ? realpathSync(given) : null;
  const pollMs = o.pollMs ?? 1000;
  const loopback = isLoopbackHost(o.host);
  let found: Found = scanTree(root);
  const clients = new Set<ServerResponse>();
  const stamps = new Map<string, string>();
  const stampOf = (p: string): string => [RUN_FILES.run, RUN_FILES.metrics, RUN_FILES.progress].map((f) => mtimeOf(join(root, p, f))).join(':');
  for (const p of found.runs) stamps.set(p, stampOf(p));

  const send = <E extends keyof LiveEvents>(event: E, data: LiveEvents[E]): void => {
    const msg = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of clients) c.write(msg);
  };
  const poll = (): void => {
    if (clients.size === 0) return;
    const next = scanTree(root);
    const key = (f: Found): string => JSON.stringify([f.runs, f.reports, f.sweeps]);
    if (key(next) !== key(found)) {
      found = next;
      send('index', { runs: found.runs.length });
    }
    for (const p of found.runs) {
      const s = stampOf(p);
      if (stamps.get(p) !== s) {
        stamps.set(p, s);
        const r = runRow(root, p);
        send('run', { path: p, step: r.step, steps: r.steps, status: r.status, trainLoss: r.trainLoss });
      }
    }
  };

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(text);
  };
  const fail = (res: ServerResponse, status: number, message: string): void => json(res, status, { error: message });
  const file = (res: ServerResponse, path: string, head: boolean, sandboxed = false): void => {
    const type = TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
    const body = readFileSync(path);
    res.writeHead(200, {
      'content-type': type, 'content-length': body.length, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache',
      // a file below DIR (a report.html, an SVG) is data, never code of the lab's origin: no script runs, its origin is opaque
      ...(sandboxed ? { 'content-security-policy': FILES_CSP } : {}),
    });
    res.end(head ? undefined : body);
  };

  /** A path the scan found as a run / report / sweep (checked to be inside DIR first). */
  const known = (kind: keyof Found, p: string | null, what: string): string => {
    if (p === null || p === '') throw new PathError(400, `missing ?${QUERY.path}= (the ${what}'s path below the served folder)`);
    resolveInside(root, p);
    const norm = p.replace(/\/+$/, '') || '.';
    if (!found[kind].includes(norm)) {
      found = scanTree(root); // one made since the last scan
      if (!found[kind].includes(norm)) throw new PathError(404, `no ${what} at ${p}`);
    }
    return norm;
  };
  const smoothOf = (u: URL): number => {
    const raw = u.searchParams.get(QUERY.smooth);
    if (raw === null || raw === '') return 0;
    const s = Number(raw);
    // was: anything else (NaN, -1, 2, "abc") taken as 0 without a word
    if (!Number.isFinite(s) || s < 0 || s >= 1) throw new PathError(400, `${QUERY.smooth}=${JSON.stringify(raw.slice(0, 40))} is not a smoothing weight; give a number in [0, 1) (0: none)`);
    return s;
  };

  const failWith = (res: ServerResponse, e: unknown): void => {
    if (e instanceof PathError) fail(res, e.status, e.message);
    else if (e instanceof FileFormatError || e instanceof UsageError) fail(res, 422, e.message); // a run directory icl-lab cannot read
    else if (e instanceof URIError) fail(res, 400, 'bad path encoding');
    else fail(res, 500, (e as Error).message);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    // bound to loopback: only pages of this machine may ask (a foreign Host header = DNS rebinding)
    if (loopback && !isLoopbackHost(hostOfHeader(req.headers.host ?? ''))) {
      fail(res, 403, `Host ${req.headers.host ?? '(none)'} refused: the lab listens on ${o.host} only`);
      return;
    }
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const u = new URL(req.url ?? '/', 'http://localhost');
    const head = method === 'HEAD';
    try {
      const route = rawPath.slice(1);
      const pathArg = (): string | null => u.searchParams.get(QUERY.path);
      if (route === ROUTES.index) {
        found = scanTree(root);
        const body: IndexResponse = {
          root,
          runs: markDifferences(found.runs.map((p) => runRow(root, p))),
          reports: found.reports.map((p) => reportSummary(root, p, found.runs)),
          sweeps: found.sweeps.map((p) => ({ path: p })),
        };
        json(res, 200, body);
      } else if (route === ROUTES.run) {
        json(res, 200, runDetail(root, known('runs', pathArg(), 'run'), smoothOf(u), found));
      } else if (route === ROUTES.compare) {
        const paths = u.searchParams.getAll(QUERY.path);
        if (paths.length === 0) throw new PathError(400, `missing ?${QUERY.path}= (two or more runs)`);
        if (paths.length > MAX_COMPARE) throw new PathError(400, `compare takes at most ${MAX_COMPARE} runs, got ${paths.length}`);
        const twice = paths.find((p, i) => paths.indexOf(p) !== i);
        if (twice !== undefined) throw new PathError(400, `run ${twice} is given twice; compare each run once`);
        json(res, 200, compareRuns(root, paths.map((p) => known('runs', p, 'run')), smoothOf(u)));
      } else if (route === ROUTES.overlay) {
        const paths = u.searchParams.getAll(QUERY.path);
        if (paths.length === 0) throw new PathError(400, `missing ?${QUERY.path}= (one or more runs, at most ${MAX_OVERLAY})`);
        if (paths.length > MAX_OVERLAY) throw new PathError(400, `overlay takes at most ${MAX_OVERLAY} runs, got ${paths.length}`);
        const twice = paths.find((p, i) => paths.indexOf(p) !== i);
        if (twice !== undefined) throw new PathError(400, `run ${twice} is given twice; overlay each run once`);
        const metric = u.searchParams.get(QUERY.metric) ?? 'loss';
        if (!(OVERLAY_METRICS as readonly string[]).includes(metric)) throw new PathError(400, `metric ${JSON.stringify(metric)} is not one overlay draws; allowed: ${OVERLAY_METRICS.join(', ')}`);
        json(res, 200, overlayRuns(root, paths.map((p) => known('runs', p, 'run')), metric as OverlayMetric, smoothOf(u)));
      } else if (route === ROUTES.report) {
        const r = reportSummary(root, known('reports', pathArg(), 'report'), found.runs);
        const body: ReportResponse = { ...r, eta: etaScatter(root, r.runPaths.filter((p): p is string => p !== null)) };
        json(res, 200, body);
      } else if (route === ROUTES.evaluate) {
        const p = known('runs', pathArg(), 'run');
        const q = parseShiftQuery(u.searchParams.get(QUERY.shift), u.searchParams.get(QUERY.value));
        const { lengths, trainL } = evaluatedLengths(root, p, found);
        shiftedEvaluation(root, p, q, lengths, trainL).then((body) => json(res, 200, body), (e: unknown) => failWith(res, e));
      } else if (route === ROUTES.sweep) {
        json(res, 200, sweepSummary(root, known('sweeps', pathArg(), 'sweep'), found.runs));
      } else if (route === ROUTES.events) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write('retry: 1000\n\n');
        clients.add(res);
        req.on('close', () => clients.delete(res));
      } else if (route.startsWith(ROUTES.files)) {
        let rel: string;
        try {
          rel = decodeURIComponent(route.slice(ROUTES.files.length));
        } catch {
          throw new PathError(400, 'bad path encoding');
        }
        const abs = resolveInside(root, rel);
        if (!statSync(abs).isFile()) throw new PathError(404, `not a file: ${rel}`);
        file(res, abs, head, true);
      } else if (route.startsWith(API_PREFIX)) {
        fail(res, 404, `no such API: ${rawPath}`);
      } else {
        if (!assets) {
          res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('icl-lab serve: the web app is not built (run npm run build:web); the API under /api/ works\n');
          return;
        }
        let rel = rawPath === '/' ? 'index.html' : decodeURIComponent(rawPath.slice(1));
        if (rel.endsWith('/')) rel += 'index.html';
        const abs = resolveInside(assets, rel);
        if (!statSync(abs).isFile()) throw new PathError(404, `not found: ${rawPath}`);
        file(res, abs, head);
      }
    } catch (e) {
      failWith(res, e);
    }
  };

  const server = createServer(handle);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolveListen());
  });
  const timer = setInterval(poll, pollMs);
  const heartbeat = setInterval(() => {
    for (const c of clients) c.write(': keep-alive\n\n');
  }, 15000);
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
  return {
    server,
    url: `http://${host}:${port}/`,
    close: () => new Promise<void>((done) => {
      clearInterval(timer);
      clearInterval(heartbeat);
      for (const c of clients) c.end();
      clients.clear();
      server.close(() => done());
      server.closeAllConnections();
    }),
  };
}
