// libs/k8s's folders by concern, and the order lint holds them to: these run the
// workspace's real ESLint config on snippets placed (virtually) in the folders,
// and compare the configured order with the folders on disk.
//   node --import tsx --test tools/lint/k8s-folders.test.ts
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { K8S_FOLDERS } from './k8s-folders.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const src = join(root, 'libs/k8s/src');
const eslint = new ESLint({ cwd: root });

async function restricted(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('libs/k8s folders', () => {
  it('the configured order names exactly the folders on disk', () => {
    const onDisk = readdirSync(src).filter((name) => statSync(join(src, name)).isDirectory()).sort();
    assert.deepEqual([...K8S_FOLDERS].sort(), onDisk);
  });

  it('keeps the top of src/ small: the index and the folders only', () => {
    const files = readdirSync(src).filter((name) => statSync(join(src, name)).isFile());
    assert.ok(files.length <= 8, `libs/k8s/src has ${files.length} files at its top: ${files.join(', ')}`);
  });

  it('refuses an import that runs upward, and allows one that runs downward', async () => {
    const upward = await restricted(`import { ControllerHost } from '../host/controller-host';\nexport const x = ControllerHost;\n`, 'libs/k8s/src/cache/probe.ts');
    assert.equal(upward.length, 1, 'cache importing host must fail lint');
    assert.match(upward[0]!, /sits below/);
    const shardsFromLease = await restricted(`import { LeaderElector } from '../lease/leader-election';\nexport const x = LeaderElector;\n`, 'libs/k8s/src/shards/probe.ts');
    assert.deepEqual(shardsFromLease, []);
    for (const [i, folder] of K8S_FOLDERS.entries()) {
      for (const other of K8S_FOLDERS.slice(i + 1)) {
        const found = await restricted(`import * as m from '../${other}/x';\nexport const y = m;\n`, `libs/k8s/src/${folder}/probe.ts`);
        assert.equal(found.length, 1, `${folder} importing ${other} must fail lint`);
      }
    }
  });

  it('refuses the package index from inside the package', async () => {
    const found = await restricted(`import { WorkQueue } from '..';\nexport const x = WorkQueue;\n`, 'libs/k8s/src/shards/probe.ts');
    assert.equal(found.length, 1);
  });
});
