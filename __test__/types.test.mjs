// The TypeScript typings compile against real PolyMongo-style code (strict mode), and stay in step
// with what the package exports at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esm from 'polymongo-rs';

const require = createRequire(import.meta.url);

test('index.d.ts type-checks a strict TypeScript program that uses the API', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const project = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));
  const result = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('CommonJS and ESM see the same exports', () => {
  const cjs = require('polymongo-rs');
  for (const name of Object.keys(cjs)) assert.equal(esm[name], cjs[name], name);
  assert.equal(esm.default, cjs.PolyMongo);
  assert.equal(typeof cjs.PolyMongo.createWrapper, 'function');
  assert.equal(typeof esm.PolyMongoWrapper, 'function');
});
