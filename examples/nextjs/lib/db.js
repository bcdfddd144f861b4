// The app's database access: one polymongo-rs wrapper per process, a database per tenant.
//
// Next.js evaluates this module more than once in one process: `next dev` evaluates it again after
// every edit to it or to a file that imports it, and route handlers and server components are
// separate bundles, each with its own instance. A wrapper made at module scope would be made again
// each time, with a connection pool of its own that nobody closes, and the MongoDB server's
// connection count would climb with every save (the connection storm of Next.js dev mode). So the
// wrapper is kept on `globalThis`, which every instance of this module shares. `mongoose` and
// `polymongo-rs` themselves are `serverExternalPackages`: Node loads them once per process.
import mongoose from 'mongoose';
import { PolyMongo } from 'polymongo-rs';

const noteSchema = new mongoose.Schema(
  { text: { type: String, required: true, trim: true, maxlength: 500 } },
  { timestamps: true },
);

// Registered once per process: registering a model name again throws OverwriteModelError.
// (Schema edits in `next dev` therefore take effect on a restart.)
const NoteModel = mongoose.models.Note ?? mongoose.model('Note', noteSchema);

/** The process's wrapper and wrapped models, made on first use (so `next build`, which loads this
 *  module, needs no MONGODB_URI; creating a wrapper does no I/O anyway). */
function app() {
  globalThis.__polymongoNotes ??= open();
  return globalThis.__polymongoNotes;
}

function open() {
  // An empty value, as a `.env` template leaves it, is no value.
  const mongoURI = process.env.MONGODB_URI;
  if (!mongoURI) {
    throw new Error('MONGODB_URI is not set: set it to your MongoDB connection string, e.g. MONGODB_URI=mongodb://127.0.0.1:27017');
  }
  const wrapper = PolyMongo.createWrapper({ mongoURI, defaultDB: 'notes_app' });
  return { wrapper, Note: wrapper.wrapModel(NoteModel) };
}

/** Tenant ids as URLs carry them. polymongo-rs refuses names MongoDB does not allow, but `admin` or
 *  `config` are valid database names: tenant ids are checked against the app's own pattern, and
 *  each tenant's database gets a prefix of its own. */
const TENANT_ID = /^[a-z0-9_]{1,32}$/;

/** The Note model in `tenant`'s database, or null when `tenant` is not a valid tenant id. */
export function notesOf(tenant) {
  if (typeof tenant !== 'string' || !TENANT_ID.test(tenant)) return null;
  return app().Note.db(`tenant_${tenant}`);
}

/** The process's wrapper, for health checks and stats (`wrapper.ping()`, `wrapper.stats.general()`). */
export function wrapper() {
  return app().wrapper;
}
