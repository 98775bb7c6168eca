import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultServiceName, resolveTelemetryConfig } from './config.js';

describe('resolveTelemetryConfig', () => {
  it('is off without OTEL variables (embedded mode)', () => {
    assert.equal(resolveTelemetryConfig({}, 'harden').enabled, false);
  });
  it('turns on for an OTLP endpoint (general or traces) or a traces exporter other than none', () => {
    assert.equal(resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).enabled, true);
    assert.equal(resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }).enabled, true);
    assert.equal(resolveTelemetryConfig({ OTEL_TRACES_EXPORTER: 'console' }).enabled, true);
    assert.equal(resolveTelemetryConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).enabled, false);
    assert.equal(resolveTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }).enabled, false);
  });
  it('OTEL_SDK_DISABLED=true always wins', () => {
    const c = resolveTelemetryConfig({ OTEL_SDK_DISABLED: 'TRUE', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' });
    assert.equal(c.enabled, false);
    assert.match(c.reason, /OTEL_SDK_DISABLED/);
  });
  it('takes OTEL_SERVICE_NAME over the default', () => {
    assert.equal(resolveTelemetryConfig({ OTEL_SERVICE_NAME: 'mine' }, 'harden-training').serviceName, 'mine');
    assert.equal(resolveTelemetryConfig({}, 'harden-training').serviceName, 'harden-training');
  });
});

describe('defaultServiceName', () => {
  it('names the service a command line runs', () => {
    assert.equal(defaultServiceName(['serve', '--service', 'training']), 'harden-training');
    assert.equal(defaultServiceName(['serve', '--port', '1', '--service=evaluation']), 'harden-evaluation');
    assert.equal(defaultServiceName(['serve']), 'harden');
    assert.equal(defaultServiceName(['serve', '--service', 'all']), 'harden');
    assert.equal(defaultServiceName(['worker', '--job', 'j1']), 'harden-worker');
    assert.equal(defaultServiceName(['train']), 'harden');
  });
});
