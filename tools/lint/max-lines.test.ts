// No non-test source file over 400 lines (issue 26): the workspace's real ESLint
// config refuses one as an error, and leaves tests, which are lists of cases, alone.
//   node --import tsx --test tools/lint/max-lines.test.ts
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

/** `lines` distinct exported constants: nothing but length for any rule to object to. */
const source = (lines: number): string => Array.from({ length: lines }, (_, i) => `export const value${i} = ${i};`).join('\n') + '\n';

async function maxLines(code: string, filePath: string): Promise<{ severity: number; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'max-lines').map(({ severity, message }) => ({ severity, message }));
}

describe('max-lines', () => {
  it('refuses a source file of 401 lines as an error', async () => {
    const found = await maxLines(source(401), 'libs/labels/src/long.ts');
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.severity, 2);
  });

  it('takes a source file of 400 lines', async () => {
    assert.deepEqual(await maxLines(source(400), 'libs/labels/src/long.ts'), []);
  });

  it('leaves a test file alone', async () => {
    assert.deepEqual(await maxLines(source(401), 'libs/labels/src/long.test.ts'), []);
  });
});
