// Each library's README says what is in it, and cannot fall behind the code: every
// source file of a lib (tests, test helpers and index.ts aside) is named, as `file.ts`,
// in the README of the folder it sits in or in the lib's own README.
//   node --import tsx --test tools/lint/lib-readmes.test.ts
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Source files whose README must name them: not tests, test helpers or an index. */
export function documentedSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'fixtures') out.push(...documentedSources(path));
    } else if (name.endsWith('.ts') && !/\.test(-helper)?\.ts$/.test(name) && name !== 'index.ts') {
      out.push(path);
    }
  }
  return out;
}

/** The files of `lib` that neither their folder's README nor the lib's README names. */
export function undocumented(lib: string): string[] {
  const libReadme = readFileSync(join(lib, 'README.md'), 'utf8');
  return documentedSources(join(lib, 'src')).filter((file) => {
    const folderReadme = join(file, '..', 'README.md');
    const text = libReadme + (existsSync(folderReadme) ? readFileSync(folderReadme, 'utf8') : '');
    const name = file.split('/').pop()!;
    return !text.includes(`\`${name}\``) && !text.includes(`${name}\``) && !text.includes(`/${name})`);
  });
}

describe('library READMEs', () => {
  const libs = readdirSync(join(root, 'libs')).filter((name) => statSync(join(root, 'libs', name)).isDirectory());

  it('finds the libraries', () => {
    assert.ok(libs.includes('k8s') && libs.includes('labels'), libs.join(', '));
  });

  for (const name of libs) {
    it(`libs/${name}: every source file is listed in a README`, () => {
      const lib = join(root, 'libs', name);
      const missing = undocumented(lib).map((f) => relative(root, f));
      assert.deepEqual(missing, [], `not in libs/${name}/README.md (or its folder's README.md): ${missing.join(', ')}`);
    });
  }

  it('catches a file that no README names', () => {
    // The check itself must be able to fail: a lib on disk whose READMEs name two of its three files.
    const lib = mkdtempSync(join(tmpdir(), 'lib-readme-'));
    try {
      mkdirSync(join(lib, 'src', 'room'), { recursive: true });
      writeFileSync(join(lib, 'README.md'), '| `named.ts` | named |\n');
      for (const f of ['named.ts', 'named.test.ts', 'index.ts', 'room/unnamed.ts', 'room/kept.ts']) writeFileSync(join(lib, 'src', f), '');
      writeFileSync(join(lib, 'src', 'room', 'README.md'), '- `kept.ts`: named by its folder\n');
      assert.deepEqual(undocumented(lib).map((f) => relative(lib, f)), ['src/room/unnamed.ts']);
    } finally {
      rmSync(lib, { recursive: true, force: true });
    }
  });
});
