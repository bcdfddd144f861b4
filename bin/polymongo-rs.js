#!/usr/bin/env node
'use strict';
// `npx polymongo-rs <command>`: the data actions from a shell. The URI comes from --uri or
// MONGODB_URI and is never printed. Exit codes: 0 done, 1 failed (or interrupted), 2 usage.

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { pipeline } = require('node:stream/promises');
const { Command, CommanderError, Option } = require('commander');
const cliProgress = require('cli-progress');
const { PolyMongo } = require('..');

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** A mistake in how the command was called: exit code 2. */
class UsageError extends Error {}

/** The codes of the errors polymongo-rs throws for arguments it refuses (a connection string, a
 *  database name, an option): a usage error here. */
const ARGUMENT_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_DB_NAME']);

/** Where progress and messages go: bars on a terminal, plain lines otherwise, nothing with --json. */
class Reporter {
  constructor(json) {
    this.json = json;
    this.tty = !json && process.stderr.isTTY;
    this.bars = this.tty
      ? new cliProgress.MultiBar(
          { format: ' {collection} |{bar}| {documents}/{totalText} documents, {mb} MB', hideCursor: true, clearOnComplete: false, stopOnComplete: true },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.current = null;
    this.lastLine = 0;
  }

  /** A task's progress event. */
  progress({ collection, documents, bytes, total }) {
    if (this.json || !collection) return;
    const mb = (bytes / 1e6).toFixed(1);
    if (this.bars) {
      if (this.current?.collection !== collection) {
        this.current?.bar.stop();
        this.current = { collection, bar: this.bars.create(total ?? 0, 0, { collection, totalText: total ?? '?', documents, mb }) };
      }
      this.current.bar.setTotal(Math.max(total ?? 0, documents));
      this.current.bar.update(documents, { collection, totalText: total ?? '?', documents, mb });
      return;
    }
    // Plain lines: one per collection started, then at most one a second.
    const now = Date.now();
    if (this.current?.collection === collection && now - this.lastLine < 1000) return;
    this.current = { collection };
    this.lastLine = now;
    process.stderr.write(`${collection}: ${documents}${total != null ? `/${total}` : ''} documents, ${mb} MB\n`);
  }

  stop() {
    this.bars?.stop();
  }

  /** The command's result: JSON with --json, else `text(result)`. */
  result(value, text) {
    this.stop();
    process.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : text(value));
  }
}

/** The wrapper for `--uri` / MONGODB_URI. */
function connect(options) {
  // An empty value (a `.env` template's) counts as unset.
  const mongoURI = options.uri || process.env.MONGODB_URI;
  if (!mongoURI) throw new UsageError('no connection string: pass --uri or set MONGODB_URI');
  return PolyMongo.createWrapper({ mongoURI, handleSignals: false, coldStart: true });
}

/** Runs `work(wrapper, reporter, signal)` with a wrapper, an AbortSignal fired by SIGINT / SIGTERM,
 *  and the wrapper closed after. */
async function run(options, work) {
  const reporter = new Reporter(options.json === true);
  const controller = new AbortController();
  const interrupt = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const wrapper = connect(options);
  try {
    await work(wrapper, reporter, controller.signal);
  } finally {
    reporter.stop();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await wrapper.disconnect().catch(() => {});
  }
}

const list = (value) => value.split(',').map((s) => s.trim()).filter(Boolean);

/** The `collections` option from --collections / --exclude. */
function collections(options) {
  if (!options.collections && !options.exclude) return undefined;
  return { include: options.collections, exclude: options.exclude ?? [] };
}

const bytes = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);

/** Writes to `target` through a file beside it renamed into place at the end, so that an
 *  interrupted or failed command leaves the target as it was. */
