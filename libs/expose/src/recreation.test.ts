import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExposeSpec, ParseResult } from '@ekspose/labels';
import { decideRecreation, type RecreationInput } from './recreation';

const spec: ExposeSpec = {
  namespace: 'shop',
  name: 'web',
  uid: 'uid-1',
  port: 80,
  targetPort: 80,
  selector: { app: 'web' },
  ingress: null,
};
const expose: ParseResult = { kind: 'expose', spec };

function input(overrides: Partial<RecreationInput> = {}): RecreationInput {
  return {
    deployment: { uid: 'uid-1', terminating: false },
    parsed: expose,
    record: 'not-deleted',
    wants: () => true,
    ...overrides,
  };
}

function reasonOf(decision: ReturnType<typeof decideRecreation>): string {
  assert.equal(decision.recreate, false);
  return (decision as { reason: string }).reason;
}

describe('decideRecreation', () => {
  it('yes, with NATS consulted, when the live Deployment wants it and no deletion is recorded', () => {
    assert.deepEqual(decideRecreation(input()), { recreate: true, spec, natsConsulted: true });
  });

  it('yes, from the live API alone, when NATS could not be asked', () => {
    assert.deepEqual(decideRecreation(input({ record: 'unknown' })), { recreate: true, spec, natsConsulted: false });
  });

  it('no when the Deployment is gone (404)', () => {
    assert.match(reasonOf(decideRecreation(input({ deployment: undefined, parsed: undefined }))), /no longer exists/);
  });

  it('no when the Deployment is terminating, whatever NATS says', () => {
    assert.match(reasonOf(decideRecreation(input({ deployment: { uid: 'uid-1', terminating: true }, record: 'unknown' }))), /being deleted/);
  });

  it('no when a deployment.deleted record exists for its uid', () => {
    assert.match(reasonOf(decideRecreation(input({ record: 'deleted' }))), /deployment\.deleted record .*uid-1/);
  });

  it('no when the Deployment could not be parsed', () => {
    assert.match(reasonOf(decideRecreation(input({ parsed: undefined }))), /could not be read/);
  });

  it('no when the Deployment is ignored', () => {
    const parsed: ParseResult = { kind: 'ignored', reason: 'label ekspose.io/ignore is "true"' };
    assert.match(reasonOf(decideRecreation(input({ parsed }))), /ignored \(label ekspose\.io\/ignore is "true"\)/);
  });

  it('no when its settings are invalid', () => {
    const parsed: ParseResult = { kind: 'invalid', problems: [{ key: 'port', value: 'abc', reason: 'bad' }] };
    assert.match(reasonOf(decideRecreation(input({ parsed }))), /invalid/);
  });

  it('no when it no longer wants this kind of object, and wants is asked about the parsed spec', () => {
    const asked: ExposeSpec[] = [];
    const decision = decideRecreation(input({ wants: (s) => (asked.push(s), false) }));
    assert.match(reasonOf(decision), /no longer asks for it/);
    assert.deepEqual(asked, [spec]);
  });
});
