'use strict';
// SIGINT / SIGTERM: every wrapper watching closes gracefully. Unlike PolyMongo, the process is left
// to the application when it listens for the signal itself; when it does not, it exits with the
// conventional code once the wrappers are closed.

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 };

/** Weak, so a wrapper dropped without being closed is not kept alive by this list. */
const watched = new Set();

function onSignal(signal) {
  const wrappers = [...watched].map((ref) => ref.deref()).filter(Boolean);
  watched.clear();
  uninstall();
  // With our listeners gone, a second signal gets Node's default: stop at once.
  const appListens = process.listenerCount(signal) > 0;
  Promise.allSettled(wrappers.map((wrapper) => wrapper._closeOnSignal())).then(() => {
    if (!appListens) process.exit(EXIT_CODES[signal]);
  });
}

const listeners = Object.fromEntries(Object.keys(EXIT_CODES).map((signal) => [signal, () => onSignal(signal)]));

function install() {
  for (const [signal, listener] of Object.entries(listeners)) {
    if (!process.listeners(signal).includes(listener)) process.on(signal, listener);
  }
}

function uninstall() {
  for (const [signal, listener] of Object.entries(listeners)) process.off(signal, listener);
}

/** Closes `wrapper` on SIGINT / SIGTERM (a signal listener never keeps Node running). */
function watch(wrapper) {
  if ([...watched].some((ref) => ref.deref() === wrapper)) return;
  watched.add(new WeakRef(wrapper));
  install();
}

function unwatch(wrapper) {
  for (const ref of watched) {
    const held = ref.deref();
    if (held === undefined || held === wrapper) watched.delete(ref);
  }
  if (watched.size === 0) uninstall();
}

module.exports = { watch, unwatch };
