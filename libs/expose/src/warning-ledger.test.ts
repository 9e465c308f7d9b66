import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WarningLedger } from './warning-ledger';

describe('WarningLedger', () => {
  it('reports a fingerprint once per key and topic, and again when it changes', () => {
    const ledger = new WarningLedger();
    assert.equal(ledger.count('invalid'), 0);
    assert.equal(ledger.firstReport('ns/a', 'invalid', 'rev1'), true);
    assert.equal(ledger.count('invalid'), 1);
    assert.equal(ledger.firstReport('ns/a', 'invalid', 'rev1'), false);
    assert.equal(ledger.firstReport('ns/a', 'host', 'rev1'), true, 'topics are independent');
    assert.equal(ledger.firstReport('ns/b', 'invalid', 'rev1'), true, 'keys are independent');
    assert.equal(ledger.firstReport('ns/a', 'invalid', 'rev2'), true);
    assert.equal(ledger.firstReport('ns/a', 'invalid', 'rev1'), true, 'only the last fingerprint is remembered');
    assert.equal(ledger.count('invalid'), 2, 'ns/a and ns/b stand invalid');
    ledger.clear('ns/b', 'invalid');
    assert.equal(ledger.count('invalid'), 1);
  });

  it('clear makes one topic report again; forget drops the key', () => {
    const ledger = new WarningLedger();
    ledger.firstReport('ns/a', 'Service', 'x');
    ledger.firstReport('ns/a', 'host', 'y');
    ledger.clear('ns/a', 'Service');
    assert.equal(ledger.firstReport('ns/a', 'Service', 'x'), true);
    assert.equal(ledger.firstReport('ns/a', 'host', 'y'), false);
    ledger.forget('ns/a');
    assert.equal(ledger.size, 0);
    assert.equal(ledger.firstReport('ns/a', 'host', 'y'), true);
  });

  it('does not keep empty entries after the last topic is cleared', () => {
    const ledger = new WarningLedger();
    ledger.firstReport('ns/a', 'invalid', 'x');
    ledger.clear('ns/a', 'invalid');
    ledger.clear('ns/missing', 'invalid');
    assert.equal(ledger.size, 0);
  });
});
