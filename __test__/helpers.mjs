// Shared by the suites: the server to test against (MONGODB_URI, or a local secantusd-rs started for
// this file), a Node-driver client that checks what landed on the server independently of the addon,
// and unique database names so suites never see each other's data.
import { after, before } from 'node:test';
import mongoose from 'mongoose';
import { startServer } from '../scripts/test-server.mjs';
import { PolyMongo } from '../index.mjs';

export { mongoose };
const { MongoClient } = mongoose.mongo;
export const { ObjectId } = mongoose.mongo;

async function useServer() {
  if (process.env.MONGODB_URI) return { uri: process.env.MONGODB_URI, stop: async () => {} };
  return startServer();
}

let counter = 0;
export function uniqueDb(prefix = 'pmt') {
  return `${prefix}_${process.pid}_${Date.now() % 1e6}_${counter++}`;
}

/** A fresh Mongoose model (own registry, so suites can reuse model names). */
export function model(name, definition, options) {
  const base = new mongoose.Mongoose();
  return base.model(name, new base.Schema(definition, options));
}

/** Waits until `check()` (sync or async) holds, looking every 20 ms for up to `ms`; tells whether it does. */
export async function until(check, ms = 5_000) {
  for (const deadline = Date.now() + ms; Date.now() < deadline && !(await check());) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

/** The server's count of open client connections. */
export async function serverConnections(client) {
  const status = await client.db('admin').command({ serverStatus: 1 });
  return status.connections.current;
}

/** A suite's server, a Node-driver client observing it, and `close()`, which drops every database
 *  whose name starts with `prefix` and stops what the suite started. */
export async function openSuite(prefix) {
  const server = await useServer();
  // Polling monitoring: the client keeps the connections it has, with no RTT connection opening later.
  const client = await MongoClient.connect(server.uri, { maxPoolSize: 1, serverMonitoringMode: 'poll' });
  const close = async () => {
    const { databases } = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
    await Promise.all(databases.filter((d) => d.name.startsWith(prefix)).map((d) => client.db(d.name).dropDatabase()));
    await client.close();
    await server.stop();
  };
  return { uri: server.uri, client, close };
}

/** `openSuite(prefix)` opened before the file's tests and closed after them. Until then the object is
 *  empty; from then on it has `uri`, `client` and `close`, and `wrap(options)` makes a wrapper on
 *  `${prefix}_main` that leaves signals alone. */
export function useSuite(prefix) {
  const suite = {
    wrap: (options) => PolyMongo.createWrapper({ mongoURI: suite.uri, defaultDB: `${prefix}_main`, handleSignals: false, ...options }),
  };
  before(async () => {
    Object.assign(suite, await openSuite(prefix));
  });
  after(async () => {
    await suite.close();
  });
  return suite;
}