async function atomically(target, write) {
  const partial = `${target}.partial-${process.pid}`;
  try {
    const result = await write(partial);
    fs.renameSync(partial, target);
    return result;
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
}

async function exportCommand(db, options, command) {
  const global = command.optsWithGlobals();
  const format = options.format;
  if (format === 'dump' && !options.out) throw new UsageError('--format dump writes a folder: pass --out <dir>');
  if (format === 'mongoexport' && !options.collection) throw new UsageError('--format mongoexport is one collection: pass --collection <name>');
  await run(global, async (wrapper, reporter, signal) => {
    const common = { collections: collections(options), signal, onProgress: (p) => reporter.progress(p) };
    if (format === 'dump') {
      const out = path.resolve(options.out);
      const target = path.join(out, db);
      if (fs.existsSync(target)) throw new UsageError(`${target} exists: remove it or pass another --out`);
      fs.mkdirSync(out, { recursive: true });
      const summary = await atomically(target, async (partial) => {
        // mongodump's layout is `<dir>/<db>/`: written in a folder of its own, then moved.
        const staging = `${partial}.d`;
        try {
          const written = await wrapper.actions.exportDB(db, { ...common, format: 'dump', dir: staging, gzip: options.gzip === true });
          fs.renameSync(path.join(staging, db), partial);
          return { ...written, path: target };
        } finally {
          fs.rmSync(staging, { recursive: true, force: true });
        }
      });
      reporter.result(summary, (s) => `exported ${s.collections.length} collections, ${s.documents} documents (${bytes(s.bytes)}) to ${s.path}\n`);
      return;
    }
    const stream = wrapper.actions.exportDBStream(db, {
      ...common,
      ...(format === 'mongoexport' ? { format, collection: options.collection, jsonFormat: options.jsonFormat } : {}),
    });
    const stages = options.gzip ? [stream, zlib.createGzip()] : [stream];
    if (!options.out || options.out === '-') {
      await pipeline(...stages, process.stdout, { end: false }).catch((err) => {
        // A reader that stopped early (`| head`): the export is cut short, which `pipefail` sees.
        throw err?.code === 'EPIPE' ? new Error('the output was closed before the export ended') : err;
      });
      return;
    }
    const target = path.resolve(options.out);
    await atomically(target, (partial) => pipeline(...stages, fs.createWriteStream(partial)));
    reporter.result({ database: db, path: target, format }, () => `exported ${db} to ${target}\n`);
  });
}

async function importCommand(db, source, options, command) {
  const global = command.optsWithGlobals();
  await run(global, async (wrapper, reporter, signal) => {
    const common = {
      collections: collections(options),
      drop: options.drop === true,
      signal,
      onProgress: (p) => reporter.progress(p),
    };
    let summary;
    if (source !== '-' && fs.existsSync(source) && fs.statSync(source).isDirectory()) {
      summary = await wrapper.actions.importDB(db, { ...common, dir: path.resolve(source) });
    } else {
      if (source !== '-' && !fs.existsSync(source)) throw new UsageError(`${source}: no such file or folder`);
      const input = source === '-' ? process.stdin : fs.createReadStream(source);
      const gzipped = options.gzip === true || source.endsWith('.gz');
      const readable = gzipped ? input.pipe(zlib.createGunzip()) : input;
      const format = options.format === 'mongoexport' ? { format: 'mongoexport', collection: options.collection } : {};
      if (format.format && !options.collection) throw new UsageError('--format mongoexport is one collection: pass --collection <name>');
      summary = await wrapper.actions.importDBStream(db, readable, { ...common, ...format });
    }
    reporter.result(summary, (s) => {
      const failed = s.failureCount ? `, ${s.failureCount} failures` : '';
      return `imported ${s.insertedDocuments} documents in ${s.collections.length} collections, ${s.createdIndexes} indexes into ${db}${failed}\n`;
    });
    if (summary.failureCount) process.exitCode = EXIT_FAILED;
  });
}

async function copyCommand(from, to, options, command) {
  await run(command.optsWithGlobals(), async (wrapper, reporter, signal) => {
    const summary = await wrapper.actions.copyDatabase(from, to, {
      collections: collections(options),
      drop: options.drop === true,
      signal,
      onProgress: (p) => reporter.progress(p),
    });
    reporter.result(summary, (s) => `copied ${s.insertedDocuments} documents in ${s.collections.length} collections, ${s.createdIndexes} indexes from ${from} to ${to}\n`);
  });
}

async function dropCommand(db, options, command) {
  if (!options.force) throw new UsageError(`dropping ${db} deletes it: pass --force`);
  await run(command.optsWithGlobals(), async (wrapper, reporter) => {
    await wrapper.actions.dropDatabase(db, { force: true });
    reporter.result({ dropped: db }, () => `dropped ${db}\n`);
  });
}

async function lsCommand(options, command) {
  await run(command.optsWithGlobals(), async (wrapper, reporter) => {
    const databases = await wrapper.stats.listDatabases();
    reporter.result(databases, (list) => {
      const width = Math.max(8, ...list.map((d) => d.dbName.length));
      return `${'database'.padEnd(width)}  size MB\n${list.map((d) => `${d.dbName.padEnd(width)}  ${d.sizeInMB}`).join('\n')}\n`;
    });
  });
}

async function statsCommand(db, options, command) {
  await run(command.optsWithGlobals(), async (wrapper, reporter) => {
    const stats = await wrapper.stats.db(db ?? wrapper.defaultDB);
    const { dbName = db ?? wrapper.defaultDB, sizeMb, numCollections, collections: list = [] } = stats;
    const value = { dbName, sizeMb, numCollections, collections: list };
    reporter.result(value, () => {
      const width = Math.max(10, ...list.map((c) => c.name.length));
      const rows = list.map((c) => `${c.name.padEnd(width)}  ${String(c.docCount).padStart(10)}  ${c.sizeMb.toFixed(2)}`);
      return `${dbName}: ${numCollections} collections, ${sizeMb.toFixed(2)} MB\n${'collection'.padEnd(width)}  ${'documents'.padStart(10)}  size MB\n${rows.join('\n')}\n`;
    });
  });
}

function program() {
  const cli = new Command('polymongo-rs')
    .description('Export, import, copy, drop and look at MongoDB databases (polymongo-rs)')
    .option('--uri <uri>', 'the connection string (default: MONGODB_URI)')
    .option('--json', 'print the result as JSON, and no progress')
    .showHelpAfterError()
    .exitOverride();
  cli.command('ls').description('the databases, with their sizes').action(lsCommand);
  cli.command('stats [db]').description("a database's collections, documents and sizes").action(statsCommand);
  cli
    .command('export <db>')
    .description('export a database: NDJSON (stdout or --out file), a mongodump folder, or one collection as mongoexport writes it')
    .option('--out <file|dir>', 'where to write (NDJSON: a file, or - for stdout; dump: a folder)')
    .addOption(new Option('--format <format>', 'what to write').choices(['ndjson', 'dump', 'mongoexport']).default('ndjson'))
    .option('--gzip', 'gzip the output (dump: each file)')
    .option('--collection <name>', 'the collection of --format mongoexport')
    .addOption(new Option('--json-format <format>', 'mongoexport Extended JSON').choices(['relaxed', 'canonical']).default('relaxed'))
    .action(exportCommand);
  cli
    .command('import <db> <source>')
    .description('import NDJSON (a file, .gz or - for stdin) or a mongodump folder into a database')
    .option('--drop', 'replace the collections imported')
    .option('--gzip', 'the input is gzipped (implied by a .gz name)')
    .addOption(new Option('--format <format>', 'what the file holds').choices(['ndjson', 'mongoexport']).default('ndjson'))
    .option('--collection <name>', 'the collection of --format mongoexport')
    .action(importCommand);
  cli
    .command('copy <from> <to>')
    .description('copy a database: documents, indexes and collection options')
    .option('--drop', 'replace the collections copied')
    .action(copyCommand);
  cli.command('drop <db>').description('drop a database').option('--force', 'really drop it').action(dropCommand);
  for (const name of ['export', 'import', 'copy']) {
    cli.commands
      .find((command) => command.name() === name)
      .option('--collections <names>', 'only these collections (comma-separated)', list)
      .option('--exclude <names>', 'leave these collections out (comma-separated)', list);
  }
  return cli;
}

/** Prints a failure: a line on stderr, or with --json a JSON object on stdout. */
function report(argv, name, message, code) {
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { name, message, code } })}\n`);
  // Our own errors' messages already start with the name.
  else process.stderr.write(`polymongo-rs: ${name === 'AbortError' ? 'interrupted' : message.replace(/^polymongo-rs: /, '')}\n`);
}

async function main(argv) {
  try {
    await program().parseAsync(argv);
    return process.exitCode ?? 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version print and end well; the rest is a usage error, already printed.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof UsageError || ARGUMENT_CODES.has(err?.code)) {
      report(argv, 'UsageError', err.message, err.code);
      return EXIT_USAGE;
    }
    report(argv, err?.name ?? 'Error', `${err?.name ?? 'Error'}: ${err?.message ?? err}`, err?.code);
    return EXIT_FAILED;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
