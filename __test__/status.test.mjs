// stats.collector(register) feeds an application's prom-client registry, and stats.handler() serves a
// live status page: checked against stats.prometheus() / stats.general(), and in headless Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import client from 'prom-client';
import parsePrometheus from 'parse-prometheus-text-format';
import { model, useSuite } from './helpers.mjs';

const suite = useSuite('pmstatus');
const Item = model('Item', { n: Number, tag: String });

/** `{ 'name{labels}': value }` of Prometheus text, for the families named `polymongo_*`. */
function samples(text) {
  const out = {};
  for (const family of parsePrometheus(text)) {
    if (!family.name.startsWith('polymongo_')) continue;
    for (const metric of family.metrics) {
      if (family.type === 'HISTOGRAM') {
        const labels = JSON.stringify(metric.labels ?? {});
        out[`${family.name}_count${labels}`] = Number(metric.count);
        out[`${family.name}_sum${labels}`] = Number(metric.sum);
        for (const [le, count] of Object.entries(metric.buckets)) out[`${family.name}_bucket${labels}${le}`] = Number(count);
      } else {
        out[`${family.name}${JSON.stringify(metric.labels ?? {})}`] = Number(metric.value);
      }
    }
  }
  return out;
}

/** Runs `n` inserts and finds on each of `tenants`. */
async function load(wrapper, tenants, n) {
  const Items = wrapper.wrapModel(Item);
  await Promise.all(tenants.map(async (tenant, i) => {
    for (let k = 0; k < n * (i + 1); k++) {
      await Items.db(tenant).create({ n: k, tag: tenant });
      await Items.db(tenant).find({ n: { $lte: k } }).lean();
    }
  }));
}

