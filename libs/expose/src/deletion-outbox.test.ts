import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { realClock } from '@ekspose/k8s';
import { DeletionOutbox } from './deletion-outbox';

/** An outbox whose NATS takes records while `up` is true, and the msgIds it was sent. */
function outboxWithNats() {
  const nats = { up: true, sent: [] as string[] };
  const outbox = new DeletionOutbox({
    events: {
      publish: (async (_kind: string, payload: { uid: string }, opts?: { msgId?: string }) => {
        nats.sent.push(`${payload.uid}:${opts?.msgId}`);
        return nats.up ? { ok: true, seq: nats.sent.length, duplicate: false } : { ok: false, error: 'down' };
      }) as never,
    },
    log: pino({ level: 'silent' }),
    clock: realClock,
  });
  return { outbox, nats };
}

describe('DeletionOutbox', () => {
  it('sends with the uid as message id, and owes nothing when NATS acks', async () => {
    const { outbox, nats } = outboxWithNats();
    await outbox.send('ns', 'a', 'u1');
    assert.deepEqual(nats.sent, ['u1:u1']);
    assert.equal(outbox.hasOwed('ns/a'), false);
  });

  it('owes a record NATS could not take until a later send succeeds, per key and uid', async () => {
    const { outbox, nats } = outboxWithNats();
    nats.up = false;
    await outbox.send('ns', 'a', 'u1');
    await outbox.send('ns', 'a', 'u2');
    await outbox.send('ns', 'a', 'u1');
    assert.deepEqual(outbox.owed('ns/a').sort(), ['u1', 'u2']);
    assert.equal(outbox.owedCount, 2);
    nats.up = true;
    await outbox.send('ns', 'a', 'u1');
    assert.deepEqual(outbox.owed('ns/a'), ['u2']);
    await outbox.send('ns', 'a', 'u2');
    assert.equal(outbox.hasOwed('ns/a'), false);
    assert.equal(outbox.owedCount, 0);
  });

  it('uidsFor joins the tombstone with the records still owed, once each', async () => {
    const { outbox, nats } = outboxWithNats();
    outbox.noteDeleted('ns/a', 'u1');
    nats.up = false;
    await outbox.send('ns', 'a', 'u1');
    await outbox.send('ns', 'a', 'u0');
    assert.deepEqual(outbox.uidsFor('ns/a').sort(), ['u0', 'u1']);
    outbox.clearTombstone('ns/a');
    nats.up = true;
    await outbox.send('ns', 'a', 'u1');
    assert.deepEqual(outbox.uidsFor('ns/a'), ['u0']);
    assert.deepEqual(outbox.uidsFor('ns/other'), []);
  });
});
