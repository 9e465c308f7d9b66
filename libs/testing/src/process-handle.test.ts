import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { armedCommand, isPidAlive, startProcess } from './process-handle';

const dir = mkdtempSync(join(tmpdir(), 'ekspose-ph-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;
const logFile = (): string => join(dir, `p${++count}.log`);

async function eventuallyDead(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (isPidAlive(pid)) {
    if (Date.now() > deadline) assert.fail(`pid ${pid} still alive`);
    await sleep(50);
  }
}

describe('startProcess', () => {
  it('stop() ends a process with SIGTERM', async () => {
    const p = startProcess({ name: 'sleeper', cmd: 'sleep', args: ['30'], logFile: logFile() });
    assert.equal(p.running, true);
    assert.equal(isPidAlive(p.pid), true);
    const exit = await p.stop();
    assert.deepEqual(exit, { code: null, signal: 'SIGTERM' });
    assert.equal(p.running, false);
    assert.equal(isPidAlive(p.pid), false);
    assert.deepEqual(await p.stop(), exit);
  });

  it('stop() falls back to SIGKILL when SIGTERM is ignored', async () => {
    const p = startProcess({
      name: 'stubborn',
      cmd: 'bash',
      args: ['-c', 'trap "" TERM; echo ready; exec sleep 30'],
      logFile: logFile(),
    });
    await p.waitForLog('ready', { timeoutMs: 5_000 });
    const started = Date.now();
    const exit = await p.stop(300);
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(Date.now() - started >= 290, 'waited for the grace period first');
  });

  it('writes stdout and stderr to the log file and reads it back', async () => {
    const p = startProcess({
      name: 'talker',
      cmd: 'bash',
      args: ['-c', 'for i in 1 2 3 4 5; do echo "out $i"; done; echo "err line" >&2; exit 3'],
      env: { PATH: process.env['PATH'] ?? '' },
      logFile: logFile(),
    });
    assert.deepEqual(await p.waitForExit(5_000), { code: 3, signal: null });
    assert.match(p.readLog(), /out 1\n[\s\S]*err line/);
    assert.equal(p.logTail(2), 'out 5\nerr line');
    assert.equal(await p.waitForLog(/out \d/), 'out 1');
    assert.equal(await p.waitForLog('out', { fromOffset: p.readLog().indexOf('out 4') }), 'out 4');
  });

  it('waitForExit() rejects while the process still runs', async () => {
    const p = startProcess({ name: 'sleeper', cmd: 'sleep', args: ['30'], logFile: logFile() });
    try {
      await assert.rejects(p.waitForExit(100), /sleeper \(pid \d+\) still running after 100ms/);
    } finally {
      await p.kill();
    }
  });

  it('waitForLog() rejects when the process ends without logging the pattern', async () => {
    const p = startProcess({ name: 'quiet', cmd: 'bash', args: ['-c', 'echo something else'], logFile: logFile() });
    await assert.rejects(p.waitForLog('never', { timeoutMs: 5_000 }), /quiet ended before logging never[\s\S]*something else/);
  });

  it('an unknown command is reported, not left running', async () => {
    const p = startProcess({ name: 'ghost', cmd: join(dir, 'no-such-binary'), logFile: logFile() });
    const exit = await p.waitForExit(5_000);
    assert.notEqual(exit.code, 0);
  });
});

// The children must not outlive a test process that exits or is killed.
const fixture = fileURLToPath(new URL('./fixtures/spawn-child.ts', import.meta.url));
const havePdeathsig = spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') ?? false;

async function runFixture(
  mode: string,
): Promise<{ parent: ReturnType<typeof spawn>; exited: Promise<unknown>; childPid: number; armed: boolean }> {
  const parent = spawn(process.execPath, ['--import', 'tsx', fixture, mode, logFile()], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  let out = '';
  parent.stdout?.setEncoding('utf8');
  const [childPid, armed] = await new Promise<[number, boolean]>((resolve, reject) => {
    parent.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const match = /child (\d+) armed (true|false|unknown)\n/.exec(out);
      if (match) resolve([Number(match[1]), match[2] === 'true']);
    });
    parent.once('exit', () => reject(new Error(`fixture exited early: ${out}`)));
  });
  return { parent, exited, childPid, armed };
}

describe('children of an ending process', () => {
  it('are killed by the exit hook when the process exits normally', async () => {
    const { exited, childPid } = await runFixture('exit');
    await exited;
    await eventuallyDead(childPid);
  });

  it('are killed by the kernel when the process is SIGKILLed', { skip: !havePdeathsig && 'no setpriv --pdeathsig' }, async () => {
    const { parent, childPid, armed } = await runFixture('wait');
    assert.equal(armed, true, 'the child was armed before its pid was handed out');
    assert.equal(isPidAlive(childPid), true);
    parent.kill('SIGKILL');
    await eventuallyDead(childPid);
  });

  it('end even when the process dies before they are armed', { skip: !havePdeathsig && 'no setpriv --pdeathsig' }, async () => {
    // Dead before setpriv's prctl, the owner sends no signal: the child sees it has been re-parented and ends.
    const { exited, childPid } = await runFixture('die-at-once');
    await exited;
    await eventuallyDead(childPid);
  });

  it('a child whose owner died before it was armed does not run the program', { skip: !havePdeathsig && 'no setpriv --pdeathsig' }, () => {
    // The window itself, made certain: to the child, an owner it is not the child of is a dead owner re-parented away.
    const [cmd, args] = armedCommand('echo', ['ran'], 1);
    const orphan = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    assert.deepEqual({ status: orphan.status, stdout: orphan.stdout }, { status: 125, stdout: '' });
    const [cmd2, args2] = armedCommand('echo', ['ran'], process.pid);
    const owned = spawnSync(cmd2, args2, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    assert.deepEqual({ status: owned.status, stdout: owned.stdout }, { status: 0, stdout: 'ran\n' });
  });

  it('the armed child runs the program itself, without the pipe it said so on', { skip: !havePdeathsig && 'no setpriv --pdeathsig' }, async () => {
    const p = startProcess({ name: 'self', cmd: 'sh', args: ['-c', 'echo "pid $$"; if [ -e /proc/$$/fd/3 ]; then echo fd3 open; else echo fd3 closed; fi'], logFile: logFile() });
    assert.equal(await p.armed, true);
    assert.deepEqual(await p.waitForExit(5_000), { code: 0, signal: null });
    assert.equal(p.readLog(), `pid ${p.pid}\nfd3 closed\n`);
  });
});
