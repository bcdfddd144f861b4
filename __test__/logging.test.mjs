// Logging: lifecycle records to the console (`debug`), rotating files (`logPath`), the application's
// logger (real pino and winston) and PolyMongo's `logHandler`; and a password in a URI never showing
// in any log line, file, error, stat, event or warning (against a server that requires it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import winston from 'winston';
import { PolyMongo } from '../index.mjs';
import { startServer } from '../scripts/test-server.mjs';
import { model, openSuite, uniqueDb } from './helpers.mjs';

const PREFIX = uniqueDb('logging');
const PASSWORD = 'Pw-s3cret-9876';
let suite;
let secured;
const dirs = [];

before(async () => {
  suite = await openSuite(PREFIX);
  secured = await startServer({ auth: { user: 'app', password: PASSWORD } });
});

after(async () => {
  await secured.stop();
  await suite.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'polymongo-rs-logs-'));
  dirs.push(dir);
  return dir;
};
const Item = (wrapper) => wrapper.wrapModel(model('Item', { n: Number }));

/** Runs `fn` with console.debug/info/warn/error and process warnings captured. */
async function capturingConsole(fn) {
  const lines = [];
  const saved = {};
  for (const level of ['debug', 'info', 'warn', 'error', 'log']) {
    saved[level] = console[level];
    console[level] = (...args) => lines.push(args.map(String).join(' '));
  }
  const onWarning = (warning) => lines.push(String(warning.message));
  process.on('warning', onWarning);
  try {
    await fn();
  } finally {
    Object.assign(console, saved);
    process.off('warning', onWarning);
  }
  return lines;
}

test('a password in the URI shows in no console line, log file, error, stat, event or warning', async () => {
  const logPath = tempDir();
  const wrong = secured.uri.replace(PASSWORD, 'Wrong-s3cret-5432');
  const own = `${PREFIX}_own`;
  const seen = [];
  const lines = await capturingConsole(async () => {
    const wrapper = PolyMongo.createWrapper({
      mongoURI: secured.uri, defaultDB: `${PREFIX}_main`, debug: true, logPath, handleSignals: false, retry: 1,
      dbSpecific: [{ dbName: own, mongoURI: wrong, options: { maxConnections: 2 } }],
    });
    wrapper.on('connect', (info) => seen.push(info));
    wrapper.on('disconnect', (info) => seen.push(info));
    wrapper.on('error', (err) => seen.push(err));
    const Items = Item(wrapper);
    await Items.db(`${PREFIX}_a`).create({ n: 1 });
    const err = await Items.db(own).findOne({}).catch((e) => e);
    assert.ok(err instanceof Error, 'the wrong password fails');
    seen.push(err, { message: err.message, stack: err.stack, ...err });
    seen.push(wrapper.stats.general(), await wrapper.stats.db(), wrapper.stats.prometheus());
    await wrapper.disconnect();
  });
  const files = readdirSync(logPath).map((name) => readFileSync(join(logPath, name), 'utf8'));
  const everything = [...lines, ...files, ...seen.map((x) => (typeof x === 'string' ? x : JSON.stringify(x, Object.getOwnPropertyNames(x))))];
  for (const secret of [PASSWORD, 'Wrong-s3cret-5432']) {
    const leaks = everything.filter((text) => text.includes(secret));
    assert.deepEqual(leaks, [], `${secret} leaked`);
  }
  // The URIs are there, masked: the check above looked where they are.
  assert.ok(files.join('').includes('mongodb://app:****@127.0.0.1'), files.join(''));
  assert.ok(lines.some((line) => line.includes('app:****@')));
  assert.ok(files.join('').includes('pool failed to open'));
  assert.ok(JSON.stringify(seen).includes('app:****@'));
});

