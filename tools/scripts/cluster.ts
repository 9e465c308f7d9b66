// A local control plane for development: etcd, kube-apiserver,
// kube-controller-manager and NATS JetStream, running in the background.
//
//   npm run cluster -- up       build the binaries if needed, start, print what to do next
//   npm run cluster -- status   what runs; exit 0 when ready, 1 when broken, 3 when down
//   npm run cluster -- down     stop everything `up` started and remove its state
//
// `up` starts a small supervisor (`cluster.ts __serve`, detached in its own
// session) that owns the processes: it starts the plane, writes the state to
// .ekspose/, and on SIGTERM stops the plane and removes the state. Its children
// are tied to it by the kernel (pdeathsig), so even a SIGKILLed supervisor
// leaves nothing running.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ensureBinaries, httpGet, isPidAlive, startControlPlane, workspaceRoot } from '@ekspose/testing';

interface ClusterState {
  supervisorPid: number;
  startedAt: string;
  startupMs: number;
  server: string;
  natsUrl: string;
  natsMonitorUrl: string;
  binDir: string;
  planeDir: string;
  kubeconfig: string;
  caCert: string;
  adminCert: string;
  adminKey: string;
  pids: Record<string, number>;
  /** kube-apiserver's --feature-gates (the harness's defaults: ShardedListAndWatch on). */
  featureGates: Record<string, boolean>;
}

const root = workspaceRoot();
const stateDir = process.env['EKSPOSE_STATE_DIR'] ?? join(root, '.ekspose');
const files = {
  supervisorPid: join(stateDir, 'supervisor.pid'),
  state: join(stateDir, 'state.json'),
  kubeconfig: join(stateDir, 'kubeconfig'),
  env: join(stateDir, 'env'),
  log: join(stateDir, 'supervisor.log'),
  plane: join(stateDir, 'plane'),
};
const show = (path: string): string => relative(process.cwd(), path) || '.';
const print = (line = ''): void => void process.stdout.write(`${line}\n`);

