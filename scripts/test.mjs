// `npm test`: builds the addon, starts the local test server (unless MONGODB_URI names one), runs the
// Rust unit tests and the end-to-end suites against it, and stops the server whatever happened.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './test-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

function run(command, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' });
    child.once('error', (err) => {
      console.error(`${command}: ${err.message}`);
      resolve(1);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if ((await run('node', ['scripts/build.mjs'])) !== 0) process.exit(1);

/**
 * The type-definition folder `napi build` compiled the addon with (`target/napi-rs/polymongo-rs-<hash>`,
 * the newest one). napi-build's build script reruns when `NAPI_TYPE_DEF_TMP_FOLDER` changes, and the
 * build script's run is shared by `cargo test` and `napi build`: a `cargo test` without the variable
 * would recompile the addon's crate, and the next `npm run build` again (35 s each here).
 */
function napiTypeDefFolder() {
  const dir = join(root, 'target', 'napi-rs');
  const folders = readdirSync(dir)
    .filter((name) => name.startsWith('polymongo-rs-'))
    .map((name) => ({ path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs }));
  return folders.sort((a, b) => b.mtime - a.mtime)[0]?.path;
}

/**
 * Headless Chromium for the status page's test: Debian's `chromium` package, installed with apt as the
 * test server's cmake is when it is missing and this runs as root; otherwise that test is skipped and
 * says why. CHROMIUM_PATH names another browser.
 */
function ensureChromium() {
  if (process.env.CHROMIUM_PATH || existsSync('/usr/bin/chromium')) return;
  const apt = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
  if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) return;
  console.error('polymongo-rs: installing chromium with apt for the status page test (one time)');
  if (!apt(['update', '-qq']) || !apt(['install', '-y', '-qq', 'chromium'])) console.error('polymongo-rs: chromium not installed: the status page test will be skipped');
}

ensureChromium();
const server = process.env.MONGODB_URI ? null : await startServer();
// An empty MONGODB_URI (a `.env` template's) counts as unset.
const env = { ...process.env, MONGODB_URI: process.env.MONGODB_URI || server.uri };
const typeDefs = napiTypeDefFolder();
if (typeDefs) env.NAPI_TYPE_DEF_TMP_FOLDER = typeDefs;
let failures = 0;
try {
  // Release, like the addon build, so both share one build of the dependencies.
  failures += (await run('cargo', ['test', '--release'], env)) !== 0;
  // The admission's loom models, on an engine built with loom's locks (it runs nothing else).
  const loom = ['test', '--release', '-p', 'polymongo-engine', '--features', 'loom', '--lib', 'loom_models'];
  failures += (await run('cargo', loom, env)) !== 0;
  // One file at a time: suites read the server's global connection counts.
  failures += (await run('node', ['--test', '--test-concurrency=1', '__test__/'], env)) !== 0;
} finally {
  await server?.stop();
}
process.exit(failures === 0 ? 0 : 1);
