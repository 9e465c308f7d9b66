// Installs the npm packages on first use (and again when package-lock.json
// changed), so `npm test` / `npm run dev` work on a fresh clone without a
// separate `npm ci`. Plain Node: it runs before any dependency exists.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode } from './ensure-node.mjs';

export const root = fileURLToPath(new URL('../../../', import.meta.url));

export function ensureDependencies() {
  // On a machine whose node is older than the images', this runs the caller again on Node 24.
  ensureNode();
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.ekspose-lock-hash');
  const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  console.log('==> installing npm packages (npm ci) ...');
  const t0 = Date.now();
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('==> npm ci failed; is the npm registry reachable?');
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, hash);
  console.log(`==> npm packages installed in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
}