function readState(): ClusterState | undefined {
  try {
    return JSON.parse(readFileSync(files.state, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

function readSupervisorPid(): number | undefined {
  try {
    const pid = Number(readFileSync(files.supervisorPid, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and really ours: a recycled pid belongs to someone else, whose command line does not name our state folder. */
function isOurs(pid: number): boolean {
  if (!isPidAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(stateDir);
  } catch {
    return process.platform !== 'linux';
  }
}

function writeAtomically(path: string, text: string, mode = 0o644): void {
  writeFileSync(`${path}.tmp`, text, { mode });
  renameSync(`${path}.tmp`, path);
}

function removeState(): void {
  for (const path of [files.state, files.kubeconfig, files.env, files.supervisorPid, files.log, `${files.state}.tmp`]) {
    rmSync(path, { force: true });
  }
  rmSync(files.plane, { recursive: true, force: true });
  try {
    if (readdirSync(stateDir).length === 0) rmdirSync(stateDir);
  } catch {
    // absent already, or holds someone else's files
  }
}

function logTail(lines = 25): string {
  try {
    return readFileSync(files.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** `A=true, B=false`, or `(none)`. */
const gatesText = (gates: Record<string, boolean> | undefined): string =>
  Object.entries(gates ?? {})
    .map(([name, on]) => `${name}=${on}`)
    .join(', ') || '(none)';

function printNextSteps(state: ClusterState): void {
  const pids = Object.entries(state.pids)
    .map(([name, pid]) => `${name} ${pid}`)
    .join(', ');
  print(`  API server  ${state.server} (feature gates ${gatesText(state.featureGates)})`);
  print(`  NATS        ${state.natsUrl}`);
  print(`  kubeconfig  ${show(files.kubeconfig)}`);
  print(`  processes   ${pids}; supervisor ${state.supervisorPid}, log ${show(files.log)}`);
  print();
  print('next:');
  print(`  . ${show(files.env)} && kubectl get ns`);
  print('  npm run cluster -- status');
  print('  npm run cluster -- down');
}

async function waitUntilServing(supervisorPid: number, timeoutMs: number): Promise<ClusterState | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = readState();
    if (state) return state;
    if (!isPidAlive(supervisorPid) || Date.now() > deadline) return undefined;
    await sleep(100);
  }
}

async function up(): Promise<number> {
  const running = readSupervisorPid();
  if (running !== undefined && isOurs(running)) {
    const state = readState() ?? (await waitUntilServing(running, 120_000));
    if (state) {
      print(`the control plane is already up (since ${state.startedAt}):`);
      printNextSteps(state);
      return 0;
    }
    print(`a supervisor (pid ${running}) runs but never became ready; see ${show(files.log)}, or run \`npm run cluster -- down\``);
    return 1;
  }
  if (existsSync(stateDir)) await stopLeftovers();

  const started = Date.now();
  const binDir = await ensureBinaries({ log: (line) => process.stderr.write(`${line}\n`) });
  mkdirSync(stateDir, { recursive: true });
  const logFd = openSync(files.log, 'w');
  // detached: its own session, so closing the terminal does not end it. The state folder in
  // its arguments marks it as ours (see isOurs).
  const supervisor = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '__serve', binDir, stateDir], {
    cwd: root,
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, EKSPOSE_STATE_DIR: stateDir },
  });
  closeSync(logFd);
  if (supervisor.pid === undefined) throw new Error(`could not start the supervisor (${process.execPath})`);
  writeAtomically(files.supervisorPid, `${supervisor.pid}\n`);
  supervisor.unref();
  print(`starting the control plane (supervisor pid ${supervisor.pid}) ...`);

  const state = await waitUntilServing(supervisor.pid, 180_000);
  if (!state) {
    print(`the control plane did not start; last lines of ${show(files.log)}:`);
    print(logTail());
    if (isPidAlive(supervisor.pid)) process.kill(supervisor.pid, 'SIGTERM');
    return 1;
  }
  print(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s (plane start ${(state.startupMs / 1000).toFixed(1)}s):`);
  printNextSteps(state);
  return 0;
}

/** Cleans up after a supervisor that died without removing its state. */
async function stopLeftovers(): Promise<void> {
  const state = readState();
  for (const pid of Object.values(state?.pids ?? {})) {
    if (isOurs(pid)) process.kill(pid, 'SIGKILL');
  }
  removeState();
}

async function down(): Promise<number> {
  const pid = readSupervisorPid();
  const state = readState();
  if (pid === undefined || !isOurs(pid)) {
    const leftovers = Object.values(state?.pids ?? {}).filter(isOurs);
    await stopLeftovers();
    print(leftovers.length > 0 ? `killed ${leftovers.length} leftover process(es); state removed` : 'the control plane is not running');
    return 0;
  }
  const started = Date.now();
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isPidAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isPidAlive(pid)) {
    print(`the supervisor (pid ${pid}) did not stop within 30s; killing it and its processes`);
    process.kill(pid, 'SIGKILL');
  }
  // The supervisor waits for its children; these are only survivors of a SIGKILLed one.
  const survivors = Object.values(state?.pids ?? {}).filter(isOurs);
  for (const child of survivors) process.kill(child, 'SIGKILL');
  const waitUntil = Date.now() + 10_000;
  while (survivors.some(isPidAlive) && Date.now() < waitUntil) await sleep(100);
  removeState();
  print(`control plane stopped in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return 0;
}

async function status(): Promise<number> {
  const pid = readSupervisorPid();
  const state = readState();
  if (pid === undefined || !isOurs(pid)) {
    const leftovers = Object.entries(state?.pids ?? {}).filter(([, child]) => isOurs(child));
    if (leftovers.length === 0) {
      print('the control plane is not running');
      return 3;
    }
    print(`the supervisor is gone but these still run: ${leftovers.map(([n, p]) => `${n} ${p}`).join(', ')}; run \`npm run cluster -- down\``);
    return 1;
  }
  if (!state) {
    print(`starting (supervisor pid ${pid}); see ${show(files.log)}`);
    return 1;
  }
  let healthy = true;
  const row = (label: string, text: string): void => print(`${label.padEnd(26)}${text}`);
  row('supervisor', `pid ${pid} running since ${state.startedAt}`);
  for (const [name, child] of Object.entries(state.pids)) {
    const alive = isOurs(child);
    healthy &&= alive;
    row(name, `pid ${child} ${alive ? 'running' : 'NOT RUNNING'}`);
  }
  const tls = {
    ca: readFileSync(state.caCert, 'utf8'),
    cert: readFileSync(state.adminCert, 'utf8'),
    key: readFileSync(state.adminKey, 'utf8'),
  };
  const check = async (label: string, url: string, shown: string, probeTls = {}): Promise<void> => {
    const result = await httpGet(url, probeTls).then(
      (res) => (res.status === 200 ? 'ok' : `HTTP ${res.status}: ${res.body.split('\n').filter((l) => l.startsWith('[-]')).join('; ') || res.body.slice(0, 200)}`),
      (error: Error) => error.message,
    );
    healthy &&= result === 'ok';
    row(label, `${result} (${shown})`);
  };
  await check('kube-apiserver /readyz', `${state.server}/readyz`, state.server, tls);
  row('kube-apiserver gates', gatesText(state.featureGates));
  await check('nats-server /healthz', `${state.natsMonitorUrl}/healthz`, state.natsUrl);
  row('kubeconfig', `${show(files.kubeconfig)} (. ${show(files.env)})`);
  return healthy ? 0 : 1;
}

/** The supervisor: runs detached, owns the plane, and takes it down on SIGTERM. */
async function serve(binDir: string): Promise<never> {
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  rmSync(files.plane, { recursive: true, force: true });
  let stopping = false;
  const plane = await startControlPlane({ binDir, dir: files.plane, handleSignals: false, log }).catch((error: Error) => {
    log(`start failed: ${error.message}`);
    process.exit(1);
  });
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the control plane`);
    rmSync(files.state, { force: true });
    await plane.stop();
    rmSync(files.plane, { recursive: true, force: true });
    log('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));
  for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'nats-server'] as const) {
    plane.process(name)?.exited.then((exit) => {
      if (!stopping) log(`${name} exited unexpectedly (code ${exit.code}, signal ${exit.signal}); see ${plane.dir}/${name}.log`);
    });
  }

  const certs = plane.certificates;
  if (!certs) throw new Error('the plane started without certificates');
  writeAtomically(files.kubeconfig, readFileSync(plane.kubeconfigPath, 'utf8'), 0o600);
  const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  writeAtomically(
    files.env,
    [
      '# Written by `npm run cluster -- up`. Use it with: . .ekspose/env',
      `export KUBECONFIG=${quote(files.kubeconfig)}`,
      // The admin NATS user (the nats CLI reads these too); `npm start` runs the three controllers as it.
      ...Object.entries(plane.natsEnv('admin')).map(([k, v]) => `export ${k}=${quote(v)}`),
      `export PATH=${quote(binDir)}:"$PATH"`,
      '',
    ].join('\n'),
    0o600,
  );
  const state: ClusterState = {
    supervisorPid: process.pid,
    startedAt: new Date().toISOString(),
    startupMs: plane.startupMs,
    server: plane.server,
    natsUrl: plane.natsUrl,
    natsMonitorUrl: plane.natsMonitorUrl,
    binDir,
    planeDir: plane.dir,
    kubeconfig: files.kubeconfig,
    caCert: certs.caCert,
    adminCert: certs.adminCert,
    adminKey: certs.adminKey,
    pids: plane.pids(),
    featureGates: { ...plane.featureGates },
  };
  // Written last: its presence is what tells `up` that everything is ready.
  writeAtomically(files.state, `${JSON.stringify(state, null, 2)}\n`);
  log(`serving; state in ${stateDir}`);
  // Keep the event loop alive until a signal arrives.
  setInterval(() => undefined, 1 << 30);
  return new Promise<never>(() => undefined);
}

const [command, arg] = process.argv.slice(2);
const commands: Record<string, () => Promise<number>> = { up, down, status };
if (command === '__serve' && arg) {
  await serve(arg);
} else if (command && commands[command]) {
  process.exitCode = await commands[command]();
} else {
  process.stderr.write('usage: npm run cluster -- up|down|status\n');
  process.exitCode = 2;
}
