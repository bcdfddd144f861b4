// Test data for the workloads, written and removed with the Node driver outside any contender.
import mongoose from 'mongoose';
import { COLLECTION, document } from './contenders.mjs';

export const connect = (uri) => mongoose.mongo.MongoClient.connect(uri);

/** Gives each database `count` benchmark documents; returns each one's first 100 `_id`s. */
export async function seed(client, databases, count) {
  const ids = [];
  for (const db of databases) {
    const { insertedIds } = await client.db(db).collection(COLLECTION).insertMany(Array.from({ length: count }, (_, n) => document(n)));
    ids.push(Object.values(insertedIds).slice(0, 100));
  }
  return ids;
}

/** Names of the databases whose name starts with `prefix`. */
export async function databasesNamed(client, prefix) {
  const { databases } = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
  return databases.map((d) => d.name).filter((name) => name.startsWith(prefix));
}

/** Drops every database whose name starts with `prefix`, 16 at a time. */
export async function dropDatabases(client, prefix) {
  const names = await databasesNamed(client, prefix);
  const next = names.values();
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (const name of next) await client.db(name).dropDatabase();
  }));
}

export async function serverConnections(client) {
  const { connections } = await client.db('admin').command({ serverStatus: 1 });
  return connections;
}
