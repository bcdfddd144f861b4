// The ceiling contender: bench/ceiling/main.rs, the workloads on the `mongodb` crate alone. Built
// into the addon's target dir (about a minute the first time) and run once per measurement.
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CONTENDERS } from './contenders.mjs';
import { alternate } from './report.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
export const CEILING = { key: 'ceiling', name: 'Rust mongodb 3.9 crate (ceiling, no napi)' };

/** The keys a workload runs in a round: its JS contenders in alternating order, and the ceiling when
 *  it built. */
export const lineup = (keys, round, ceiling) => alternate(ceiling ? [...keys, CEILING.key] : keys, round);
/** A contender's row name, the ceiling's included. */
export const nameOf = (key) => (key === CEILING.key ? CEILING.name : CONTENDERS[key].name);

/** Builds the program; its path, or undefined (with the reason printed) when cargo cannot. */
export function buildCeiling() {
  const build = spawnSync(
    'cargo',
    ['build', '--release', '--quiet', '--message-format=json', '--manifest-path', 'bench/ceiling/Cargo.toml'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CARGO_TARGET_DIR: `${root}target` }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const executable = build.stdout
    ?.split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .find((message) => message.reason === 'compiler-artifact' && message.executable)?.executable;
  if (build.status !== 0 || !executable) {
    console.error(`bench: the Rust ceiling did not build (${build.error?.message ?? `cargo exited ${build.status}`}); its rows stay empty`);
    return undefined;
  }
  return executable;
}

/** One measurement by the ceiling program: the request's result object. */
export async function askCeiling(executable, uri, request) {
  const { stdout } = await promisify(execFile)(executable, [uri, JSON.stringify(request)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}
