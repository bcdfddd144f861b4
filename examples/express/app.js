'use strict';
// The app factory: an Express 5 REST API where every tenant is a database of its own.
//   const { app, wrapper } = createApp({ mongoURI, baseDomain: 'example.com' });
// server.js listens and shuts down; tests or other entries can make an app of their own.
const { createHash, timingSafeEqual } = require('node:crypto');
const express = require('express');
const mongoose = require('mongoose');
const promClient = require('prom-client');
const { PolyMongo, PolyMongoError } = require('polymongo-rs');
const models = require('./models');

// Tenant ids come from clients: accept only what the app itself would hand out. The database-name
// prefix also keeps an id from naming MongoDB's own databases (admin, local, config).
const TENANT_ID = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * @param {object} options
 * @param {string} options.mongoURI
 * @param {string} [options.baseDomain] `acme.<baseDomain>` is tenant `acme` (an X-Tenant header wins)
 * @param {string} [options.dbPrefix] tenant `acme`'s database is `<dbPrefix>acme` (default `tenant_`)
 * @param {string} [options.adminToken] serves /admin/status to HTTP Basic auth with this password; unset: not served
 * @returns {{ app: import('express').Express, wrapper: import('polymongo-rs').PolyMongoWrapper, register: import('prom-client').Registry }}
 */
function createApp({ mongoURI, baseDomain, dbPrefix = 'tenant_', adminToken } = {}) {
  // Checked once here rather than failing every request: prefix + tenant id must be a database name.
  if (!/^[a-z][a-z0-9_]{0,31}$/.test(dbPrefix)) throw new TypeError(`dbPrefix must match /^[a-z][a-z0-9_]{0,31}$/, got ${JSON.stringify(dbPrefix)}`);
  // One wrapper, and so one connection pool, for every tenant. The entry point owns the process's
  // signals (handleSignals: false): it stops the HTTP server before the pools close.
  const wrapper = PolyMongo.createWrapper({ mongoURI, maxPoolSize: 10, handleSignals: false });
  const User = wrapper.wrapModel(models.User);
  const Post = wrapper.wrapModel(models.Post);

  // One registry for /metrics: Node's process metrics and the wrapper's pools and databases.
  const register = new promClient.Registry();
  promClient.collectDefaultMetrics({ register });
  wrapper.stats.collector(register);

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  app.get('/healthz', async (req, res) => {
    const { ok } = await wrapper.ping();
    res.status(ok ? 200 : 503).json({ ok });
  });
  app.get('/metrics', async (req, res) => {
    res.set('Content-Type', register.contentType).send(await register.metrics());
  });
  // Pools, admission queue, busiest and slowest tenants: an admin page, so never open to the
  // internet. Basic auth, because the page polls its own URL and browsers resend Basic credentials.
  if (adminToken) app.get('/admin/status', basicAuth(adminToken), wrapper.stats.handler());

  const api = express.Router();
  api.use(resolveTenant({ baseDomain, dbPrefix, User, Post }));

  // Express 5 sends a rejected promise to the error handler: no try/catch in the routes.
  api.post('/users', async (req, res) => {
    // Name the fields a client may set (no mass assignment of _id, createdAt, ...).
    const user = await req.models.User.create(pick(req.body, ['name', 'email', 'password']));
    res.status(201).location(`${req.baseUrl}/users/${user.id}`).json(user);
  });
  api.get('/users', async (req, res) => {
    const { page, limit, skip } = pagination(req.query);
    const [items, total] = await Promise.all([
      req.models.User.find().sort({ name: 1, _id: 1 }).skip(skip).limit(limit),
      req.models.User.countDocuments(),
    ]);
    res.json({ page, limit, total, items });
  });
  api.get('/users/:id', async (req, res) => {
    res.json(await req.models.User.findById(req.params.id).orFail());
  });
  api.patch('/users/:id', async (req, res) => {
    const user = await req.models.User.findById(req.params.id).orFail();
    // set() + save() rather than findByIdAndUpdate(): only save() runs the pre('save') hook that
    // hashes a new password, and validates the whole document.
    user.set(pick(req.body, ['name', 'email', 'password']));
    await user.save();
    res.json(user);
  });
  api.delete('/users/:id', async (req, res) => {
    const user = await req.models.User.findByIdAndDelete(req.params.id).orFail();
    await req.models.Post.deleteMany({ author: user._id });
    res.status(204).end();
  });

  api.post('/posts', async (req, res) => {
    const post = await req.models.Post.create(pick(req.body, ['title', 'body', 'author']));
    // Populate reads the tenant's own users: a model of `.db(name)` stays in its database.
    await post.populate('author', 'name email');
    res.status(201).location(`${req.baseUrl}/posts/${post.id}`).json(post);
  });
  api.get('/posts', async (req, res) => {
    const { page, limit, skip } = pagination(req.query);
    const [items, total] = await Promise.all([
      req.models.Post.find().sort({ createdAt: -1, _id: -1 }).skip(skip).limit(limit).populate('author', 'name email'),
      req.models.Post.countDocuments(),
    ]);
    res.json({ page, limit, total, pages: Math.ceil(total / limit), items });
  });

  app.use('/api', api);
  app.use((req, res) => res.status(404).json({ error: 'not found' }));
  app.use(errorHandler);
  return { app, wrapper, register };
}