test('the application\'s logger gets structured records: pino (fields first) and winston (message first)', async () => {
  const chunks = [];
  const sink = new Writable({ write(chunk, _enc, done) { chunks.push(chunk.toString()); done(); } });
  const pinoLogger = pino({ level: 'debug' }, sink);
  const entries = [];
  const winstonLogger = winston.createLogger({
    level: 'debug',
    transports: [new winston.transports.Stream({ stream: new Writable({ objectMode: true, write(info, _e, done) { entries.push(info); done(); } }) })],
  });
  const db = `${PREFIX}_logger`;
  for (const logger of [pinoLogger, winstonLogger]) {
    const wrapper = PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: db, handleSignals: false, logger });
    await Item(wrapper).findOne({});
    await wrapper.disconnect();
  }
  await new Promise((resolve) => setImmediate(resolve));
  const pinoRecords = chunks.join('').trim().split('\n').map((line) => JSON.parse(line));
  const opened = pinoRecords.find((r) => r.msg === 'pool opened');
  assert.equal(opened.level, 30);
  assert.equal(opened.component, 'polymongo-rs');
  assert.equal(opened.pool, 'shared');
  assert.equal(opened.uri, suite.uri);
  assert.ok(pinoRecords.some((r) => r.msg === 'pool closed' && r.reason === 'closed'));
  // Without `debug`, a tenant's first use (debug level) is not sent.
  assert.ok(!pinoRecords.some((r) => r.msg === 'database connect'));
  const closed = entries.find((e) => e.message === 'pool closed');
  assert.equal(closed.level, 'info');
  assert.equal(closed.reason, 'closed');
  assert.equal(closed.component, 'polymongo-rs');
});

test('debug.logHandler gets formatted lines; debug: true alone writes to the console and nothing to disk', async () => {
  const handled = [];
  const wrapper = PolyMongo.createWrapper({
    mongoURI: suite.uri, defaultDB: `${PREFIX}_handler`, handleSignals: false, debug: { log: true, logHandler: (line) => handled.push(line) },
  });
  await Item(wrapper).db(`${PREFIX}_handled`).findOne({});
  await wrapper.disconnect();
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(handled.some((line) => /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] \[DEBUG\] database connect .*db=\S+_handled/.test(line)), handled.join('\n'));
  assert.ok(handled.some((line) => line.includes('[INFO] pool opened')));

  // In a child process run in an empty folder: console lines, and the folder stays empty.
  const cwd = tempDir();
  const script = `
    const { PolyMongo } = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))});
    const w = PolyMongo.createWrapper({ mongoURI: ${JSON.stringify(suite.uri)}, defaultDB: ${JSON.stringify(`${PREFIX}_child`)}, debug: true });
    w.ping().then(() => w.disconnect());`;
  const child = spawnSync(process.execPath, ['-e', script], { cwd, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout + child.stderr, /\[polymongo-rs\] .*\[INFO\] pool opened/);
  assert.deepEqual(readdirSync(cwd), []);

  const quiet = spawnSync(process.execPath, ['-e', script.replace('debug: true', 'debug: false')], { cwd, encoding: 'utf8' });
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stdout + quiet.stderr, '');
});

test('log files rotate by size and keep a bounded number', async () => {
  const logPath = tempDir();
  const wrapper = PolyMongo.createWrapper({
    mongoURI: suite.uri, defaultDB: `${PREFIX}_rotate`, handleSignals: false, debug: { log: true, logPath }, logMaxBytes: 2000, logMaxFiles: 3,
  });
  const Items = Item(wrapper);
  for (let i = 0; i < 60; i++) await Items.db(`${PREFIX}_r${i}`).findOne({});
  await wrapper.disconnect();
  const names = readdirSync(logPath).sort();
  assert.deepEqual(names, ['polymongo-rs.log', 'polymongo-rs.log.1', 'polymongo-rs.log.2']);
  for (const name of names) assert.ok(statSync(join(logPath, name)).size < 2000 + 500, name);
  // The newest lines are in the file without a suffix.
  assert.match(readFileSync(join(logPath, 'polymongo-rs.log'), 'utf8'), /DEBUG database disconnect .*reason="closed"/);
  assert.throws(() => PolyMongo.createWrapper({ mongoURI: suite.uri, logger: {} }), { code: 'ERR_INVALID_ARG_TYPE', option: 'logger' });
});
