#!/usr/bin/env node
// Bundles one app into dist/apps/<app>/main.js: a single ESM file with every
// dependency inside, runnable with plain `node` and copied as-is into the image.
//   node tools/scripts/bundle.mjs deployment-controller
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const app = process.argv[2];
if (!app) {
  console.error('usage: bundle.mjs <app>');
  process.exit(2);
}
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const outfile = `dist/apps/${app}/main.js`;
const result = await build({
  entryPoints: [`apps/${app}/src/main.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // Minified (8.4 MB -> 2.9 MB with client-node 1.4; 3.4 MB with 2.0, which brings undici): V8 keeps a script's source in the heap for as long as it runs.
  // Names are kept, so errors and logs still say which class; the linked source map maps the rest.
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  tsconfig: 'tsconfig.base.json',
  metafile: true,
  legalComments: 'linked',
  define: { 'process.env.EKSPOSE_VERSION': JSON.stringify(version) },
  // Some bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __ekspose_createRequire } from 'node:module'; const require = __ekspose_createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
const bytes = result.metafile.outputs[outfile]?.bytes ?? 0;
console.log(`bundle: ${outfile} (${(bytes / 1024).toFixed(0)} KiB)`);
