'use strict';
// `stats.handler()`: a status page of the wrapper's pools, tenants and admission queue, served by the
// application where it mounts it (nothing listens otherwise). The page is static HTML whose script
// polls the same handler for JSON (`?format=json`) and fills the tables with `textContent`, so no
// database name ever reaches the page as markup. No URI is shown: pools show their hosts.
const { createHash } = require('node:crypto');

/**
 * What the status page shows, from `stats.general()`:
 * `{ at, pools: [{ pool, hosts, state, connections, inUse, available, waiting, inFlight, pendingCheckouts, maxPoolSize }],
 *    admission: { queued, inFlight, databases: [{ dbName, pool, queued, inFlight, concurrencyLimit }] },
 *    tenants: { total, busiest: Tenant[], slowest: Tenant[] }, streams: { open, connections } }`,
 * a Tenant being a database's metrics from `stats.general().databases`, `lastUsed` aside (latencies in ms). `limit` caps each list (the busiest by operations, the slowest by p95).
 */
function statusSnapshot(general, limit) {
  const pool = (info, name) => ({
    pool: name,
    hosts: hosts(info.mongoURI),
    state: info.state,
    connections: info.poolStats.totalConnections,
    inUse: info.poolStats.inUseConnections,
    available: info.poolStats.availableConnections,
    waiting: info.poolStats.waitQueueSize,
    inFlight: info.poolStats.inFlight,
    pendingCheckouts: info.poolStats.pendingCheckouts,
    maxPoolSize: info.poolStats.maxPoolSize,
  });
  // Its metrics as stats.general() gives them, but for when it was last used (a Date).
  const tenant = ({ lastUsed, ...metrics }) => metrics;
  const databases = general.databases;
  const waiting = databases.filter((d) => d.queued > 0).sort((a, b) => b.queued - a.queued || cmp(a, b));
  const p95 = (d) => d.latencyMs?.p95 ?? -1;
  return {
    at: new Date().toISOString(),
    pools: [pool(general.primary, 'shared'), ...general.separateDB.map((p) => pool(p, p.dbName))],
    admission: {
      queued: databases.reduce((sum, d) => sum + d.queued, 0),
      inFlight: databases.reduce((sum, d) => sum + d.inFlight, 0),
      databases: waiting.slice(0, limit).map(({ dbName, pool: kind, queued, inFlight, concurrencyLimit }) => ({ dbName, pool: kind, queued, inFlight, concurrencyLimit })),
    },
    tenants: {
      total: databases.length,
      busiest: [...databases].sort((a, b) => b.ops - a.ops || cmp(a, b)).slice(0, limit).map(tenant),
      slowest: databases.filter((d) => d.latencyMs).sort((a, b) => p95(b) - p95(a) || cmp(a, b)).slice(0, limit).map(tenant),
    },
    streams: { open: general.streams.open, connections: general.streams.connections },
  };
}

const cmp = (a, b) => (a.dbName < b.dbName ? -1 : a.dbName > b.dbName ? 1 : 0);

/** The host list of a (masked) URI: no user, password, database or options. */
function hosts(uri) {
  const rest = uri.includes('://') ? uri.slice(uri.indexOf('://') + 3) : uri;
  return rest.slice(rest.lastIndexOf('@') + 1).split(/[/?]/)[0];
}

/**
 * A request handler serving the status page (HTML) or, for `?format=json` or `Accept:
 * application/json`, `statusSnapshot()` as JSON. Called as `(req, res)` (Node's http, Express,
 * Next.js pages API) it writes the response; called with a web `Request` (a Next.js App Router route:
 * `export const GET = wrapper.stats.handler()`, which also passes a context) it returns a `Response`. Only GET and HEAD (405 else).
 * Options: `limit` (rows per list, default 10, 1..1000), `refreshMs` (the page's polling period,
 * default 1000, 100..60000).
 */
function statusHandler(readGeneral, options = {}) {
  if (options === null || typeof options !== 'object') throw invalidType('stats.handler(options): options must be an object');
  for (const name of Object.keys(options)) {
    if (name !== 'limit' && name !== 'refreshMs') throw invalidType(`stats.handler(options): unknown option ${name}`, name);
  }
  const limit = integer(options.limit, 'limit', 10, 1, 1000);
  const refreshMs = integer(options.refreshMs, 'refreshMs', 1000, 100, 60_000);
  const page = PAGE.replace('__REFRESH_MS__', String(refreshMs));
  const respond = (method, url, accept) => {
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, headers: { ...headers, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }, body: 'Method Not Allowed\n' };
    const query = new URLSearchParams((url ?? '').split('?')[1] ?? '');
    if (query.get('format') === 'json' || (!query.has('format') && /application\/json/.test(accept ?? '') && !/text\/html/.test(accept ?? ''))) {
      return { status: 200, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(statusSnapshot(readGeneral(), limit)) };
    }
    return { status: 200, headers: { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP }, body: page };
  };
  return function polymongoStatus(req, res) {
    // A web Request's headers are a Headers (with get()); Node's are a plain object.
    if (typeof req?.headers?.get === 'function') {
      const { status, headers, body } = respond(req.method, req.url, req.headers.get('accept'));
      return new Response(req.method === 'HEAD' ? null : body, { status, headers });
    }
    const { status, headers, body } = respond(req.method, req.originalUrl ?? req.url, req.headers?.accept);
    res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return undefined;
  };
}

