'use strict';
// Where the engine's log records go on the JS side: the application's logger (`logger`: pino, bunyan,
// winston, console, anything with debug/info/warn/error), PolyMongo 1.3's `debug.logHandler` (one
// formatted line), or else the console when `debug` is on. Files (`logPath`) are written by the engine.

/** The engine's log options and the sink for its records (none when nothing in JS wants them). */
function logSettings(options) {
  const debug = typeof options.debug === 'object' ? options.debug : { log: options.debug === true };
  const { logger } = options;
  const handler = debug.logHandler;
  const native = {
    debug: debug.log === true,
    logPath: debug.logPath ?? options.logPath,
    logMaxBytes: options.logMaxBytes,
    logMaxFiles: options.logMaxFiles,
  };
  let write;
  if (logger !== undefined) write = toLogger(logger);
  else if (handler !== undefined) write = (record) => Promise.resolve(handler(formatLine(record))).catch(() => {});
  else if (native.debug) write = toConsole;
  return { native, sink: write && guarded(({ level, message, fields }) => write({ level, message, fields: Object.fromEntries(fields) })) };
}

/** `[time] [LEVEL] message key=value ...`, PolyMongo's line with the record's fields after it. */
function formatLine({ level, message, fields }) {
  const extra = Object.entries(fields).map(([key, value]) => ` ${key}=${/\s/.test(value) ? JSON.stringify(value) : value}`);
  return `[${new Date().toISOString()}] [${level.toUpperCase()}] ${message}${extra.join('')}`;
}

function toConsole(record) {
  console[record.level](`[polymongo-rs] ${formatLine(record)}`);
}

/** pino and bunyan take `(fields, message)`; winston, console and most others `(message, fields)`. */
function toLogger(logger) {
  const fieldsFirst = typeof logger.bindings === 'function' || typeof logger.fields === 'object';
  return ({ level, message, fields }) => {
    const method = typeof logger[level] === 'function' ? level : 'info';
    const meta = { component: 'polymongo-rs', ...fields };
    if (fieldsFirst) logger[method](meta, message);
    else logger[method](message, meta);
  };
}

/** A logger that throws must not break the engine's events: it is reported once and skipped. */
function guarded(write) {
  let warned = false;
  return (record) => {
    try {
      write(record);
    } catch (err) {
      if (!warned) process.emitWarning(`polymongo-rs: the logger threw: ${err?.message ?? err}`, 'PolyMongoWarning');
      warned = true;
    }
  };
}

module.exports = { logSettings };
