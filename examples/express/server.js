'use strict';
// Entry point: MONGODB_URI=mongodb://127.0.0.1:27017 node server.js
// Environment: MONGODB_URI (required), PORT (default 3000; 0 picks a free one), BASE_DOMAIN
// (tenants as subdomains of it), TENANT_DB_PREFIX (default tenant_), ADMIN_TOKEN (enables /admin/status).
const { createApp } = require('./app');

// Empty counts as unset, as a .env template leaves it.
const env = (name) => process.env[name] || undefined;
const mongoURI = env('MONGODB_URI');
if (!mongoURI) {
  console.error('MONGODB_URI is not set: set it to your MongoDB connection string, e.g. MONGODB_URI=mongodb://127.0.0.1:27017 node server.js');
  process.exit(1);
}

const { app, wrapper } = createApp({
  mongoURI,
  baseDomain: env('BASE_DOMAIN'),
  dbPrefix: env('TENANT_DB_PREFIX'),
  adminToken: env('ADMIN_TOKEN'),
});
// Failures in the background (an index build in a tenant's database) arrive here, not in a request.
wrapper.on('error', (err) => console.error(`polymongo-rs: ${err.db ?? ''} ${err.collection ?? ''} ${err.message}`));

const server = app.listen(Number(env('PORT') ?? 3000), (err) => {
  if (err) {
    console.error(`cannot listen: ${err.message}`);
    process.exit(1);
  }
  console.log(`listening on http://localhost:${server.address().port}`);
});

// Graceful shutdown: stop accepting connections and let the requests in flight finish, then close
// the pools (nothing uses them any more), then exit. Orchestrators send SIGKILL after a grace period
// of their own (Kubernetes: 30 s), so this gives up before that.
let closing = false;
// server.close() waits for every connection to end, and a keep-alive one stays open for 5 s after its
// last response: once closing, responses not yet sent tell the client to close the connection.
const pending = new Set();
server.prependListener('request', (req, res) => {
  if (closing) res.setHeader('Connection', 'close');
  pending.add(res);
  res.on('close', () => pending.delete(res));
});

async function shutdown(signal) {
  if (closing) process.exit(1); // a second Ctrl-C: do not wait
  closing = true;
  console.log(`${signal}: shutting down`);
  for (const res of pending) if (!res.headersSent) res.setHeader('Connection', 'close');
  setTimeout(() => {
    console.error('shutdown took too long');
    process.exit(1);
  }, 20_000).unref();
  await new Promise((resolve) => server.close(resolve));
  await wrapper.actions.closeAll();
  console.log('closed');
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