function integer(value, name, fallback, min, max) {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value)) throw invalidType(`stats.handler(options): ${name} must be an integer`, name);
  if (value < min || value > max) {
    throw Object.assign(new RangeError(`stats.handler(options): ${name} must be within ${min}..${max}, got ${value}`), { code: 'ERR_OUT_OF_RANGE', option: name });
  }
  return value;
}

/** A TypeError as the wrapper's options raise them: `code`, and the option's name when there is one. */
function invalidType(message, option) {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' }, option === undefined ? {} : { option });
}

// The page's script: polls the JSON beside it and renders with textContent only.
const SCRIPT = `
const refreshMs = Number(document.body.dataset.refreshMs);
const $ = (id) => document.getElementById(id);
const fmt = (n) => (n == null ? '–' : Number.isInteger(n) ? n.toLocaleString('en') : n.toFixed(n < 10 ? 2 : 1));
let previous = null;
function fill(id, rows, cells) {
  const body = $(id);
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement('tr');
    for (const value of cells(row)) {
      const td = document.createElement('td');
      td.textContent = typeof value === 'number' || value == null ? fmt(value) : value;
      if (typeof value === 'number' || value == null) td.className = 'n';
      tr.append(td);
    }
    return tr;
  }));
  body.closest('section').classList.toggle('empty', rows.length === 0);
}
async function refresh() {
  try {
    const response = await fetch(location.pathname + '?format=json', { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const s = await response.json();
    const seconds = previous ? (Date.parse(s.at) - Date.parse(previous.at)) / 1000 : 0;
    const before = new Map([...(previous?.tenants.busiest ?? []), ...(previous?.tenants.slowest ?? [])].map((t) => [t.dbName, t.ops]));
    const rate = (t) => (seconds > 0 && before.has(t.dbName) ? (t.ops - before.get(t.dbName)) / seconds : null);
    const count = (n, one, many) => fmt(n) + ' ' + (n === 1 ? one : many);
    $('summary').textContent = [count(s.pools.length, 'pool', 'pools'), count(s.pools.reduce((n, p) => n + p.connections, 0), 'connection', 'connections'),
      count(s.tenants.total, 'database', 'databases'), count(s.admission.inFlight, 'operation in flight', 'operations in flight'),
      fmt(s.admission.queued) + ' waiting', count(s.streams.open, 'change stream', 'change streams')].join(' · ');
    fill('pools', s.pools, (p) => [p.pool, p.hosts, p.state, p.connections, p.inUse, p.available, p.waiting, p.inFlight, p.pendingCheckouts, p.maxPoolSize]);
    fill('admission', s.admission.databases, (d) => [d.dbName, d.pool, d.queued, d.inFlight, d.concurrencyLimit]);
    const tenant = (t) => [t.dbName, t.pool, t.ops, rate(t), t.errors, t.inFlight, t.queued, t.latencyMs?.p50, t.latencyMs?.p95, t.latencyMs?.p99, t.latencyMs?.max];
    fill('busiest', s.tenants.busiest, tenant);
    fill('slowest', s.tenants.slowest, tenant);
    $('updated').textContent = 'updated ' + new Date(s.at).toLocaleTimeString('en-GB');
    $('updated').dataset.at = s.at;
    document.body.classList.remove('stale');
    previous = s;
  } catch (err) {
    $('updated').textContent = 'not updated: ' + err.message;
    document.body.classList.add('stale');
  }
  setTimeout(refresh, refreshMs);
}
refresh();
`;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f7f8fa; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 24px 0 6px; }
#summary { color: #444; } #updated { color: #777; font-size: 12px; } .stale #updated { color: #b00020; }
table { border-collapse: collapse; background: #fff; min-width: 60%; box-shadow: 0 1px 2px #0001; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e4e6eb; text-align: left; white-space: nowrap; }
th { background: #eef0f4; font-weight: 600; font-size: 12px; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
section.empty table { display: none; } section.empty::after { content: 'none'; color: #777; }
`;

const TENANT_HEAD = '<tr><th>database</th><th>pool</th><th>operations</th><th>ops/s</th><th>errors</th><th>in flight</th><th>waiting</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>';
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>polymongo-rs status</title><style>${STYLE}</style></head>
<body data-refresh-ms="__REFRESH_MS__">
<h1>polymongo-rs</h1><div id="summary">loading…</div><div id="updated"></div>
<section><h2>Pools</h2><table><thead><tr><th>pool</th><th>hosts</th><th>state</th><th>open</th><th>in use</th><th>available</th><th>waiting</th><th>in flight</th><th>checkouts pending</th><th>max size</th></tr></thead><tbody id="pools"></tbody></table></section>
<section><h2>Admission queue</h2><table><thead><tr><th>database</th><th>pool</th><th>waiting</th><th>in flight</th><th>limit</th></tr></thead><tbody id="admission"></tbody></table></section>
<section><h2>Busiest databases</h2><table><thead>${TENANT_HEAD}</thead><tbody id="busiest"></tbody></table></section>
<section><h2>Slowest databases (p95)</h2><table><thead>${TENANT_HEAD}</thead><tbody id="slowest"></tbody></table></section>
<script>${SCRIPT}</script>
</body></html>
`;
// Only this page's own script runs; it may fetch from its own origin only.
const CSP = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'; connect-src 'self'; base-uri 'none'; form-action 'none'`;

module.exports = { statusHandler, statusSnapshot };
