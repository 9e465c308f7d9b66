// The architecture is enforced by lint, not by good intentions: these run the
// workspace's real ESLint config on snippets placed (virtually) in the libs.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function errors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return (result?.messages ?? []).filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries', () => {
  it('libs/labels may not import I/O', async () => {
    for (const mod of ['node:fs', 'node:http', '@kubernetes/client-node', '@nats-io/transport-node', 'pino']) {
      const found = await errors(`import * as m from '${mod}';\nexport const x = m;\n`, 'libs/labels/src/probe.ts');
      assert.ok(found.length > 0, `importing ${mod} in libs/labels must fail lint`);
    }
  });

  it('libs/labels may not import another lib of ours', async () => {
    const found = await errors(`import { WorkQueue } from '@ekspose/k8s';\nexport const x = WorkQueue;\n`, 'libs/labels/src/probe.ts');
    assert.ok(found.some((e) => e.startsWith('@nx/enforce-module-boundaries')), found.join('\n'));
  });

  it('a lib may not import an app', async () => {
    const found = await errors(
      `import * as app from '../../../apps/deployment-controller/src/main';\nexport const x = app;\n`,
      'libs/k8s/src/probe.ts',
    );
    assert.ok(found.some((e) => e.startsWith('@nx/enforce-module-boundaries')), found.join('\n'));
  });

  it('an app may not use the test harness outside its tests', async () => {
    const found = await errors(`import { startControlPlane } from '@ekspose/testing';\nexport const x = startControlPlane;\n`, 'apps/deployment-controller/src/probe.ts');
    assert.ok(found.some((e) => e.startsWith('@nx/enforce-module-boundaries')), found.join('\n'));
  });

  it('the allowed direction passes: libs/k8s using @ekspose/labels', async () => {
    const found = await errors(`import { parseExposeSpec } from '@ekspose/labels';\nexport const x = parseExposeSpec;\n`, 'libs/k8s/src/probe.ts');
    assert.deepEqual(found, []);
  });
});