/** Resolves the request's tenant and puts its models on `req.models`. */
function resolveTenant({ baseDomain, dbPrefix, User, Post }) {
  const suffix = baseDomain ? `.${baseDomain.toLowerCase()}` : null;
  return (req, res, next) => {
    let id = req.get('x-tenant');
    // req.hostname is the Host header without its port (X-Forwarded-Host only with 'trust proxy');
    // host names are case-insensitive, a header is taken as sent.
    const host = req.hostname?.toLowerCase();
    if (id === undefined && suffix && host?.endsWith(suffix)) id = host.slice(0, -suffix.length);
    if (id === undefined) {
      return res.status(400).json({ error: `no tenant: send an X-Tenant header${suffix ? ` or use <tenant>${suffix}` : ''}` });
    }
    if (!TENANT_ID.test(id)) return res.status(400).json({ error: 'invalid tenant' });
    const dbName = dbPrefix + id;
    // A map lookup once the tenant has been seen; no I/O, and reading never creates the database.
    req.tenant = id;
    req.models = { User: User.db(dbName), Post: Post.db(dbName) };
    next();
  };
}

function errorHandler(err, req, res, next) {
  if (res.headersSent) return next(err);
  const { Error: MongooseError } = mongoose;
  if (err instanceof MongooseError.DocumentNotFoundError) return res.status(404).json({ error: 'not found' });
  // A malformed ObjectId in the URL (or another value that cannot be cast in a query).
  if (err instanceof MongooseError.CastError) return res.status(400).json({ error: `invalid ${err.path}` });
  if (err instanceof MongooseError.ValidationError) {
    const fields = Object.fromEntries(Object.entries(err.errors).map(([path, e]) => [path, e.message]));
    return res.status(400).json({ error: 'validation failed', fields });
  }
  // A unique index: here, an email already used in this tenant.
  if (err.code === 11000) return res.status(409).json({ error: 'already exists', fields: Object.keys(err.keyPattern ?? {}) });
  // A tenant over its share of the pool for too long, or the app closing: worth a retry.
  if (err instanceof PolyMongoError && ['ERR_WAIT_QUEUE_TIMEOUT', 'ERR_POOL_LIMIT', 'ERR_WRAPPER_CLOSED'].includes(err.code)) {
    return res.status(503).set('Retry-After', '1').json({ error: 'unavailable, try again' });
  }
  // express.json()'s errors (malformed JSON, a body too large) carry their status.
  if (err.status >= 400 && err.status < 500) return res.status(err.status).json({ error: err.expose ? err.message : 'bad request' });
  console.error(err);
  res.status(500).json({ error: 'internal error' });
}

/** HTTP Basic auth with any user name and `password`, compared in constant time. */
function basicAuth(password) {
  const expected = createHash('sha256').update(password).digest();
  return (req, res, next) => {
    const [scheme, encoded = ''] = (req.get('authorization') ?? '').split(' ');
    const credentials = Buffer.from(encoded, 'base64').toString();
    const given = createHash('sha256').update(credentials.slice(credentials.indexOf(':') + 1)).digest();
    if (scheme === 'Basic' && timingSafeEqual(given, expected)) return next();
    res.status(401).set('WWW-Authenticate', 'Basic realm="admin"').json({ error: 'unauthorized' });
  };
}

/** `?page` from 1 and `?limit` from 1 to 100 (default 20); anything else falls back to the defaults. */
function pagination(query) {
  const page = Math.max(Number.parseInt(query.page, 10) || 1, 1);
  const limit = Math.min(Math.max(Number.parseInt(query.limit, 10) || 20, 1), 100);
  return { page, limit, skip: (page - 1) * limit };
}

/** The `keys` of `body` that are present (a missing or non-object body gives `{}`). */
function pick(body, keys) {
  return Object.fromEntries(keys.filter((key) => body?.[key] !== undefined).map((key) => [key, body[key]]));
}

module.exports = { createApp };
