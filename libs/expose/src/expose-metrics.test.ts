import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createControllerMetrics } from '@ekspose/k8s';
import { hasSample, parsePrometheusText, sampleSum } from '@ekspose/testing';
import { createExposeMetrics } from './expose-metrics';

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
    const page = parsePrometheusText(await registry.metrics());
    const sc = { controller: 'service-controller' };
    assert.equal(sampleSum(page, 'ekspose_invalid_spec_total', { ...sc, key: 'port' }), 1);
    assert.equal(sampleSum(page, 'ekspose_conflicts_total', { ...sc, kind: 'ingress' }), 1);
    assert.equal(sampleSum(page, 'ekspose_decisions_total', { ...sc, kind: 'service', decision: 'recreate' }), 1);
    assert.equal(sampleSum(page, 'ekspose_decisions_total', { ...sc, kind: 'service', decision: 'create' }), 2);
    assert.ok(hasSample(page, 'ekspose_reconcile_total', sc), 'the runtime metrics share the registry');
  });

  it('ekspose_invalid_deployments is read at each scrape from what the controller reports', async () => {
    const registry = new Registry();
    const m = createExposeMetrics(registry, 'deployment-controller');
    let invalid = 3;
    m.countInvalid(() => invalid);
    const dc = { controller: 'deployment-controller' };
    assert.equal(sampleSum(parsePrometheusText(await registry.metrics()), 'ekspose_invalid_deployments', dc), 3);
    invalid = 0;
    assert.equal(sampleSum(parsePrometheusText(await registry.metrics()), 'ekspose_invalid_deployments', dc), 0);
  });

  it('a second controller on one registry reuses the counters', async () => {
    const registry = new Registry();
    createExposeMetrics(registry, 'a').conflict('service');
    createExposeMetrics(registry, 'b').conflict('service');
    const page = parsePrometheusText(await registry.metrics());
    assert.equal(sampleSum(page, 'ekspose_conflicts_total', { controller: 'a', kind: 'service' }), 1);
    assert.equal(sampleSum(page, 'ekspose_conflicts_total', { controller: 'b', kind: 'service' }), 1);
  });
});
