'use strict';
// SIGINT / SIGTERM with no listener of the application's: every wrapper watching closes gracefully and
// the process exits with the conventional code. An application that listens for the signal itself
// owns its shutdown (a server drains its requests, then closes the wrapper), so the wrappers are left
// open for it: closing them at once would fail the requests it is draining. PolyMongo closes and
// calls process.exit(0) either way.

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 };

/** Weak, so a wrapper dropped without being closed is not kept alive by this list. */
const watched = new Set();

function onSignal(signal) {
  if (process.listeners(signal).some((listener) => listener !== listeners[signal])) return;
  const wrappers = [...watched].map((ref) => ref.deref()).filter(Boolean);
  watched.clear();
  // With our listeners gone, a second signal gets Node's default: stop at once.
  uninstall();
  Promise.allSettled(wrappers.map((wrapper) => wrapper._closeOnSignal())).then(() => process.exit(EXIT_CODES[signal]));
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
