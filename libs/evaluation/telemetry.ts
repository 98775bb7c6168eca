/**
 * Attack-phase spans from the evaluator's progress events (`evaluateRobustness({ onProgress })`):
 * each attack of the suite becomes a `harden.attack` span, child of the span active at creation
 * (the Evaluate RPC or a `harden.evaluation` span), with its robust accuracy and throughput; clean
 * accuracy goes on the parent span.
 */
import { context, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { EvaluationEvent } from './evaluate.js';
import { ATTR, cleanAttributes, getHardenMetrics, getTracer, SPAN, type HardenMetrics, type SpanAttributes } from '../telemetry/index.js';

export interface EvaluationTelemetry {
  onProgress(event: EvaluationEvent): void;
  /** Ends an attack span left open (the evaluation failed or was cancelled). */
  end(): void;
}

export interface EvaluationTelemetryOptions {
  /** @default the active context at creation */
  parent?: Context;
  /** @default getHardenMetrics() */
  metrics?: HardenMetrics;
}

/** Creates the progress handler; `attrs` (model URI, ε, suite, backend) go on every attack span. */
export function createEvaluationTelemetry(attrs: SpanAttributes, options: EvaluationTelemetryOptions = {}): EvaluationTelemetry {
  const parent = options.parent ?? context.active();
  const metrics = options.metrics ?? getHardenMetrics();
  const base = cleanAttributes(attrs);
  let n = 0;
  let open: Span | undefined;
  let lastStage = '';
  return {
    onProgress(event) {
      switch (event.type) {
        case 'clean': {
          n = event.n;
          const span = trace.getSpan(parent);
          span?.setAttributes({ [ATTR.N]: event.n, [ATTR.CLEAN_ACCURACY]: event.cleanAccuracy });
          span?.addEvent('clean', { [ATTR.N]: event.n, [ATTR.CLEAN_ACCURACY]: event.cleanAccuracy });
          break;
        }
        case 'attack-start':
          open?.end();
          lastStage = '';
          open = getTracer().startSpan(SPAN.ATTACK, { kind: SpanKind.INTERNAL, attributes: { ...base, [ATTR.ATTACK]: event.name, 'harden.attack_index': event.index, 'harden.attack_total': event.total } }, parent);
          break;
        case 'attack-step':
          // Stage changes inside a row (AutoAttack's) as events of its span.
          if (open && event.stage !== lastStage) open.addEvent('stage', { [ATTR.ATTACK]: event.stage });
          lastStage = event.stage;
          break;
        case 'attack-done': {
          const span = open ?? getTracer().startSpan(SPAN.ATTACK, { attributes: { ...base, [ATTR.ATTACK]: event.name } }, parent);
          const imgPerS = event.seconds > 0 && n > 0 ? n / event.seconds : undefined;
          span.setAttributes(cleanAttributes({ [ATTR.ROBUST_ACCURACY]: event.robustAccuracy, [ATTR.N]: n || undefined, [ATTR.IMG_PER_S]: imgPerS, 'harden.seconds': event.seconds }));
          span.end();
          open = undefined;
          if (imgPerS !== undefined) metrics.attackThroughput(imgPerS, cleanAttributes({ [ATTR.ATTACK]: event.name, [ATTR.BACKEND]: attrs[ATTR.BACKEND] }));
          break;
        }
      }
    },
    end() {
      open?.end();
      open = undefined;
    },
  };
}
