// The TypeScript typings compile against real PolyMongo-style code (strict mode), and stay in step
// with what the package exports at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esm from 'polymongo-rs';

const require = createRequire(import.meta.url);

// Mongoose 8's typings (the devDependency) and Mongoose 9's (`mongoose9`, mapped onto `mongoose` by
// the second tsconfig's `paths`): `@ts-expect-error` lines that compile are errors of their own.
for (const [mongoose, config] of [['8', 'tsconfig.json'], ['9', 'tsconfig.mongoose9.json']]) {
  test(`index.d.ts type-checks strict TypeScript programs against Mongoose ${mongoose}'s typings`, () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const project = fileURLToPath(new URL(`./types/${config}`, import.meta.url));
    const result = spawnSync(process.execPath, [tsc, '-p', project, '--listFilesOnly'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const typings = result.stdout.split('\n').find((file) => /node_modules\/mongoose9?\/types\/index\.d\.ts$/.test(file));
    assert.match(typings, mongoose === '8' ? /node_modules\/mongoose\// : /node_modules\/mongoose9\//);
    const checked = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  });
}

test('CommonJS and ESM see the same exports', () => {
  const cjs = require('polymongo-rs');
  for (const name of Object.keys(cjs)) assert.equal(esm[name], cjs[name], name);
  assert.equal(esm.default, cjs.PolyMongo);
  assert.equal(typeof cjs.PolyMongo.createWrapper, 'function');
  assert.equal(typeof esm.PolyMongoWrapper, 'function');
  assert.equal(esm.createWrapper, cjs.PolyMongo.createWrapper);
});

test('PolyMongo is a class, as PolyMongo 1.3\'s export is: createWrapper() and new make wrappers', async () => {
  const cjs = require('polymongo-rs');
  for (const wrapper of [new cjs({ mongoURI: 'mongodb://127.0.0.1:1' }), cjs.createWrapper({ mongoURI: 'mongodb://127.0.0.1:1' }), new esm.default({ mongoURI: 'mongodb://127.0.0.1:1' })]) {
    assert.ok(wrapper instanceof esm.PolyMongoWrapper && wrapper instanceof esm.PolyMongo);
    assert.equal(wrapper.getConnectionState(), 'not initialized');
    await wrapper.disconnect();
  }
  assert.throws(() => new cjs({ mongoURI: 'http://x' }), { name: 'TypeError' });
});
