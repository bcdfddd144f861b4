// A TCP proxy on loopback between a client and a test server, for fault tests: it forwards bytes both
// ways until told to misbehave. It can cut every connection, delay what it forwards, blackhole
// (accept and never answer), drop the server's replies (the server acts on a request whose answer is
// lost), slice what it forwards into small writes and rewrite bytes in the server's replies. Connect through it with `directConnection=true`,
// or the driver follows the replica set's own addresses around it.
import net from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/** Starts a proxy to `target` (`host:port`, or a `mongodb://host:port` URI: its first host) on
 *  127.0.0.1 and a free port. Resolves to:
 *  - `uri`: `mongodb://127.0.0.1:<port>/?directConnection=true`;
 *  - `set({ delayMs, blackhole, dropReplies, sliceBytes, rewriteReplies })`: how it forwards from
 *    now on (each setting stays until set again; `set()` with nothing restores plain forwarding).
 *    `rewriteReplies: [from, to]` (Buffers of one length) replaces `from` by `to` in each chunk of
 *    a reply, as a corrupting network would;
 *  - `cut()`: closes every open connection, on both sides;
 *  - `close()`: cuts everything and stops listening. */
export async function startProxy(target) {
  const [host, port] = target.replace(/^mongodb:\/\/(?:[^@/]*@)?/, '').split(/[/?,]/)[0].split(':');
  let mode = {};
  const pairs = new Set();

  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    forward(client, upstream, 'request');
    forward(upstream, client, 'reply');
  });

  /** Forwards `from` to `to` in order, through the current mode. */
  function forward(from, to, direction) {
    let chain = Promise.resolve();
    from.on('data', (chunk) => {
      chain = chain.then(async () => {
        if (mode.blackhole || (direction === 'reply' && mode.dropReplies)) return;
        if (mode.delayMs) await sleep(mode.delayMs);
        if (direction === 'reply' && mode.rewriteReplies) chunk = rewrite(chunk, ...mode.rewriteReplies);
        const size = mode.sliceBytes || chunk.length;
        for (let at = 0; at < chunk.length; at += size) {
          if (to.destroyed) return;
          to.write(chunk.subarray(at, at + size));
          if (size < chunk.length) await nextTurn();
        }
      });
    });
  }

  /** `chunk` with every `from` replaced by `to`. */
  function rewrite(chunk, from, to) {
    const out = Buffer.from(chunk);
    for (let at = out.indexOf(from); at !== -1; at = out.indexOf(from, at + from.length)) to.copy(out, at);
    return out;
  }

  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    uri: `mongodb://127.0.0.1:${server.address().port}/?directConnection=true`,
    set(settings = {}) {
      mode = { ...settings };
    },
    cut() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    async close() {
      this.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
