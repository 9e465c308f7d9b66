// Every link in the repository's Markdown resolves: a relative link names a file or
// folder that exists, and a `#anchor` names a heading (or an explicit anchor) of its
// target, slugged as GitHub slugs headings. Links to other sites are not fetched.
//   node --import tsx --test tools/lint/doc-links.test.ts
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', '.git', '.nx', '.ekspose', 'tmp', 'coverage']);

/** The Markdown files under `dir`, build output and installed packages aside. */
export function markdownFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIPPED_FOLDERS.has(name)) out.push(...markdownFiles(path));
    } else if (name.endsWith('.md')) {
      out.push(path);
    }
  }
  return out;
}

/** The text outside fenced code blocks and inline code, where a `[x](y)` is a link. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '``');
}

/**
 * GitHub's heading anchor (github-slugger): the rendered text in lower case, every
 * character that is not a letter, digit, space, `-` or `_` dropped, spaces made `-`.
 */
export function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link shows its text
    .replace(/<[^>]+>/g, '') // inline HTML shows nothing of its tags
    .replace(/[`*]/g, '');
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings' slugs (a repeat gets `-1`, `-2`, …) and explicit ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of text.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = githubSlug(heading!);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  for (const [, id] of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(id!);
  return anchors;
}

/** The link targets of a Markdown file: inline links and images, and reference definitions. */
export function linksOf(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const references = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!);
  return [...inline, ...references];
}

/** What is wrong with each link of `file` that does not resolve (an empty list: all do). */
export function brokenLinks(file: string): string[] {
  const problems: string[] = [];
  for (const link of linksOf(readFileSync(file, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto: — another site
    const hash = link.indexOf('#');
    const path = decodeURIComponent(hash < 0 ? link : link.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(link.slice(hash + 1));
    const target = path === '' ? file : path.startsWith('/') ? join(root, path) : join(dirname(file), path);
    if (!existsSync(target)) {
      problems.push(`${link}: no such file or folder`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!target.endsWith('.md') || statSync(target).isDirectory()) continue; // GitHub's line anchors (#L10) and the like
    if (!anchorsOf(readFileSync(target, 'utf8')).has(anchor)) problems.push(`${link}: no heading #${anchor} in ${relative(root, target)}`);
  }
  return problems;
}

describe('links in the Markdown', () => {
  const files = markdownFiles(root);

  it('finds the README, docs/ and the libraries and apps READMEs', () => {
    const names = files.map((f) => relative(root, f));
    for (const expected of ['README.md', 'docs/design.md', 'libs/k8s/README.md', 'apps/ekspose-e2e/README.md', 'tools/bench/README.md']) {
      assert.ok(names.includes(expected), expected);
    }
  });

  for (const file of files) {
    it(`${relative(root, file)}: every link resolves`, () => {
      assert.deepEqual(brokenLinks(file), []);
    });
  }

  it('slugs headings as GitHub does', () => {
    assert.equal(githubSlug('6. RBAC'), '6-rbac');
    assert.equal(githubSlug('3.4 A managed object deleted: the recreate decision'), '34-a-managed-object-deleted-the-recreate-decision');
    assert.equal(githubSlug('Install with Argo CD or Flux'), 'install-with-argo-cd-or-flux');
    assert.equal(githubSlug('`EKSPOSE_SHARDS` and [decision 0010](x.md)'), 'ekspose_shards-and-decision-0010');
    assert.deepEqual([...anchorsOf('# Tests\n## Tests\n```\n# not a heading\n```\n## Tests #\n')], ['tests', 'tests-1', 'tests-2']);
  });

  it('catches a missing file, a missing heading and a link to a heading of another file', () => {
    // The check must be able to fail: a folder with one good and three broken links.
    const dir = mkdtempSync(join(tmpdir(), 'doc-links-'));
    try {
      writeFileSync(join(dir, 'other.md'), '# Other page\n\n## Figures, measured\n');
      writeFileSync(
        join(dir, 'page.md'),
        [
          '# Page',
          '[good](other.md#figures-measured) [same page](#page) [site](https://example.com/x.md)',
          '[gone](missing.md) [no heading](other.md#figures) [no local heading](#nowhere)',
          '`[in code](missing-too.md)`',
          '```',
          '[in a block](missing-three.md)',
          '```',
        ].join('\n'),
      );
      assert.deepEqual(brokenLinks(join(dir, 'page.md')), [
        'missing.md: no such file or folder',
        `other.md#figures: no heading #figures in ${relative(root, join(dir, 'other.md'))}`,
        `#nowhere: no heading #nowhere in ${relative(root, join(dir, 'page.md'))}`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
