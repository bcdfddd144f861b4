// `npm run fuzz [-- seconds]`: coverage-guided fuzzing of the engine's entry points for hostile input
// (request decoding, the document, filter and update casts, database names, URI redaction) with
// AFL++ through cargo-afl, on stable Rust. Installs cargo-afl once, builds `fuzz/` instrumented,
// fuzzes for `seconds` (600 unless given) from `fuzz/seeds` and the kept corpus, prints AFL++'s
// figures, and minimizes what it kept into `crates/engine/tests/corpus`, which `cargo test` replays.
// Exits 1 if AFL++ found a crash (the inputs are in fuzz/out/default/crashes). Not part of `npm test`:
// it runs for minutes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const fuzz = join(root, 'fuzz');
const corpus = join(root, 'crates/engine/tests/corpus');
const seconds = Number(process.argv[2] ?? 600);
if (!Number.isInteger(seconds) || seconds <= 0) {
  console.error('usage: npm run fuzz [-- seconds]');
  process.exit(2);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(1);
  }
}

if (spawnSync('cargo', ['afl', '--version'], { stdio: 'ignore' }).status !== 0) {
  run('cargo', ['install', 'cargo-afl', '--locked']);
  run('cargo', ['afl', 'config', '--build']);
}
run('cargo', ['afl', 'build', '--release'], { cwd: fuzz });

const inputs = mkdtempSync(join(tmpdir(), 'polymongo-fuzz-'));
cpSync(join(fuzz, 'seeds'), inputs, { recursive: true });
cpSync(corpus, inputs, { recursive: true });
// cargo-afl builds for the host's target triple explicitly.
const host = spawnSync('rustc', ['-vV'], { encoding: 'utf8' }).stdout.match(/^host: (.+)$/m)[1];
const target = join(fuzz, 'target', host, 'release/polymongo-fuzz');
const out = join(fuzz, 'out');
rmSync(out, { recursive: true, force: true });
const env = {
  ...process.env,
  // No core_pattern or CPU governor to tune in a container; a plain status line instead of the UI.
  AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES: '1',
  AFL_SKIP_CPUFREQ: '1',
  AFL_NO_UI: '1',
};
run('cargo', ['afl', 'fuzz', '-i', inputs, '-o', out, '-V', String(seconds), '--', target], { env });

const stats = Object.fromEntries(
  readFileSync(join(out, 'default/fuzzer_stats'), 'utf8')
    .split('\n')
    .filter((line) => line.includes(':'))
    .map((line) => line.split(':').map((part) => part.trim())),
);
const crashes = readdirSync(join(out, 'default/crashes')).filter((name) => name !== 'README.txt');
console.log(
  `AFL++: ${stats.execs_done} executions in ${stats.run_time} s (${stats.execs_per_sec}/s), ` +
    `${stats.corpus_count} inputs kept, coverage ${stats.bitmap_cvg}, ${crashes.length} crashes`,
);

// The queue minimized to the inputs that each reach something the others do not, named by content.
const minimized = mkdtempSync(join(tmpdir(), 'polymongo-fuzz-min-'));
rmSync(minimized, { recursive: true });
run('cargo', ['afl', 'cmin', '-i', join(out, 'default/queue'), '-o', minimized, '--', target], { env });
rmSync(corpus, { recursive: true, force: true });
cpSync(minimized, corpus, { recursive: true });
for (const name of readdirSync(corpus)) {
  const bytes = readFileSync(join(corpus, name));
  rmSync(join(corpus, name));
  writeFileSync(join(corpus, createHash('sha256').update(bytes).digest('hex').slice(0, 16)), bytes);
}
console.log(`corpus: ${readdirSync(corpus).length} inputs in crates/engine/tests/corpus`);
rmSync(inputs, { recursive: true, force: true });
rmSync(minimized, { recursive: true, force: true });
if (crashes.length > 0) {
  console.error(`crashes in ${join(out, 'default/crashes')}`);
  process.exit(1);
}
