// Lint for the whole workspace. The module-boundary rule is what keeps the
// architecture honest: apps depend on libs, libs never on apps, `labels` on
// nothing of ours and on no I/O at all.
import nx from '@nx/eslint-plugin';

const ioModules = [
  '@kubernetes/*',
  '@nats-io/*',
  'pino',
  'prom-client',
  'node:*',
  'fs',
  'net',
  'http',
  'https',
  'child_process',
];

const depConstraints = [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'], notDependOnLibsWithTags: ['scope:testing'] },
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib'] },
  // Developer tooling (npm run dev/cluster/bench) may use any lib, the test harness included.
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'scope:labels', onlyDependOnLibsWithTags: ['scope:labels'], bannedExternalImports: ioModules },
  { sourceTag: 'scope:k8s', onlyDependOnLibsWithTags: ['scope:labels'] },
  { sourceTag: 'scope:events', onlyDependOnLibsWithTags: ['scope:labels'] },
  { sourceTag: 'scope:testing', onlyDependOnLibsWithTags: ['scope:labels', 'scope:k8s', 'scope:events'] },
];

// An app's own tests may use the test harness; its production code may not.
const appTestConstraints = depConstraints.map((c) =>
  c.sourceTag === 'type:app' ? { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] } : c,
);

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    ignores: ['**/dist', '**/node_modules', '**/.nx', 'tools/controlplane/**'],
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints,
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'off',
      // Objects read from the API server always carry metadata.name/namespace/uid;
      // asserting that once reads better than optional chains the types cannot narrow.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The module-boundary rule does not see Node built-ins as external imports,
    // so keep libs/labels free of I/O with a plain import ban (tests may use node:test).
    files: ['libs/labels/src/**/*.ts'],
    ignores: ['libs/labels/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', ...ioModules.filter((m) => !m.startsWith('node:'))], message: 'libs/labels is pure: no I/O imports.' },
          ],
        },
      ],
    },
  },
  {
    files: ['apps/*/src/**/*.test.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints: appTestConstraints }],
    },
  },
];
