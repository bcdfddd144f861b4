// Only for running this example inside the polymongo-rs repository. In your own app,
// `npm install polymongo-rs` does this.
//
// Installs this repository's polymongo-rs (with the addon `npm install` built at its root) into
// examples/nextjs/node_modules/polymongo-rs as a copy, the files npm would install. A symlink, which
// `npm link` and a `file:` dependency make, does not work: Next.js follows it to the repository, a
// path outside any node_modules, takes polymongo-rs for the app's own source and bundles it, native
// addon included (the build fails). Copied again on every run, so it is the current build.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const target = fileURLToPath(new URL('node_modules/polymongo-rs', import.meta.url));

export function installLocalPolymongo() {
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const addons = readdirSync(root).filter((name) => name.endsWith('.node'));
  if (addons.length === 0) throw new Error(`no built addon in ${root}: run \`npm install\` there first`);
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  // package.json, what its `files` lists, and the platform's addon (on npm, an optional dependency).
  for (const entry of ['package.json', ...manifest.files, ...addons]) {
    const from = path.join(root, entry);
    if (existsSync(from)) cpSync(from, path.join(target, entry), { recursive: true });
  }
  return target;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`polymongo-rs installed into ${installLocalPolymongo()}`);
}
