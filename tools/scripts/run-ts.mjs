#!/usr/bin/env node
// Entry of the npm scripts that run TypeScript tools: install the packages on
// first use, then run the script with tsx.  node tools/scripts/run-ts.mjs <file.ts> [args]
import { spawn } from 'node:child_process';
import { ensureDependencies, root } from './lib/ensure-deps.mjs';

ensureDependencies();
const [file, ...args] = process.argv.slice(2);
const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: process.cwd(), stdio: 'inherit', env: { ...process.env, TSX_TSCONFIG_PATH: `${root}tsconfig.json` } });
// The child handles Ctrl-C itself (it is in our process group); just wait for it.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
