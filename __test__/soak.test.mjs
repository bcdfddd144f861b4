// A 60-second soak (`scripts/soak.mjs`; `npm run soak` runs it for 10 minutes): mixed load over 200
// tenant databases with pool, connection-cache, cursor, stream and session churn. No operation fails,
// the JS heap, the process's handles and the server's connections stay flat, and everything is
// released after `disconnect()`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soak } from '../scripts/soak.mjs';
import { useSuite, uniqueDb } from './helpers.mjs';

const suite = useSuite(uniqueDb('soak'));

test('60 s of mixed multi-tenant load with churn: nothing fails, nothing grows, everything is released', { timeout: 180_000 }, async (t) => {
  const result = await soak({ uri: suite.uri, durationMs: 60_000, log: (line) => t.diagnostic(line) });
  t.diagnostic(`slopes per minute: ${JSON.stringify(result.slopes)}; ${result.ops} operations`);
  assert.deepEqual(result.errors, {});
  assert.ok(result.ops > 1_000, `${result.ops} operations`);
  // A leak of a kilobyte per operation would grow the heap by several MB a minute at this rate.
  assert.ok(result.slopes.heapMB < 4, `heap ${result.slopes.heapMB} MB/min`);
  assert.ok(result.slopes.handles <= 1, `handles ${result.slopes.handles}/min`);
  // The pools' sizes bound the connections: the shared pool (10), 3 dedicated pools of 2 and the
  // stream clients, each with its monitoring connections.
  assert.ok(Math.max(...result.samples.map((s) => s.connections)) - result.baseline.connections <= 40, JSON.stringify(result.samples));
  assert.ok(result.clean, `after disconnect(): ${JSON.stringify(result.after)}, baseline ${JSON.stringify(result.baseline)}`);
});
