import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseStatusArgs } from './args';
import { formatTable } from './status';

describe('parseStatusArgs', () => {
  it('reads kubectl-style flags, with = or a separate value', () => {
    assert.deepEqual(parseStatusArgs(['status', '-n', 'shop', '-o', 'json']), { command: 'status', namespace: 'shop', allNamespaces: false, output: 'json' });
    assert.deepEqual(parseStatusArgs(['status', '--namespace=shop', '--kubeconfig', '/k', '--context=dev']), {
      command: 'status', namespace: 'shop', allNamespaces: false, output: 'table', kubeconfig: '/k', context: 'dev',
    });
    assert.equal(parseStatusArgs(['status', '-A']).allNamespaces, true);
  });

  it('no command, or --help: the usage', () => {
    assert.equal(parseStatusArgs([]).command, 'help');
    assert.equal(parseStatusArgs(['status', '--help']).command, 'help');
  });

  it('refuses what it does not know, saying what', () => {
    assert.throws(() => parseStatusArgs(['statuss']), /unknown command "statuss"/);
    assert.throws(() => parseStatusArgs(['status', '--wide']), /unknown flag --wide/);
    assert.throws(() => parseStatusArgs(['status', '-n']), /-n needs a value/);
    assert.throws(() => parseStatusArgs(['status', '-o', 'yaml']), /--output must be table or json/);
    assert.throws(() => parseStatusArgs(['status', '-n', 'a', '-A']), /not both/);
  });
});

describe('formatTable', () => {
  it("kubectl's layout: upper-case headers, aligned columns, NAMESPACE only across namespaces, - for no URL", () => {
    const rows = [
      { namespace: 'shop', name: 'web', exposedAs: 'Ingress' as const, url: 'http://web.example.com/', state: 'exposed' as const, reason: '' },
      { namespace: 'shop', name: 'bad', exposedAs: 'Service only' as const, url: '', state: 'invalid' as const, reason: 'port "abc"' },
    ];
    assert.equal(
      formatTable(rows, false),
      'NAME   EXPOSED AS     URL                       STATE     REASON\n' +
        'web    Ingress        http://web.example.com/   exposed\n' +
        'bad    Service only   -                         invalid   port "abc"\n',
    );
    assert.match(formatTable(rows, true), /^NAMESPACE {3}NAME/);
    assert.equal(formatTable([], false), 'No Deployments found.\n');
  });
});
