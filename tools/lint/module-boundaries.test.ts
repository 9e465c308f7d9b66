// The architecture is enforced by lint, not by good intentions: these run the
// workspace's real ESLint config on snippets placed (virtually) in the libs.
// Run through Nx (`nx test tools`) or directly:
//   node --import tsx --test tools/lint/module-boundaries.test.ts
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { createProjectGraphAsync } from '@nx/devkit';
import { ESLint } from 'eslint';

const root = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function errors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}${filePath}` });
  return (result?.messages ?? []).filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries', () => {
  // The boundary rule reads Nx's project graph from its cache and, when there is
  // none (a fresh clone, a direct run), passes everything. Build it first.
  before(async () => {
    process.env.NX_DAEMON = 'false';
    await createProjectGraphAsync({ exitOnError: true });
  });

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
    const code = `import { startControlPlane } from '@ekspose/testing';\nexport const x = startControlPlane;\n`;
    const found = await errors(code, 'apps/deployment-controller/src/probe.ts');
    assert.ok(found.some((e) => e.startsWith('no-restricted-imports')), found.join('\n'));
    assert.deepEqual(await errors(code, 'apps/deployment-controller/src/probe.test.ts'), []);
  });

  it('the allowed direction passes: libs/k8s using @ekspose/labels', async () => {
    const found = await errors(`import { parseExposeSpec } from '@ekspose/labels';\nexport const x = parseExposeSpec;\n`, 'libs/k8s/src/probe.ts');
    assert.deepEqual(found, []);
  });

  it('the runtime knows nothing of the product: libs/k8s may not import @ekspose/expose or @ekspose/events', async () => {
    for (const [mod, name] of [['@ekspose/expose', 'serviceKind'], ['@ekspose/events', 'EventBus']]) {
      const found = await errors(`import { ${name} } from '${mod}';\nexport const x = ${name};\n`, 'libs/k8s/src/probe.ts');
      assert.ok(found.some((e) => e.startsWith('@nx/enforce-module-boundaries')), `${mod}: ${found.join('\n')}`);
    }
  });

  it('the event bus may use the runtime but not the product rules', async () => {
    assert.deepEqual(await errors(`import { LruCache } from '@ekspose/k8s';\nexport const x = LruCache;\n`, 'libs/events/src/probe.ts'), []);
    const found = await errors(`import { serviceKind } from '@ekspose/expose';\nexport const x = serviceKind;\n`, 'libs/events/src/probe.ts');
    assert.ok(found.some((e) => e.startsWith('@nx/enforce-module-boundaries')), found.join('\n'));
  });

  it("a lib's tests may use the test harness; its production code may not", async () => {
    const code = `import { NatsServer } from '@ekspose/testing';\nexport const x = NatsServer;\n`;
    assert.deepEqual(await errors(code, 'libs/events/src/probe.test.ts'), []);
    const found = await errors(code, 'libs/events/src/probe.ts');
    assert.ok(found.some((e) => e.startsWith('@nx/enforce-module-boundaries')), found.join('\n'));
  });

  it('libs/expose builds on the runtime, the bus and the label contract', async () => {
    const code = `import { WorkQueue } from '@ekspose/k8s';\nimport { EventBus } from '@ekspose/events';\nimport { parseExposeSpec } from '@ekspose/labels';\nexport const x = [WorkQueue, EventBus, parseExposeSpec];\n`;
    assert.deepEqual(await errors(code, 'libs/expose/src/probe.ts'), []);
  });
});
