/**
 * Epoch spans and training metrics from the trainer's events, so the trainer needs no tracing code:
 *
 *   const telemetry = createTrainingTelemetry({ [ATTR.JOB_ID]: id, [ATTR.METHOD]: 'd2r', … });
 *   await train({ …, onEvent: (e) => { telemetry.onEvent(e); forward(e); } });
 *   telemetry.end();
 *
 * Each epoch becomes a `harden.epoch` span, child of the span active when the telemetry was created
 * (the job span), from the end of the previous epoch (or creation) to its `epoch` event, with its
 * loss, learning rate, ε, throughput and held-out accuracies. Checkpoints, resumption and collapse
 * are events on the job span. Works the same when the events come from a worker thread or another process.
 */
import { context, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { TrainingEvent } from './events.js';
import { ATTR, cleanAttributes, getHardenMetrics, getTracer, SPAN, type HardenMetrics, type SpanAttributes } from '../telemetry/index.js';

export interface TrainingTelemetry {
  /** Feed every trainer event here. */
  onEvent(event: TrainingEvent): void;
  /** Ends an epoch span left open (the run failed or was cancelled mid-epoch). */
  end(error?: unknown): void;
}

export interface TrainingTelemetryOptions {
  /** Parent of the epoch spans. @default the active context at creation */
  parent?: Context;
  /** @default getHardenMetrics() */
  metrics?: HardenMetrics;
  /** Clock in ms since the epoch, for tests. @default Date.now */
  now?: () => number;
}

/** Creates the event handler; `attrs` (job id, method, arch, data set, backend) go on every epoch span and metric. */
export function createTrainingTelemetry(attrs: SpanAttributes, options: TrainingTelemetryOptions = {}): TrainingTelemetry {
  const parent = options.parent ?? context.active();
  const metrics = options.metrics ?? getHardenMetrics();
  const now = options.now ?? Date.now;
  const base = cleanAttributes(attrs);
  const metricAttrs = cleanAttributes({ [ATTR.METHOD]: attrs[ATTR.METHOD], [ATTR.BACKEND]: attrs[ATTR.BACKEND], [ATTR.ARCH]: attrs[ATTR.ARCH] });
  let epochStart = now();
  let open: { epoch: number; span: Span } | undefined;

  const start = (epoch: number, epochs?: number) => {
    if (open?.epoch === epoch) return open.span;
    open?.span.end(now());
    const span = getTracer().startSpan(SPAN.EPOCH, { kind: SpanKind.INTERNAL, startTime: epochStart, attributes: { ...base, [ATTR.EPOCH]: epoch, ...(epochs ? { [ATTR.EPOCHS]: epochs } : {}) } }, parent);
    open = { epoch, span };
    return span;
  };

  return {
    onEvent(event) {
      switch (event.type) {
        case 'resumed':
          trace.getSpan(parent)?.addEvent('resumed', { [ATTR.EPOCH]: event.epoch, [ATTR.MODEL_URI]: event.uri });
          epochStart = now();
          break;
        case 'batch':
          start(event.epoch, event.epochs);
          break;
        case 'epoch': {
          const r = event.record;
          const span = start(r.epoch);
          span.setAttributes(cleanAttributes({
            [ATTR.LOSS]: r.loss,
            [ATTR.LR]: r.lr,
            [ATTR.EPS]: r.eps,
            [ATTR.IMG_PER_S]: r.imagesPerSecond,
            [ATTR.CLEAN_ACCURACY]: r.evalSize > 0 ? r.cleanAccuracy : undefined,
            [ATTR.ROBUST_ACCURACY]: r.evalSize > 0 ? r.robustAccuracy : undefined,
            'harden.train_seconds': r.trainSeconds,
            'harden.eval_seconds': r.evalSeconds,
            'harden.eval_size': r.evalSize,
          }));
          if (r.collapse) span.addEvent('collapse', cleanAttributes({ reason: (r.collapse as { reason?: string }).reason }));
          span.end(now());
          open = undefined;
          epochStart = now();
          metrics.epoch(r.trainSeconds + r.evalSeconds, r.imagesPerSecond, metricAttrs);
          break;
        }
        case 'collapse':
          (open?.span ?? trace.getSpan(parent))?.addEvent('collapse', cleanAttributes({ [ATTR.EPOCH]: event.epoch, reason: (event.collapse as { reason?: string }).reason }));
          break;
        case 'checkpoint':
          // An ended span takes no events: a checkpoint (written after its epoch) goes on the job span.
          (open?.span ?? trace.getSpan(parent))?.addEvent('checkpoint', { [ATTR.EPOCH]: event.epoch, [ATTR.MODEL_URI]: event.uri, best: event.best });
          break;
      }
    },
    end(error) {
      if (!open) return;
      if (error !== undefined) open.span.setAttribute('harden.cancelled', (error as { name?: string })?.name === 'AbortError');
      open.span.end(now());
      open = undefined;
    },
  };
}
