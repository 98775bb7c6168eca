/**
 * Trainer events as a job's events and progress: `batch`, `epoch` (with where the check's images
 * came from), `checkpoint`, `resumed`, and a `warning` on collapse. Used by the training service for
 * jobs trained in a worker thread and by `harden worker` in a Kubernetes pod, which reports them.
 */
import type { TrainingEvent } from './events.js';
import type { JobContext } from '../jobs/index.js';

/** Where relayed events go: a libs/jobs `JobContext`, or a worker's report buffer. */
export type ProgressSink = Pick<JobContext<unknown>, 'emit' | 'progress'>;

export function relayTraining(ctx: ProgressSink, e: TrainingEvent): void {
  switch (e.type) {
    case 'resumed':
      ctx.emit('resumed', { epoch: e.epoch, uri: e.uri, ...(e.skipped ? { skipped: e.skipped } : {}) });
      if (e.skipped?.length) {
        const what = e.skipped.map((s) => `checkpoint ${s.key} is ${s.reason}`).join('; ');
        ctx.emit('warning', { id: 'checkpoint', message: e.uri ? `${what}: resumed from epoch ${e.epoch}` : `${what}: no intact checkpoint, training starts over` });
      }
      break;
    case 'batch':
      ctx.emit('batch', {
        epoch: e.epoch,
        epochs: e.epochs,
        batch: e.batch,
        batches: e.batches,
        loss: e.loss,
        lr: e.lr,
        eps: e.eps,
        imagesPerSecond: e.imagesPerSecond,
        etaSeconds: e.etaSeconds,
      });
      ctx.progress({
        phase: 'training',
        epoch: e.epoch,
        epochs: e.epochs,
        batch: e.batch,
        batches: e.batches,
        fraction: ((e.epoch - 1) * e.batches + e.batch) / (e.epochs * e.batches),
        imagesPerSecond: e.imagesPerSecond,
        etaSeconds: e.etaSeconds,
      });
      break;
    case 'epoch':
      ctx.emit('epoch', {
        epoch: e.record.epoch,
        loss: e.record.loss,
        cleanAccuracy: e.record.cleanAccuracy,
        robustAccuracy: e.record.robustAccuracy,
        imagesPerSecond: e.record.imagesPerSecond,
        // The check's images: held out of the training split, never the test split.
        evalSize: e.record.evalSize,
        heldOutFrom: 'train',
      });
      ctx.progress({ etaSeconds: e.etaSeconds });
      break;
    case 'collapse':
      ctx.emit('warning', { id: 'collapse', message: `epoch ${e.epoch}: training collapsed (${e.collapse.reason}): ${e.collapse.message}` });
      break;
    case 'checkpoint':
      ctx.emit('checkpoint', { epoch: e.epoch, uri: e.uri, best: e.best });
      break;
  }
}
