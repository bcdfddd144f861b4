'use strict';
// `stats.collector(register)`: the wrapper's metric families in an application's own prom-client
// registry, so its existing `/metrics` serves them. prom-client is not a dependency: a registry takes
// any object with `name`, `help`, `type`, `get()` and `reset()` (what its `Registry.registerMetric`,
// `metrics()` and `getMetricsAsJSON()` call), so the application's version is the one that runs.

/**
 * Registers the wrapper's families (the same as `stats.prometheus()`: `polymongo_pool_*` per pool,
 * `polymongo_db_*` per database) in `register`, a prom-client `Registry` (`client.register` for the
 * default one). One scrape reads the engine once. Returns a function that unregisters them.
 * Throws a TypeError (`ERR_INVALID_ARG_TYPE`) for anything but a registry, and prom-client's own error
 * if the registry already has a metric of one of these names (another wrapper's: one wrapper per registry).
 */
function collector(native, register) {
  if (typeof register?.registerMetric !== 'function' || typeof register.removeSingleMetric !== 'function') {
    throw Object.assign(new TypeError('stats.collector(register) takes a prom-client Registry (e.g. client.register)'), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  // A scrape calls every metric's get() in one synchronous pass: they share one read of the engine.
  let snapshot = null;
  const families = () => {
    if (!snapshot) {
      snapshot = new Map(JSON.parse(native.metricFamilies()).map((family) => [family.name, family]));
      queueMicrotask(() => {
        snapshot = null;
      });
    }
    return snapshot;
  };
  const names = [...families().keys()];
  const metrics = names.map((familyName) => ({
    // prom-client renames counters in OpenMetrics mode (drops `_total`); get() reports the name it set.
    name: familyName,
    help: families().get(familyName).help,
    type: families().get(familyName).type,
    aggregator: 'sum',
    get() {
      const { help, type, samples } = families().get(familyName);
      const values = samples.map((sample) => ({
        value: sample.value,
        labels: Object.fromEntries(sample.labels),
        ...(sample.name === familyName ? {} : { metricName: sample.name }),
      }));
      return Promise.resolve({ name: this.name, help, type, aggregator: 'sum', values });
    },
    // The counts are the engine's, since the wrapper's start: a registry reset leaves them.
    reset() {},
  }));
  // By the names registered under: an OpenMetrics scrape renames counters' metric objects afterwards.
  const registered = [];
  const unregister = () => {
    for (const [name, metric] of registered) {
      if (register.getSingleMetric?.(name) === metric) register.removeSingleMetric(name);
    }
  };
  try {
    for (const metric of metrics) {
      register.registerMetric(metric);
      registered.push([metric.name, metric]);
    }
  } catch (err) {
    unregister();
    throw err;
  }
  return unregister;
}

module.exports = { collector };
