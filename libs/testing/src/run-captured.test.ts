import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCaptured } from './run-captured';

describe('runCaptured', () => {
  it('output and exit code of a command that reads its input', async () => {
    assert.deepEqual(await runCaptured('sh', ['-c', 'cat; echo err >&2; exit 3'], { input: 'in' }), { code: 3, stdout: 'in', stderr: 'err\n' });
  });

  it('a command that exits without reading its input: its exit code, not an EPIPE from the write', async () => {
    // More than a pipe holds, so the write is still going when the command exits and closes the pipe.
    const run = await runCaptured('sh', ['-c', 'echo done; exit 0'], { input: 'x'.repeat(4 << 20) });
    assert.deepEqual(run, { code: 0, stdout: 'done\n', stderr: '' });
  });

  it('a command that cannot be started rejects', async () => {
    await assert.rejects(runCaptured('/nonexistent/command', []), /ENOENT/);
  });
});
