import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createControllerMetrics } from '@ekspose/k8s';
import { createExposeMetrics } from './expose-metrics';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createExposeMetrics', () => {
  it('counts invalid specs, conflicts and decisions beside the runtime metrics, with the controller label', async () => {
    const registry = new Registry();
    createControllerMetrics(registry, 'service-controller');
    const m = createExposeMetrics(registry, 'service-controller');
    m.invalidSpec('port');
    m.conflict('ingress');
    m.decision('service', 'recreate');
    m.decision('service', 'create');
    m.decision('service', 'create');
    const text = await registry.metrics();
    assert.equal(sample(text, 'ekspose_invalid_spec_total{controller="service-controller",key="port"}'), 1);
    assert.equal(sample(text, 'ekspose_conflicts_total{controller="service-controller",kind="ingress"}'), 1);
    assert.equal(sample(text, 'ekspose_decisions_total{controller="service-controller",kind="service",decision="recreate"}'), 1);
    assert.equal(sample(text, 'ekspose_decisions_total{controller="service-controller",kind="service",decision="create"}'), 2);
    assert.ok(text.includes('ekspose_reconcile_total'), 'the runtime metrics share the registry');
  });

  it('a second controller on one registry reuses the counters', async () => {
    const registry = new Registry();
    createExposeMetrics(registry, 'a').conflict('service');
    createExposeMetrics(registry, 'b').conflict('service');
    const text = await registry.metrics();
    assert.equal(sample(text, 'ekspose_conflicts_total{controller="a",kind="service"}'), 1);
    assert.equal(sample(text, 'ekspose_conflicts_total{controller="b",kind="service"}'), 1);
  });
});
