import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createControllerMetrics } from './metrics';

/** The value of one sample line, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createControllerMetrics', () => {
  it('exposes every metric under ekspose_ with the controller label', async () => {
    const registry = new Registry();
    const m = createControllerMetrics(registry, 'deployment');
    m.reconciled('done', 0.02);
    m.reconciled('error', 0.5);
    m.setQueueDepth(7);
    m.retried();
    m.setLeader(true);
    m.informerRestarted('deployments');
    m.objectWritten('service', 'create');
    const text = await registry.metrics();

    assert.equal(sample(text, 'ekspose_reconcile_total{controller="deployment",result="done"}'), 1);
    assert.equal(sample(text, 'ekspose_reconcile_total{controller="deployment",result="error"}'), 1);
    assert.equal(sample(text, 'ekspose_reconcile_total{controller="deployment",result="terminal"}'), 0);
    assert.equal(sample(text, 'ekspose_reconcile_duration_seconds_count{controller="deployment",result="error"}'), 1);
    assert.equal(sample(text, 'ekspose_reconcile_duration_seconds_bucket{le="0.025",controller="deployment",result="done"}'), 1);
    assert.equal(sample(text, 'ekspose_queue_depth{controller="deployment"}'), 7);
    assert.equal(sample(text, 'ekspose_queue_retries_total{controller="deployment"}'), 1);
    assert.equal(sample(text, 'ekspose_leader{controller="deployment"}'), 1);
    assert.equal(sample(text, 'ekspose_informer_restarts_total{controller="deployment",resource="deployments"}'), 1);
    assert.equal(sample(text, 'ekspose_objects_written_total{controller="deployment",kind="service",action="create"}'), 1);

    for (const name of text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2])) {
      assert.ok(name.startsWith('ekspose_'), `${name} lacks the ekspose_ prefix`);
    }
    m.setLeader(false);
    assert.equal(sample(await registry.metrics(), 'ekspose_leader{controller="deployment"}'), 0);
  });

  it('lets two controllers share one registry without clashing', async () => {
    const registry = new Registry();
    const a = createControllerMetrics(registry, 'service');
    const b = createControllerMetrics(registry, 'ingress');
    a.retried();
    b.retried();
    b.retried();
    const text = await registry.metrics();
    assert.equal(sample(text, 'ekspose_queue_retries_total{controller="service"}'), 1);
    assert.equal(sample(text, 'ekspose_queue_retries_total{controller="ingress"}'), 2);
  });

  it('adds process metrics only when asked, prefixed ekspose_', async () => {
    const plain = new Registry();
    createControllerMetrics(plain, 'deployment');
    assert.doesNotMatch(await plain.metrics(), /process_cpu/);

    const full = new Registry();
    createControllerMetrics(full, 'deployment', { defaultMetrics: true });
    createControllerMetrics(full, 'service', { defaultMetrics: true });
    assert.match(await full.metrics(), /^ekspose_process_cpu_seconds_total /m);
  });
});
