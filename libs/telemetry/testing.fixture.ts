/**
 * Test helpers for the telemetry specs (not part of the public API): an in-memory SDK (spans and
 * metrics kept in this process) and a tiny Connect service built from a descriptor at run time.
 */
import { create, createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FieldDescriptorProto_Label, FieldDescriptorProto_Type } from '@bufbuild/protobuf/wkt';
import type { DescMessage, DescService } from '@bufbuild/protobuf';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

export interface TestTelemetry {
  /** Finished spans so far. */
  spans(): ReadableSpan[];
  span(name: string): ReadableSpan;
  /** Collects the metrics recorded so far (cumulative). */
  metrics(): Promise<ResourceMetrics>;
  /** The data points of one metric, by name. */
  points(name: string): Promise<Array<{ attributes: Record<string, unknown>; value: unknown }>>;
  reset(): void;
  shutdown(): Promise<void>;
}

/** Starts the real Node SDK with in-memory exporters (AsyncLocalStorage context, W3C propagation). */
export function startTestTelemetry(): TestTelemetry {
  const exporter = new InMemorySpanExporter();
  const reader = new CollectingReader();
  const sdk = new NodeSDK({ serviceName: 'test', spanProcessors: [new SimpleSpanProcessor(exporter)], metricReaders: [reader], logRecordProcessors: [], autoDetectResources: false });
  sdk.start();
  const t: TestTelemetry = {
    spans: () => exporter.getFinishedSpans(),
    span: (name) => {
      const s = exporter.getFinishedSpans().find((x) => x.name === name);
      if (!s) throw new Error(`no span named ${name}; have ${exporter.getFinishedSpans().map((x) => x.name).join(', ')}`);
      return s;
    },
    metrics: async () => (await reader.collect()).resourceMetrics,
    points: async (name) => {
      const rm = await t.metrics();
      for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.descriptor.name === name) return m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
      return [];
    },
    reset: () => exporter.reset(),
    shutdown: () => sdk.shutdown(),
  };
  return t;
}

/** The parent span id of a finished span (SDK 2.x keeps it in `parentSpanContext`). */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** A service `test.v1.Echo` with `Say` (unary) and `Count` (server streaming), message `Ping { text }`. */
export function echoService(): { service: DescService; ping: DescMessage } {
  const file = create(FileDescriptorProtoSchema, {
    name: 'test/v1/echo.proto',
    package: 'test.v1',
    syntax: 'proto3',
    messageType: [{ name: 'Ping', field: [{ name: 'text', jsonName: 'text', number: 1, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL }] }],
    service: [
      {
        name: 'Echo',
        method: [
          { name: 'Say', inputType: '.test.v1.Ping', outputType: '.test.v1.Ping' },
          { name: 'Count', inputType: '.test.v1.Ping', outputType: '.test.v1.Ping', serverStreaming: true },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, () => undefined);
  return { service: registry.getService('test.v1.Echo')!, ping: registry.getMessage('test.v1.Ping')! };
}