test('collector: the same series in an application registry, beside its own, in both content types', async () => {
  const wrapper = suite.wrap();
  try {
    await load(wrapper, ['pmstatus_c1', 'pmstatus_c2'], 3);
    const register = new client.Registry();
    client.collectDefaultMetrics({ register });
    const appCounter = new client.Counter({ name: 'app_requests_total', help: 'Requests.', registers: [register] });
    appCounter.inc(2);
    const unregister = wrapper.stats.collector(register);

    const scraped = await register.metrics();
    assert.match(scraped, /^app_requests_total 2$/m);
    assert.match(scraped, /^process_cpu_user_seconds_total /m);
    assert.deepEqual(samples(scraped), samples(wrapper.stats.prometheus()));
    assert.equal(samples(scraped)['polymongo_db_operations_total{"db":"pmstatus_c2"}'], 12);
    const json = await register.getMetricsAsJSON();
    const ops = json.find((m) => m.name === 'polymongo_db_operations_total');
    assert.equal(ops.type, 'counter');
    assert.deepEqual(ops.values.find((v) => v.labels.db === 'pmstatus_c1'), { value: 6, labels: { db: 'pmstatus_c1' } });

    // OpenMetrics: prom-client writes counters as `<name>_total` under a family without the suffix.
    register.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
    const open = await register.metrics();
    assert.match(open, /^# TYPE polymongo_db_operations counter$/m);
    assert.match(open, /^polymongo_db_operations_total\{db="pmstatus_c1"\} 6$/m);
    assert.match(open, /^polymongo_db_operation_duration_seconds_bucket\{db="pmstatus_c1",le="\+Inf"\} 6$/m);
    assert.match(open, /# EOF\n$/);

    // One wrapper per registry: a second set of the same names is refused, the first left whole.
    const other = suite.wrap();
    assert.throws(() => other.stats.collector(register), /already been registered/);
    await other.disconnect();
    unregister();
    const after = await register.metrics();
    assert.doesNotMatch(after, /polymongo_/);
    assert.match(after, /app_requests_total 2/);
    unregister();

    for (const bad of [undefined, null, {}, 'register', { registerMetric() {} }]) {
      assert.throws(() => wrapper.stats.collector(bad), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
  } finally {
    await wrapper.disconnect();
  }
});

/** Serves `handler` on a free port; resolves to its base URL and a close function. */
async function serve(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

test('handler: JSON from stats.general(), HTML, methods, limits, web Request form', async () => {
  const wrapper = suite.wrap({ dbSpecific: [{ dbName: 'pmstatus_own', options: { maxConnections: 3 } }] });
  try {
    const tenants = ['pmstatus_h1', 'pmstatus_h2', 'pmstatus_h3', 'pmstatus_own'];
    await load(wrapper, tenants, 2);
    const handler = wrapper.stats.handler({ limit: 2 });
    const { url: base, close } = await serve(handler);
    try {
      const response = await fetch(`${base}/status?format=json`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const status = await response.json();
      const general = wrapper.stats.general();
      assert.deepEqual(status.pools.map((p) => [p.pool, p.connections, p.inUse, p.maxPoolSize]), [
        ['shared', general.primary.poolStats.totalConnections, general.primary.poolStats.inUseConnections, general.primary.poolStats.maxPoolSize],
        ...general.separateDB.map((p) => [p.dbName, p.poolStats.totalConnections, p.poolStats.inUseConnections, p.poolStats.maxPoolSize]),
      ]);
      assert.equal(status.pools[1].pool, 'pmstatus_own');
      assert.equal(status.tenants.total, general.databases.length);
      const byOps = [...general.databases].sort((a, b) => b.ops - a.ops || a.dbName.localeCompare(b.dbName));
      assert.deepEqual(status.tenants.busiest.map((t) => [t.dbName, t.ops, t.latencyMs]), byOps.slice(0, 2).map((d) => [d.dbName, d.ops, d.latencyMs]));
      assert.equal(status.tenants.busiest[0].dbName, 'pmstatus_own');
      assert.equal(status.tenants.slowest.length, 2);
      assert.ok(status.tenants.slowest[0].latencyMs.p95 >= status.tenants.slowest[1].latencyMs.p95);
      assert.deepEqual(status.admission, { queued: 0, inFlight: 0, databases: [] });

      const byAccept = await fetch(`${base}/`, { headers: { accept: 'application/json' } });
      assert.equal(byAccept.headers.get('content-type'), 'application/json; charset=utf-8');
      const page = await fetch(`${base}/status`, { headers: { accept: 'text/html,application/json;q=0.9' } });
      assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.match(page.headers.get('content-security-policy'), /script-src 'sha256-/);
      const html = await page.text();
      assert.match(html, /<title>polymongo-rs status<\/title>/);
      assert.doesNotMatch(html, /pmstatus_/, 'the page carries no data: its script fetches it');

      const post = await fetch(`${base}/`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      const head = await fetch(`${base}/?format=json`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    } finally {
      await close();
    }

    // The App Router form: `export const GET = wrapper.stats.handler()`.
    const web = await handler(new Request('http://app.test/admin/status?format=json'));
    assert.ok(web instanceof Response);
    assert.equal(web.status, 200);
    assert.equal((await web.json()).pools[0].pool, 'shared');
    assert.equal((await handler(new Request('http://app.test/admin/status'))).headers.get('content-type'), 'text/html; charset=utf-8');

    for (const [options, code, option] of [[{ limit: 0 }, 'ERR_OUT_OF_RANGE', 'limit'], [{ limit: 1.5 }, 'ERR_INVALID_ARG_TYPE', 'limit'],
      [{ refreshMs: 50 }, 'ERR_OUT_OF_RANGE', 'refreshMs'], [{ limits: 5 }, 'ERR_INVALID_ARG_TYPE', 'limits'], ['x', 'ERR_INVALID_ARG_TYPE', undefined]]) {
      assert.throws(() => wrapper.stats.handler(options), (err) => err.code === code && err.option === option, JSON.stringify(options));
    }
  } finally {
    await wrapper.disconnect();
  }
});

test('handler: a URI with credentials shows hosts only', async () => {
  const url = new URL(suite.uri);
  url.username = 'status_user';
  url.password = 's3cret-pw';
  // coldStart: the wrapper never connects (the test server may not run with auth): stats need no I/O.
  const wrapper = suite.wrap({ mongoURI: url.href });
  try {
    const handler = wrapper.stats.handler();
    const body = await (await handler(new Request('http://app.test/?format=json'))).text();
    assert.doesNotMatch(body, /status_user|s3cret|\*\*\*\*/);
    assert.equal(JSON.parse(body).pools[0].hosts, url.host);
  } finally {
    await wrapper.disconnect();
  }
});

/** Debian's chromium, or CHROMIUM_PATH. */
function chromiumPath() {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
}

test('the status page in headless Chromium shows what stats.general() says, and updates live', { skip: chromiumPath() ? false : 'no Chromium: apt-get install chromium, or set CHROMIUM_PATH' }, async () => {
  const { chromium } = await import('playwright-core');
  const wrapper = suite.wrap({ maxPoolSize: 6, maxConcurrentPerDb: 2, dbSpecific: [{ dbName: 'pmstatus_archive', options: { maxConnections: 2 } }] });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  const { url, close } = await serve(wrapper.stats.handler({ refreshMs: 200 }));
  try {
    const tenants = Array.from({ length: 8 }, (_, i) => `pmstatus_t${i + 1}`);
    await load(wrapper, [...tenants, 'pmstatus_archive'], 2);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${url}/status`);
    await page.waitForFunction(() => document.querySelectorAll('#busiest tr').length > 0);
    // Idle now: what the page shows after its next refresh must equal stats.general().
    const shownAt = await page.$eval('#updated', (el) => el.dataset.at);
    await page.waitForFunction((at) => document.querySelector('#updated').dataset.at !== at, shownAt);
    const general = wrapper.stats.general();
    const rows = (id) => page.$$eval(`#${id} tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    const pools = await rows('pools');
    assert.deepEqual(pools.map((r) => [r[0], r[2], r[3], r[4], r[9]]), [
      ['shared', general.primary.state, String(general.primary.poolStats.totalConnections), String(general.primary.poolStats.inUseConnections), String(general.primary.poolStats.maxPoolSize)],
      ...general.separateDB.map((p) => [p.dbName, p.state, String(p.poolStats.totalConnections), String(p.poolStats.inUseConnections), String(p.poolStats.maxPoolSize)]),
    ]);
    const busiest = await rows('busiest');
    const expected = [...general.databases].sort((a, b) => b.ops - a.ops || a.dbName.localeCompare(b.dbName)).slice(0, 10);
    assert.deepEqual(busiest.map((r) => [r[0], r[1], r[2]]), expected.map((d) => [d.dbName, d.pool, d.ops.toLocaleString('en')]));
    assert.equal(busiest[0][0], 'pmstatus_archive');
    const p95 = (d) => d.latencyMs.p95;
    const slowest = await rows('slowest');
    assert.deepEqual(slowest.map((r) => r[0]), [...general.databases].sort((a, b) => p95(b) - p95(a) || a.dbName.localeCompare(b.dbName)).slice(0, 10).map((d) => d.dbName));
    assert.match(await page.textContent('#summary'), new RegExp(`^2 pools · .* · ${general.databases.length} databases`));
    assert.ok(await page.$eval('#admission', (el) => el.closest('section').classList.contains('empty')));

    // Live: more operations on one tenant show up without a reload.
    const before = Number(busiest.find((r) => r[0] === 'pmstatus_t1')[2].replace(/,/g, ''));
    const Items = wrapper.wrapModel(Item);
    // Busy while the screenshot is taken: tenants past their share wait in the admission queue.
    let stop = false;
    const busy = Promise.all(tenants.flatMap((t) => Array.from({ length: 8 }, async (_, k) => {
      while (!stop) await Items.db(t).find({ n: { $gte: k } }).lean();
    })));
    try {
      await page.waitForFunction((n) => [...document.querySelectorAll('#busiest tr')].some((tr) => tr.children[0].textContent === 'pmstatus_t1' && Number(tr.children[2].textContent.replace(/,/g, '')) > n), before);
      // Best effort for the picture: the queue is a moment's state.
      await page.waitForFunction(() => document.querySelectorAll('#admission tr').length > 0, null, { timeout: 3_000 }).catch(() => {});
      const results = fileURLToPath(new URL('../bench/results/', import.meta.url));
      mkdirSync(results, { recursive: true });
      await page.screenshot({ path: `${results}status-page.png`, fullPage: true });
    } finally {
      stop = true;
      await busy;
    }
  } finally {
    await browser.close();
    await close();
    await wrapper.disconnect();
  }
});
