/**
 * AdversarialService.GenerateAdversarial: validate (generate-spec.ts), load the data set on this
 * thread (cached), post the model bytes once to every attack worker (a libs/engine `WorkerPool`, one
 * engine per thread, created on first use), then attack consecutive batches — two in flight per
 * worker, streamed back in order. The call's signal (client cancel, deadline, server
 * shutdown) sets a flag the workers' attacks check every step, so the compute stops with the call.
 */
import type { ServiceImpl } from '@connectrpc/connect';
import { createWorkerPool, defaultWorkerCount, type BackendChoice, type WorkerPool } from '../../libs/engine/index.js';
import { imageSize, loadDataset, type Dataset } from '../../libs/data/index.js';
import { RemoteError } from '../../libs/jobs/index.js';
import { encodeTensor, invalidField, DEFAULT_WRITE_MAX_BYTES } from '../../libs/rpc/index.js';
import { AdversarialService } from '../../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import type { Logger } from '../../libs/telemetry/index.js';
import type { BatchOutcome, BatchPayload, LoadOutcome, LoadPayload, TaskError } from './attack-task.js';
import { DEFAULT_GENERATE_LIMITS, generateSpec, type GenerateLimits, type GenerateSpec } from './generate-spec.js';
import { modelKey, readModelBytes } from './model-bytes.js';

const TASK_MODULE = new URL('./attack-task.js', import.meta.url).href;
const LOAD = { module: TASK_MODULE, fn: 'loadModels' };
const UNLOAD = { module: TASK_MODULE, fn: 'unloadModels' };
const ATTACK = { module: TASK_MODULE, fn: 'attackBatch' };

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

interface LoadedModel {
  key: string;
  inputShape: number[];
  numClasses: number;
}

function rethrow(error: TaskError): never {
  throw new RemoteError(error.name, error.message, error.code, error.field);
}

export function createAdversarialService(options: AdversarialServiceOptions = {}): AdversarialServiceHandle {
  const limits = { ...DEFAULT_GENERATE_LIMITS, ...options.limits };
  const writeMaxBytes = options.writeMaxBytes ?? DEFAULT_WRITE_MAX_BYTES;
  const maxModels = options.maxModels ?? 4;
  let pool: Promise<WorkerPool> | undefined;
  let closed = false;
  let inFlight = 0;
  const datasets = new Map<string, Promise<Dataset>>();
  const models = new Map<string, Promise<LoadedModel>>();

  function getPool(): Promise<WorkerPool> {
    if (!pool) {
      const p = createWorkerPool({ size: options.workers ?? defaultWorkerCount(), backend: options.backend ?? 'auto' });
      pool = p.ready().then(() => p);
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

  async function model(workers: WorkerPool, spec: GenerateSpec): Promise<LoadedModel> {
    const target = await readModelBytes(spec.modelUri, 'model_uri');
    const guidance = spec.guidanceUri ? await readModelBytes(spec.guidanceUri, 'guidance_uri') : undefined;
    const key = guidance ? modelKey(target, guidance) : modelKey(target);
    let loading = models.get(key);
    if (!loading) {
      const payload: LoadPayload = { key, target, ...(guidance ? { guidance } : {}) };
      loading = workers.broadcast<LoadOutcome>(LOAD, payload).then((outcomes) => {
        const bad = outcomes.find((o) => !o.ok);
        if (bad && !bad.ok) rethrow(bad.error);
        const first = outcomes[0] as Extract<LoadOutcome, { ok: true }>;
        return { key, inputShape: first.inputShape, numClasses: first.numClasses };
      });
      loading.catch(() => models.delete(key));
      models.set(key, loading);
      while (models.size > maxModels) {
        const oldest = models.keys().next().value as string;
        models.delete(oldest);
        void workers.broadcast(UNLOAD, { key: oldest }).catch(() => undefined);
      }
    }
    return loading;
  }

  return {
    get inFlight() {
      return inFlight;
    },
    async warm() {
      await getPool();
    },
    async close() {
      closed = true;
      const p = pool;
      pool = undefined;
      if (p) await (await p).close();
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
        const workers = await getPool();
        const loaded = await model(workers, spec);
        if (loaded.inputShape.join('x') !== data.shape.join('x')) {
          throw invalidField('dataset', `the model takes ${loaded.inputShape.join('×')} inputs but ${spec.dataset} has ${data.shape.join('×')} images`);
        }
        if (data.numClasses > loaded.numClasses) throw invalidField('dataset', `the model has ${loaded.numClasses} classes but ${spec.dataset} has ${data.numClasses}`);

        const total = Math.min(spec.numBatches, Math.ceil((data.size - spec.offset) / spec.batchSize));
        const abortFlag = new SharedArrayBuffer(4);
        const abort = () => Atomics.store(new Int32Array(abortFlag), 0, 1);
        context.signal.addEventListener('abort', abort);
        const pending: { start: number; n: number; labels: Int32Array; clean: Float32Array | undefined; result: Promise<BatchOutcome> }[] = [];
        let next = 0;
        const launch = () => {
          const start = spec.offset + next * spec.batchSize;
          next++;
          const n = Math.min(spec.batchSize, data.size - start);
          const x = data.images.slice(start * per, (start + n) * per);
          const labels = data.labels.slice(start, start + n);
          const payload: BatchPayload = {
            key: loaded.key,
            attack: spec.attack,
            options: spec.options,
            eps: spec.eps,
            norm: spec.norm,
            seed: spec.seed,
            indexOffset: start,
            shape: [n, ...data.shape] as [number, number, number, number],
            x,
            labels,
            abortFlag,
          };
          inFlight++;
          const clean = spec.includeClean ? x.slice() : undefined;
          const result = workers.run<BatchOutcome>(ATTACK, payload, [x.buffer]).finally(() => inFlight--);
          pending.push({ start, n, labels, clean, result });
        };
        try {
          // Two batches per worker in flight: a worker starts its next batch while this thread
          // encodes and sends the previous one, so it never waits for the network.
          const depth = workers.size * 2;
          while (pending.length < depth && next < total) launch();
          for (let i = 0; i < total; i++) {
            const batch = pending.shift()!;
            const out = await batch.result;
            if (next < total && !context.signal.aborted) launch();
            if (!out.ok) rethrow(out.error);
            const shape = [batch.n, ...data.shape];
            yield {
              batch: {
                batchIndex: i,
                firstIndex: batch.start,
                adversarial: encodeTensor(out.adversarial, shape),
                labels: encodeTensor(batch.labels, [batch.n]),
                predictions: encodeTensor(out.predictions, [batch.n]),
                ...(batch.clean ? { clean: encodeTensor(batch.clean, shape) } : {}),
                cleanAccuracy: out.cleanAccuracy,
                robustAccuracy: out.robustAccuracy,
                maxPerturbation: out.maxPerturbation,
                seconds: out.seconds,
                eps: spec.eps,
                attack: spec.attack,
              },
            };
          }
        } finally {
          // Ended early (cancel, deadline, error): stop what the workers still compute.
          abort();
          context.signal.removeEventListener('abort', abort);
          await Promise.allSettled(pending.map((p) => p.result));
        }
      },
    },
  };
}
