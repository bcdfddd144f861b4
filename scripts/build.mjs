// Builds the native addon (release) and its generated loader + typings. Cargo rebuilds only what
// changed, so running this before every test or demo costs about a second when nothing did.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const napi = ['napi', 'build', '--platform', '--release', '--manifest-path', 'crates/node/Cargo.toml', '--output-dir', '.', '--js', 'native.js', '--dts', 'native.d.ts'];
const run = spawnSync('npx', ['--no-install', ...napi], { cwd: root, stdio: 'inherit' });
if (run.status !== 0) {
  console.error('polymongo-rs: building the native addon failed (it needs Rust: https://rustup.rs)');
  process.exit(run.status ?? 1);
}
