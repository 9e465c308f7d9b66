// Lint for the whole workspace. The module-boundary rule is what keeps the
// architecture honest: apps depend on libs, libs never on apps, `labels` on
// nothing of ours and on no I/O at all.
import nx from '@nx/eslint-plugin';
import { K8S_FOLDERS } from './tools/lint/k8s-folders.mjs';

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
  // (An app's production code may not use the test harness: a plain import ban below, since Nx's
  // transitive check would also count the harness that a lib's tests use.)
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:lib'] },
  // Developer tooling (npm run dev/cluster/bench) may use any lib, the test harness included.
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'scope:labels', onlyDependOnLibsWithTags: ['scope:labels'], bannedExternalImports: ioModules },
  // The controller runtime: generic, knows nothing of ekspose's rules.
  { sourceTag: 'scope:k8s', onlyDependOnLibsWithTags: ['scope:labels'] },
  // NATS adapters; they share the runtime's clock and LRU rather than copying them.
  { sourceTag: 'scope:events', onlyDependOnLibsWithTags: ['scope:labels', 'scope:k8s'] },
  // ekspose's own rules, on top of the runtime, the event bus and the label contract.
  { sourceTag: 'scope:expose', onlyDependOnLibsWithTags: ['scope:labels', 'scope:k8s', 'scope:events'] },
  { sourceTag: 'scope:testing', onlyDependOnLibsWithTags: ['scope:labels', 'scope:k8s', 'scope:events', 'scope:expose'] },
];

// A lib's tests may use the test harness too (a real nats-server, the control plane),
// as long as the harness does not depend on that lib (Nx would see a cycle).
const libTestConstraints = depConstraints.map((c) =>
  ['scope:k8s', 'scope:events', 'scope:expose'].includes(c.sourceTag)
    ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'scope:testing'] }
    : c,
);

// libs/k8s in folders by concern (tools/lint/k8s-folders.mjs): no import runs up the order.
const k8sFolderRules = K8S_FOLDERS.map((folder, i) => {
  const above = K8S_FOLDERS.slice(i + 1);
  return {
    files: [`libs/k8s/src/${folder}/**/*.ts`],
    // A test may reach up for a fixture (a TLS certificate, a clock); the order binds the code.
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['..', '../index'].map((name) => ({ name, message: 'inside libs/k8s, import the file itself, not the package index' })),
          patterns: above.length === 0 ? [] : [
            {
              group: above.flatMap((f) => [`../${f}`, `../${f}/*`]),
              message: `libs/k8s/src/${folder} sits below ${above.join(', ')} (tools/lint/k8s-folders.mjs): move the shared piece down instead of importing upward.`,
            },
          ],
        },
      ],
    },
  };
});

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
      // A source file over 400 lines is more than one concept: split it (issue 26). Tests are
      // lists of cases and are exempt below. Long functions stay a warning, so growth shows in
      // every lint run before it becomes a problem.
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['warn', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // A test file is a list of cases; describe() blocks are long by nature.
    files: ['**/*.test.ts'],
    rules: { 'max-lines-per-function': 'off', 'max-lines': 'off' },
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
    files: ['libs/*/src/**/*.test.ts', 'libs/*/src/**/*.test-helper.ts'],
    rules: {
      '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints: libTestConstraints }],
    },
  },
  ...k8sFolderRules,
  {
    // An app's own tests may use the test harness; its production code may not.
    files: ['apps/*/src/**/*.ts'],
    ignores: ['apps/*/src/**/*.test.ts', 'apps/ekspose-e2e/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: '@ekspose/testing', message: 'the test harness is for tests only' }] }],
    },
  },
];
