// Shared by the suites: the server to test against (MONGODB_URI, or a local secantusd-rs started for
// this file), a Node-driver client that checks what landed on the server independently of the addon,
// and unique database names so suites never see each other's data.
import mongoose from 'mongoose';
import { startServer } from '../scripts/test-server.mjs';

export { mongoose };
export const { MongoClient, ObjectId } = mongoose.mongo;

export async function useServer() {
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

/** The server's count of open client connections. */
export async function serverConnections(client) {
  const status = await client.db('admin').command({ serverStatus: 1 });
  return status.connections.current;
}

/** Drops every database whose name starts with `prefix`. */
export async function dropDatabases(client, prefix) {
  const { databases } = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
  await Promise.all(databases.filter((d) => d.name.startsWith(prefix)).map((d) => client.db(d.name).dropDatabase()));
}
