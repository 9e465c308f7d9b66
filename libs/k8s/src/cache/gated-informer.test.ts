import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { GatedInformer, type GatedInner } from './gated-informer';
import { ManualClock } from '../base/manual-clock';

function inner(): GatedInner & { started: number; stopped: number } {
  const state = {
    started: 0,
    stopped: 0,
    start: () => void state.started++,
    waitForSync: () => Promise.resolve(),
    status: () => ({ resource: 'httproutes', running: true, synced: true, objects: 3, restarts: 0 }),
    stop: () => void state.stopped++,
  };
  return state;
}

const flush = () => new Promise((r) => setImmediate(r));

describe('GatedInformer', () => {
  it('a resource not served: synced and empty at once, the informer not started, discovery asked again; served later: started, and told', async () => {
    const clock = new ManualClock();
    const real = inner();
    let served = false;
    let told = 0;
    const gate = new GatedInformer({ inner: real, resource: 'httproutes', isServed: async () => served, onServed: () => told++, log: pino({ level: 'silent' }), recheckMs: 30_000, clock });
    gate.start();
    await gate.waitForSync();
    assert.equal(gate.available, false);
    assert.equal(real.started, 0);
    // running: a controller's /healthz fails for an informer that is not running, and waiting is not broken.
    assert.deepEqual(
      { running: gate.status().running, synced: gate.status().synced, objects: gate.status().objects, served: gate.status().served },
      { running: true, synced: true, objects: 0, served: false },
    );
    clock.advance(29_000);
    await flush();
    assert.equal(real.started, 0);
    served = true;
    clock.advance(1_000);
    await flush();
    await flush();
    assert.equal(gate.available, true);
    assert.equal(real.started, 1);
    assert.equal(told, 1, 'what waited for it is looked at again');
    assert.equal(gate.status().objects, 3);
    await gate.stop();
    assert.equal(real.stopped, 1);
  });

  it('a resource served from the start: started, waited for, and nothing told (the start-up resync covers it)', async () => {
    const real = inner();
    let told = 0;
    const gate = new GatedInformer({ inner: real, resource: 'httproutes', isServed: async () => true, onServed: () => told++, log: pino({ level: 'silent' }), clock: new ManualClock() });
    gate.start();
    await gate.waitForSync();
    await flush();
    assert.equal(real.started, 1);
    assert.equal(told, 0);
  });

  it('discovery failing is "not yet", asked again; stop() ends the asking', async () => {
    const clock = new ManualClock();
    const real = inner();
    let asked = 0;
    const gate = new GatedInformer({
      inner: real,
      resource: 'httproutes',
      isServed: async () => {
        asked++;
        throw new Error('connection refused');
      },
      onServed: () => undefined,
      log: pino({ level: 'silent' }),
      recheckMs: 1000,
      clock,
    });
    gate.start();
    await gate.waitForSync();
    clock.advance(1000);
    await flush();
    assert.equal(asked, 2);
    await gate.stop();
    clock.advance(5000);
    await flush();
    assert.equal(asked, 2);
    assert.equal(real.started, 0);
  });
});
