#!/usr/bin/env node
// `npx ekspose status` in this repository (and bin/kubectl-ekspose as a kubectl
// plugin): installs the npm packages on first use, then runs apps/cli.
import { spawn } from 'node:child_process';
import { ensureDependencies, root } from '../tools/scripts/lib/ensure-deps.mjs';

ensureDependencies();
const child = spawn(process.execPath, ['--import', 'tsx', `${root}apps/cli/src/main.ts`, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, TSX_TSCONFIG_PATH: `${root}tsconfig.json` },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
