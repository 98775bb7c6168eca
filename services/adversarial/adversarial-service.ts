/**
 * AdversarialService.GenerateAdversarial: validate (generate-spec.ts), load the data set on this
 * thread (cached), check the response size and the model against the data, and stream the batches
 * libs/attacks `createAttackStreamer` computes on a pool of attack workers (a libs/engine
 * `WorkerPool`, one engine per thread, created on first use) as response messages. The call's
 * signal (client cancel, deadline, server shutdown) stops the workers' attacks with the call.
 * Each stream is admitted first (libs/rpc admission.ts: streams per caller, attack memory in all).
 */
import type { ServiceImpl } from '@connectrpc/connect';
import { createAttackStreamer, type AttackStreamer } from '../../libs/attacks/index.js';
import { createWorkerPool, defaultWorkerCount, RemoteError, type BackendChoice, type WorkerPool } from '../../libs/engine/index.js';
import { imageSize, loadDataset, type Dataset } from '../../libs/data/index.js';
import { readModelBytes } from '../../libs/models/index.js';
import { createAdmission, encodeTensor, invalidField, DEFAULT_WRITE_MAX_BYTES, REQUEST_AUTH, type Admission } from '../../libs/rpc/index.js';
import { AdversarialService } from '../../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import type { Logger } from '../../libs/telemetry/index.js';
import { DEFAULT_GENERATE_LIMITS, generateSpec, type GenerateLimits, type GenerateSpec } from './generate-spec.js';

export interface AdversarialServiceOptions {
  /** Attack worker threads. @default HARDEN_WORKERS, else min(cores, 2) */
  workers?: number;
  /** Engine backend of the workers. @default 'auto' */
  backend?: BackendChoice;
  limits?: Partial<GenerateLimits>;
  /** Largest response message the server sends (its writeMaxBytes), to refuse batches that would not fit. */
  writeMaxBytes?: number;
  /** Distinct models kept loaded in the workers. @default 4 */
  maxModels?: number;
  /** Per-caller stream limit and the attack memory bound. @default createAdmission() */
  admission?: Admission;
  logger?: Logger;
}

export interface AdversarialServiceHandle {
  readonly impl: ServiceImpl<typeof AdversarialService>;
  /** Starts the workers now instead of on the first call. */
  warm(): Promise<void>;
  /** Batches being attacked right now (for tests and metrics). */
  readonly inFlight: number;
  close(): Promise<void>;
}

export function createAdversarialService(options: AdversarialServiceOptions = {}): AdversarialServiceHandle {
  const limits = { ...DEFAULT_GENERATE_LIMITS, ...options.limits };
  const writeMaxBytes = options.writeMaxBytes ?? DEFAULT_WRITE_MAX_BYTES;
  const maxModels = options.maxModels ?? 4;
  const admission = options.admission ?? createAdmission();
  let streamerNow: AttackStreamer | undefined;
  let pool: Promise<{ workers: WorkerPool; streamer: AttackStreamer }> | undefined;
  let closed = false;
  const datasets = new Map<string, Promise<Dataset>>();

  function getPool(): Promise<{ workers: WorkerPool; streamer: AttackStreamer }> {
    if (!pool) {
      const workers = createWorkerPool({ size: options.workers ?? defaultWorkerCount(), backend: options.backend ?? 'auto' });
      pool = workers.ready().then(() => ({ workers, streamer: createAttackStreamer(workers, { maxModels }) }));
    }
    return pool;
  }

  function dataset(spec: GenerateSpec): Promise<Dataset> {
    const key = `${spec.dataset}\n${spec.split}`;
    let d = datasets.get(key);
    if (!d) {
      d = loadDataset(spec.dataset, { split: spec.split });
      d.catch(() => datasets.delete(key));
      datasets.set(key, d);
      // Keep the two most recent data sets.
      while (datasets.size > 2) datasets.delete(datasets.keys().next().value as string);
    }
    return d;
  }

  return {
    get inFlight() {
      return streamerNow?.inFlight ?? 0;
    },
    async warm() {
      await getPool();
    },
    async close() {
      closed = true;
      const p = pool;
      pool = undefined;
      if (p) await (await p).workers.close();
    },
    impl: {
      async *generateAdversarial(req, context) {
        const spec = await generateSpec(req, limits);
        const data = await dataset(spec);
        if (spec.offset >= data.size) throw invalidField('offset', `${spec.offset} is past the end of the ${spec.split} split (${data.size} examples)`);
        const per = imageSize(data.shape);
        const responseBytes = spec.batchSize * per * 4 * (spec.includeClean ? 2 : 1) + spec.batchSize * 8 + 4096;
        if (responseBytes > writeMaxBytes) {
          throw invalidField('batch_size', `${spec.batchSize} images of ${data.shape.join('×')} make ${responseBytes} bytes per response; the server sends at most ${writeMaxBytes}`);
        }
        if (closed) throw new RemoteError('ShutdownReason', 'the server is shutting down');
        // Attack working memory of one batch: inputs, the adversarial copy, gradients and clean
        // outputs, about 4× the response's image bytes.
        const caller = context.values.get(REQUEST_AUTH).caller?.id ?? 'anonymous';
        const release = admission.enterStream(caller, 4 * spec.batchSize * per * 4);
        try {
          yield* run(spec, data, context.signal);
        } finally {
          release();
        }
      },
    },
  };

  /** One admitted stream: load the models into the workers, then the attacked batches as responses. */
  async function* run(spec: GenerateSpec, data: Dataset, signal: AbortSignal) {
    const { streamer } = await getPool();
    streamerNow = streamer;
    const target = await readModelBytes(spec.modelUri);
    const guidance = spec.guidanceUri ? await readModelBytes(spec.guidanceUri) : undefined;
    const loaded = await streamer.load(target, guidance);
    if (loaded.inputShape.join('x') !== data.shape.join('x')) {
      throw invalidField('dataset', `the model takes ${loaded.inputShape.join('×')} inputs but ${spec.dataset} has ${data.shape.join('×')} images`);
    }
    if (data.numClasses > loaded.numClasses) throw invalidField('dataset', `the model has ${loaded.numClasses} classes but ${spec.dataset} has ${data.numClasses}`);
    const batches = streamer.stream(loaded, data, { ...spec, signal });
    for await (const b of batches) {
      const shape = [b.n, ...data.shape];
      yield {
        batch: {
          batchIndex: b.index,
          firstIndex: b.first,
          adversarial: encodeTensor(b.adversarial, shape),
          labels: encodeTensor(b.labels, [b.n]),
          predictions: encodeTensor(b.predictions, [b.n]),
          ...(b.clean ? { clean: encodeTensor(b.clean, shape) } : {}),
          cleanAccuracy: b.cleanAccuracy,
          robustAccuracy: b.robustAccuracy,
          maxPerturbation: b.maxPerturbation,
          seconds: b.seconds,
          eps: spec.eps,
          attack: spec.attack,
        },
      };
    }
  }
}

