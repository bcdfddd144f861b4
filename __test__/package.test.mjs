// What npm users get: the package and this platform's addon package, packed as `npm run pack` packs
// them, installed into a fresh project with no Rust toolchain on PATH, then used from CommonJS, ESM
// and the CLI against the test server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useSuite } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const suite = useSuite('pmpack');

/** PATH without the folders that hold cargo or rustc. */
function pathWithoutRust() {
  return process.env.PATH.split(delimiter)
    .filter((dir) => !['cargo', 'rustc'].some((tool) => existsSync(join(dir, tool))))
    .join(delimiter);
}

const tarFiles = (tarball) => execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();

test('packed, installed without Rust, and used from CommonJS, ESM, the CLI and the README\'s quick start', { timeout: 180_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'polymongo-rs-package-'));
  try {
    const packed = spawnSync(process.execPath, [join(root, 'scripts/pack.mjs'), '--out', join(work, 'tarballs')], { encoding: 'utf8' });
    assert.equal(packed.status, 0, packed.stderr);
    const { main, platform } = JSON.parse(packed.stdout);

    // Contents: what runs, its typings, README and LICENSE; no sources, tests, benches or build output.
    const files = tarFiles(main.path);
    for (const needed of ['package.json', 'README.md', 'LICENSE', 'index.js', 'index.mjs', 'index.d.ts', 'index.d.mts', 'native.js', 'native.d.ts', 'bin/polymongo-rs.js', 'lib/wrapper/polymongo.js', 'lib/driver/mongoose.js']) {
      assert.ok(files.includes(needed), `${needed} is packed`);
    }
    for (const file of files) {
      assert.match(file, /^(package\.json|README\.md|LICENSE|index\.(js|mjs|d\.ts|d\.mts)|native\.(js|d\.ts)|bin\/[\w-]+\.js|lib\/(driver|wrapper)\/[\w-]+\.js)$/, `${file} belongs in the package`);
    }
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', main.path, 'package/package.json'], { encoding: 'utf8' }));
    assert.equal(manifest.scripts, undefined, 'no install-time build');
    assert.equal(manifest.devDependencies, undefined);
    assert.equal(manifest.optionalDependencies['polymongo-rs-linux-x64-gnu'], manifest.version);
    assert.deepEqual(tarFiles(platform.path), ['LICENSE', 'README.md', 'package.json', 'polymongo-rs.linux-x64-gnu.node']);

    const app = join(work, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const env = { ...process.env, PATH: pathWithoutRust(), MONGODB_URI: suite.uri, npm_config_yes: 'true' };
    assert.equal(spawnSync('cargo', ['--version'], { env }).error?.code, 'ENOENT', 'cargo is off PATH');
    assert.equal(spawnSync('rustc', ['--version'], { env }).error?.code, 'ENOENT', 'rustc is off PATH');
    // mongoose is the application's (a peer dependency); packages come from npm's cache when it has them.
    const { version: mongooseVersion } = JSON.parse(readFileSync(join(root, 'node_modules/mongoose/package.json'), 'utf8'));
    const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', main.path, platform.path, `mongoose@${mongooseVersion}`], { cwd: app, env, encoding: 'utf8' });
    assert.equal(install.status, 0, install.stdout + install.stderr);
    assert.doesNotMatch(install.stdout + install.stderr, /install-scripts|prepare/);
    assert.ok(!existsSync(join(app, 'node_modules/polymongo-rs/polymongo-rs.linux-x64-gnu.node')), 'the addon comes from the platform package');

    const tenant = `pmpack_${process.pid}`;
    writeFileSync(join(app, 'main.cjs'), `
      const mongoose = require('mongoose');
      const PolyMongo = require('polymongo-rs');
      const wrapper = PolyMongo.createWrapper({ mongoURI: process.env.MONGODB_URI, defaultDB: 'pmpack_main', handleSignals: false });
      const Note = wrapper.wrapModel(mongoose.model('Note', new mongoose.Schema({ text: String })));
      (async () => {
        await Note.db('${tenant}').create({ text: 'from cjs' });
        console.log(JSON.stringify({ binding: require.resolve('polymongo-rs-linux-x64-gnu'), notes: await Note.db('${tenant}').find({}, { _id: 0, text: 1 }).lean() }));
        await wrapper.disconnect();
      })().catch((err) => { console.error(err); process.exit(1); });
    `);
    writeFileSync(join(app, 'main.mjs'), `
      import mongoose from 'mongoose';
      import { PolyMongo } from 'polymongo-rs';
      const wrapper = PolyMongo.createWrapper({ mongoURI: process.env.MONGODB_URI, defaultDB: 'pmpack_main', handleSignals: false });
      const Note = wrapper.wrapModel(mongoose.model('Note', new mongoose.Schema({ text: String })));
      const note = await Note.db('${tenant}').create({ text: 'from esm' });
      console.log(JSON.stringify({ isDocument: note instanceof mongoose.Document, count: await Note.db('${tenant}').countDocuments() }));
      await wrapper.disconnect();
    `);
    const node = (file) => {
      const run = spawnSync(process.execPath, [file], { cwd: app, env, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      return JSON.parse(run.stdout);
    };
    const cjs = node('main.cjs');
    assert.deepEqual(cjs.notes, [{ text: 'from cjs' }]);
    assert.equal(cjs.binding, join(app, 'node_modules/polymongo-rs-linux-x64-gnu/polymongo-rs.linux-x64-gnu.node'));
    assert.deepEqual(node('main.mjs'), { isDocument: true, count: 2 });

    // The README's quick start, as written: it writes to `acme` (and reads `globex`), which it drops
    // after; on a server that already has either, it is not run (never touching data not its own).
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const quickStart = readme.match(/<!-- quick-start[^\n]*\n```js\n([\s\S]*?)```/)[1];
    writeFileSync(join(app, 'quick-start.mjs'), quickStart);
    const { databases } = await suite.client.db('admin').command({ listDatabases: 1, nameOnly: true });
    const theirs = databases.map((d) => d.name).filter((name) => ['acme', 'globex', 'main'].includes(name));
    if (theirs.length > 0) {
      t.diagnostic(`the README's quick start not run: the server already has ${theirs.join(', ')}`);
    } else {
      try {
        const run = spawnSync(process.execPath, ['quick-start.mjs'], { cwd: app, env, encoding: 'utf8' });
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.stdout, "[]\n[ 'acme', 'globex' ]\n");
      } finally {
        await Promise.all(['acme', 'globex', 'main'].map((db) => suite.client.db(db).dropDatabase()));
      }
    }

    const cli = spawnSync(join(app, 'node_modules/.bin/polymongo-rs'), ['ls', '--json'], { cwd: app, env, encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.ok(JSON.parse(cli.stdout).some((db) => db.dbName === tenant), cli.stdout);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
