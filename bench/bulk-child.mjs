// One bulk task of one contender, in a process of its own so that its peak RSS is its own:
//
//   node bench/bulk-child.mjs <contender> <task> <uri> <source db> <target db> <path>
//
// contender: polymongo-rs | polymongo (PolyMongo 1.3); task: export | import | copy, and for
// polymongo-rs export-dump | import-dump (mongodump's layout; <path> is a folder). Prints one JSON
// object: { ms, peakRssMB, startRssMB }.
import { createReadStream, createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PolyMongo } from '../index.mjs';

const require = createRequire(import.meta.url);
const [contender, task, uri, source, target, file] = process.argv.slice(2);

const tasks = {
  'polymongo-rs': () => {
    const wrapper = PolyMongo.createWrapper({ mongoURI: uri, handleSignals: false });
    const { actions } = wrapper;
    return {
      export: () => pipeline(actions.exportDBStream(source), createWriteStream(file)),
      import: () => actions.importDBStream(target, createReadStream(file)),
      'export-dump': () => actions.exportDB(source, { format: 'dump', dir: file }),
      'import-dump': () => actions.importDB(target, { dir: path.join(file, source) }),
      copy: () => actions.copyDatabase(source, target),
      close: () => wrapper.disconnect(),
    };
  },
  polymongo: () => {
    const wrapper = require('polymongo').createWrapper({ mongoURI: uri, defaultDB: source });
    const { bulkTasks } = wrapper;
    return {
      export: () => pipeline(bulkTasks.exportStream(source), createWriteStream(file)),
      import: () => bulkTasks.importStream(target, createReadStream(file)),
      copy: () => bulkTasks.copyDatabase(source, target),
      close: () => wrapper.actions.forceCloseAll(),
    };
  },
};

const made = tasks[contender]?.();
if (!made?.[task]) {
  console.error(`bulk-child: no task ${task} for ${contender}`);
  process.exit(2);
}
const startRssMB = process.memoryUsage().rss / 1e6;
const started = performance.now();
await made[task]();
const ms = performance.now() - started;
// ru_maxrss: the process's peak resident set, in KiB.
const peakRssMB = (process.resourceUsage().maxRSS * 1024) / 1e6;
await made.close();
console.log(JSON.stringify({ ms, peakRssMB, startRssMB }));
process.exit(0);
