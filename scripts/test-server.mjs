// The local test server: SecantusDB's `secantusd-rs`, a MongoDB-wire server in Rust (GPL-2.0, run as
// a separate tool, never linked). Installed once into a cache outside the repo, started on a free port
// with a throwaway storage dir. `node scripts/test-server.mjs` installs it and prints where.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVER_VERSION = '0.5.3-beta.196';
const cacheDir = process.env.POLYMONGO_CACHE_DIR ?? join(homedir(), '.cache', 'polymongo-rs');
const installRoot = join(cacheDir, `secantus-${SERVER_VERSION}`);
const binary = join(installRoot, 'bin', 'secantusd-rs');
const START_TIMEOUT_MS = 30_000;

function run(command, args) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    throw new Error(`test server install: \`${command} ${args.join(' ')}\` failed (${result.error?.message ?? `exit ${result.status}`})`);
  }
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs secantusd-rs into the cache if it is not there yet (about 7 minutes, once). */
export function ensureInstalled() {
  if (existsSync(binary)) return binary;
  console.error(`polymongo-rs: installing the test server secantusd-rs ${SERVER_VERSION} into ${installRoot} (one time, ~7 min)`);
  if (!has('cmake')) {
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'cmake']);
  }
  run('cargo', ['install', 'secantus-mdb', '--version', SERVER_VERSION, '--locked', '--ignore-rust-version', '--root', installRoot]);
  return binary;
}

/** Runs the server on `port` (0: a free one) with its data in `dir`; resolves once it listens. */
async function launch(dir, port, extra = []) {
  // An empty config file of our own keeps a stray ~/.secantus/secantusd.toml from changing the server.
  const config = join(dir, 'secantusd.toml');
  writeFileSync(config, '');
  const args = ['--config', config, '--host', '127.0.0.1', '--port', String(port), '--storage-path', join(dir, 'data'),
    '--log-file-max', '1MB', '--cache-size', '256M', '--log-level', 'WARNING', ...extra];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test server did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const scan = (data) => {
      output += data;
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', scan);
    child.stderr.on('data', scan);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test server exited with ${code} before listening:\n${output}`));
    });
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout.resume();
  child.stderr.resume();
  const kill = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { port: listening, kill };
}

/** Starts a server on 127.0.0.1 and a free port; resolves to `{ uri, stop, restart }`. `restart()`
 *  stops it and starts it again on the same port and data, as a deployment going away and back.
 *  With `auth: { user, password }` the server requires SCRAM authentication, `user` is created (as
 *  root) and the URI carries the credentials. */
export async function startServer({ auth } = {}) {
  ensureInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'polymongo-rs-server-'));
  const extra = auth ? ['--auth'] : [];
  let server = await launch(dir, 0, extra);
  let uri = `mongodb://127.0.0.1:${server.port}`;
  if (auth) {
    // The first user is created through the localhost exception, as with mongod.
    const { MongoClient } = await import('mongodb');
    const client = await MongoClient.connect(uri);
    await client.db('admin').command({ createUser: auth.user, pwd: auth.password, roles: ['root'] });
    await client.close();
    uri = `mongodb://${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@127.0.0.1:${server.port}/?authSource=admin`;
  }
  const stop = async () => {
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  const restart = async ({ downMs = 0 } = {}) => {
    await server.kill();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    server = await launch(dir, server.port, extra);
  };
  return { uri, stop, restart };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(ensureInstalled());
}
