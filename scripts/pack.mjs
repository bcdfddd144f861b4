// `npm run pack [-- [--out <dir>] [--dist]]`: the npm tarballs of polymongo-rs and of this
// platform's addon package (npm/<platform>), ready for `npm publish <tarball>` or an offline install.
// By default it packs the addon `npm run build` made; `--dist` first builds it with the `dist`
// profile (fat LTO, one codegen unit, stripped: see Cargo.toml), as a release does.
// The published package.json has no scripts and no devDependencies: its `prepare` builds from source,
// which a user installing the tarball has neither the sources nor a reason to do.
// Prints `{ main, platform }`: each tarball's path and size in bytes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'target', 'pack') }, dist: { type: 'boolean', default: false } } });
const out = resolve(values.out);

/** napi-rs's name of this platform (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ...). */
function platformName() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'win32') return `${base}-msvc`;
  if (process.platform !== 'linux') return base;
  return `${base}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal})`);
  return result.stdout;
}

/** `npm pack` of `dir` into `out`; the tarball's path. */
function pack(dir) {
  const [{ filename }] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], dir));
  return join(out, filename);
}

const platform = platformName();
const addon = `polymongo-rs.${platform}.node`;
mkdirSync(out, { recursive: true });
let built = join(root, addon);
const staging = mkdtempSync(join(tmpdir(), 'polymongo-rs-pack-'));
try {
  if (values.dist) {
    const napi = ['--no-install', 'napi', 'build', '--platform', '--profile', 'dist', '--manifest-path', 'crates/node/Cargo.toml', '--output-dir', staging];
    run('npx', napi, root);
    built = join(staging, addon);
  }
  // The platform package is its npm/ folder plus the addon, assembled outside the source tree.
  const platformDir = join(staging, platform);
  cpSync(join(root, 'npm', platform), platformDir, { recursive: true });
  copyFileSync(built, join(platformDir, addon));
  copyFileSync(join(root, 'LICENSE'), join(platformDir, 'LICENSE'));
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (JSON.parse(readFileSync(join(platformDir, 'package.json'), 'utf8')).version !== version) {
    throw new Error(`npm/${platform}/package.json's version is not ${version}`);
  }
  // The main package: the files `npm pack` would take from the source tree, in a folder of its own.
  const mainDir = join(staging, 'main');
  const [{ files }] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--dry-run', '--json'], root));
  for (const { path } of files) cpSync(join(root, path), join(mainDir, path));
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  delete manifest.scripts;
  delete manifest.devDependencies;
  writeFileSync(join(mainDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const tarballs = { main: pack(mainDir), platform: pack(platformDir) };
  console.log(JSON.stringify(Object.fromEntries(Object.entries(tarballs).map(([k, path]) => [k, { path, bytes: statSync(path).size }]))));
} finally {
  rmSync(staging, { recursive: true, force: true });
}
