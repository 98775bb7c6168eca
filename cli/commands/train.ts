import { parseArgs } from 'node:util';
import { initEngine, resolveBackendChoice } from '../../libs/engine/index.js';
import { parseDatasetSpec } from '../../libs/data/index.js';
import { ARCH_NAMES, isArchName } from '../../libs/models/index.js';
import { trainingEps } from '../../libs/attacks/index.js';
import { openStore } from '../../libs/storage/index.js';
import {
  describeMethods,
  getMethod,
  hardenModel,
  HELD_OUT_SOURCE,
  METHOD_NAMES,
  SCHEDULE_KINDS,
  TrainingError,
  type EpochRecord,
  type HardenedModel,
  type LrSchedule,
  type TrainingEvent,
} from '../../libs/training/index.js';
import { CliError } from '../cli-error.js';
import { datasetWithSize, nonNegative, nonNegativeInt, parseNumber, positive, positiveInt } from '../flags.js';
import { printJson, printLine, progress, table } from '../output.js';

export const trainHelp = `harden train --method ${METHOD_NAMES.join('|')} --arch A --dataset D [--size HxW] --out URI
             [--limit N] [--epochs E] [--batch B] [--lr X] [--eps X] [--seed S] [--steps K] [--alpha X]
             [--guidance-arch A] [--beta X] [--lambda X] [--schedule piecewise|cosine|constant]
             [--warmup-epochs W] [--eps-warmup E] [--augment auto|on|off] [--eval-size N] [--eval-steps K]
             [--progress-every N] [--low-memory] [--resume] [--fail-on-collapse] [--backend B] [--json]
  Adversarially trains a model (${describeMethods()
    .map((m) => m.name)
    .join(', ')}) and writes the final target model to URI/model/,
  a checkpoint per epoch under URI/checkpoints/ (latest + best kept) and URI/report.json.
  Defaults: epochs 100, batch 128, lr 0.1 with the paper's piecewise schedule, ε 0.3 for mnist,
  0.1 for fashion-mnist, 0.031 otherwise; 10 inner steps (α = ε/4 for pgd-at, ε·0.007/0.031 for the
  KL methods); guidance resnet18 for ≥ 32×32 images, small-cnn below; held-out check after each epoch:
  clean + PGD-20 accuracy on --eval-size (500) images held out of the training split (never the test
  split: the check picks the best checkpoint; --limit counts the images trained on). --resume continues from
  URI/checkpoints/latest.json. --low-memory back-propagates one forward pass at a time (same updates,
  less peak memory in the loss step, somewhat slower): PreActResNet-18 D2R at batch 128 on wasm needs
  it. A collapsed run (dead ReLU layers, named; one predicted class; chance accuracy; a non-finite
  loss) is flagged (exit 1 with --fail-on-collapse); dead ReLU layers also end the run after that
  epoch, since later epochs could not change the model's outputs. Archs: ${ARCH_NAMES.join(', ')}.`;

/** Which flag each library option comes from, for error messages. */
const FLAG_OF: Record<string, string> = {
  method: '--method',
  target: '--arch',
  arch: '--arch',
  guidance: '--guidance-arch',
  guidanceArch: '--guidance-arch',
  train: '--dataset',
  heldOut: '--dataset',
  epochs: '--epochs',
  batchSize: '--batch',
  lr: '--lr',
  eps: '--eps',
  alpha: '--alpha',
  steps: '--steps',
  beta: '--beta',
  lambda: '--lambda',
  schedule: '--schedule/--warmup-epochs',
  epsWarmupEpochs: '--eps-warmup',
  evalSize: '--eval-size',
  evalSteps: '--eval-steps',
  seed: '--seed',
  resume: '--resume',
  checkpoints: '--out',
  progressEvery: '--progress-every',
};

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

function describeEvent(e: TrainingEvent, evalSteps: number): string {
  switch (e.type) {
    case 'resumed':
      return `resumed from ${e.uri} (${e.epoch} epochs done)`;
    case 'batch':
      return (
        `epoch ${e.epoch}/${e.epochs}  batch ${e.batch}/${e.batches}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toPrecision(3)}  ` +
        `eps ${e.eps.toPrecision(3)}  ${e.imagesPerSecond.toFixed(1)} img/s  eta ${duration(e.etaSeconds)}`
      );
    case 'epoch': {
      const r = e.record;
      const acc =
        r.evalSize > 0 ? `held-out (train split, n=${r.evalSize}): clean ${r.cleanAccuracy.toFixed(3)}  pgd-${evalSteps} ${r.robustAccuracy.toFixed(3)}` : 'no held-out check';
      return `epoch ${r.epoch} done: loss ${r.loss.toFixed(4)}  ${acc}  train ${duration(r.trainSeconds)} (${r.imagesPerSecond.toFixed(1)} img/s)  eval ${duration(r.evalSeconds)}  eta ${duration(e.etaSeconds)}`;
    }
    case 'collapse':
      return `WARNING epoch ${e.epoch}: training collapsed (${e.collapse.reason}): ${e.collapse.message}`;
    case 'checkpoint':
      return `checkpoint ${e.uri}${e.best ? ' (best so far)' : ''}`;
  }
}

function snakeRecord(r: EpochRecord): Record<string, unknown> {
  return {
    epoch: r.epoch,
    lr: r.lr,
    eps: r.eps,
    loss: r.loss,
    train_seconds: r.trainSeconds,
    eval_seconds: r.evalSeconds,
    images_per_second: r.imagesPerSecond,
    eval_size: r.evalSize,
    clean_accuracy: r.cleanAccuracy,
    robust_accuracy: r.robustAccuracy,
    dominant_class: r.dominantClass,
    dominant_fraction: r.dominantFraction,
    collapse: r.collapse ?? null,
  };
}

function libraryError(error: unknown): never {
  if (TrainingError.is(error, 'invalid-argument')) {
    const flag = error.field ? FLAG_OF[error.field] : undefined;
    const message = flag ? `${flag}: ${error.message.replace(`${error.field}: `, '')}` : error.message;
    throw new CliError(message, 2, { cause: error });
  }
  if (TrainingError.is(error, 'aborted')) {
    throw new CliError(`${error.message}; run the same command with --resume to continue`, 130, { cause: error });
  }
  if (TrainingError.is(error, 'out-of-memory')) {
    throw new CliError(`${error.message} (checkpoints of finished epochs are kept: add --resume)`, 1, { cause: error });
  }
  throw error;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      method: { type: 'string' },
      arch: { type: 'string' },
      dataset: { type: 'string' },
      size: { type: 'string' },
      out: { type: 'string' },
      limit: { type: 'string' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      eps: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      alpha: { type: 'string' },
      'guidance-arch': { type: 'string' },
      beta: { type: 'string' },
      lambda: { type: 'string' },
      schedule: { type: 'string' },
      'warmup-epochs': { type: 'string' },
      'eps-warmup': { type: 'string' },
      augment: { type: 'string' },
      'eval-size': { type: 'string' },
      'eval-steps': { type: 'string' },
      'progress-every': { type: 'string' },
      resume: { type: 'boolean', default: false },
      'low-memory': { type: 'boolean', default: false },
      'fail-on-collapse': { type: 'boolean', default: false },
      backend: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });

  // Everything that can be checked without data or an engine is checked first.
  for (const flag of ['method', 'arch', 'dataset', 'out'] as const) {
    if (!values[flag]) throw new CliError(`--${flag} is required; run "harden train --help"`);
  }
  values.dataset = datasetWithSize(values.dataset, values.size);
  const method = (() => {
    try {
      return getMethod(values.method!);
    } catch (error) {
      return libraryError(error);
    }
  })();
  if (!isArchName(values.arch!)) throw new CliError(`--arch: unknown architecture "${values.arch}"; expected one of ${ARCH_NAMES.join(', ')}`);
  const guidanceFlag = values['guidance-arch'];
  if (guidanceFlag !== undefined && !isArchName(guidanceFlag)) {
    throw new CliError(`--guidance-arch: unknown architecture "${guidanceFlag}"; expected one of ${ARCH_NAMES.join(', ')}`);
  }
  if (guidanceFlag !== undefined && !method.usesGuidance) throw new CliError(`--guidance-arch: method ${method.name} uses no guidance model (only lbgat and d2r do)`);
  const spec = parseDatasetSpec(values.dataset!);
  const limit = positiveInt('--limit', values.limit);
  const epochs = positiveInt('--epochs', values.epochs) ?? 100;
  const batchSize = positiveInt('--batch', values.batch) ?? 128;
  const lr = positive('--lr', values.lr) ?? 0.1;
  const eps = parseNumber('--eps', values.eps, (v) => v > 0 && v <= 1, 'a number in (0, 1]') ?? trainingEps(values.dataset!);
  const seed = nonNegativeInt('--seed', values.seed) ?? 0;
  const steps = positiveInt('--steps', values.steps);
  const alpha = positive('--alpha', values.alpha);
  const beta = nonNegative('--beta', values.beta);
  const lambda = nonNegative('--lambda', values.lambda);
  const kind = values.schedule ?? 'piecewise';
  if (!(SCHEDULE_KINDS as readonly string[]).includes(kind)) throw new CliError(`--schedule must be one of ${SCHEDULE_KINDS.join(', ')}; got "${kind}"`);
  const warmup = nonNegative('--warmup-epochs', values['warmup-epochs']);
  if (warmup !== undefined && kind !== 'cosine') throw new CliError('--warmup-epochs applies to --schedule cosine only');
  const schedule = (kind === 'cosine' ? { kind, ...(warmup !== undefined ? { warmupEpochs: warmup } : {}) } : { kind }) as LrSchedule;
  const epsWarmupEpochs = nonNegative('--eps-warmup', values['eps-warmup']);
  const augmentFlag = values.augment ?? 'auto';
  if (!['auto', 'on', 'off'].includes(augmentFlag)) throw new CliError(`--augment must be auto, on or off; got "${augmentFlag}"`);
  const evalSize = nonNegativeInt('--eval-size', values['eval-size']) ?? 500;
  const evalSteps = positiveInt('--eval-steps', values['eval-steps']) ?? 20;
  const progressEvery = positiveInt('--progress-every', values['progress-every']) ?? 10;
  const out = values.out!;
  const store = openStore(out);

  const engine = await initEngine(resolveBackendChoice(values.backend));
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    progress(`${signal}: stopping after the current batch (the last finished epoch stays checkpointed)`);
    controller.abort(new Error(signal));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let hardened: HardenedModel;
  try {
    // The same compute as a Harden job (libs/training hardenModel): data, models, training, saving.
    hardened = await hardenModel({
      method: method.name,
      arch: values.arch!,
      guidanceArch: guidanceFlag ?? null,
      dataset: values.dataset!,
      ...(limit !== undefined ? { limit } : {}),
      evalSize,
      epochs,
      batchSize,
      lr,
      schedule,
      eps,
      ...(alpha !== undefined ? { alpha } : {}),
      ...(steps !== undefined ? { steps } : {}),
      ...(beta !== undefined ? { beta } : {}),
      ...(lambda !== undefined ? { lambda } : {}),
      ...(epsWarmupEpochs !== undefined ? { epsWarmupEpochs } : {}),
      ...(augmentFlag !== 'auto' ? { augment: augmentFlag === 'on' } : {}),
      seed,
      evalSteps,
      out: store,
      resume: values.resume ?? false,
      gradients: values['low-memory'] ? 'recompute' : 'tape',
      progressEvery,
      fieldNames: { arch: 'arch', guidanceArch: 'guidanceArch' },
      onEvent: (e) => progress(describeEvent(e, evalSteps)),
      signal: controller.signal,
    });
  } catch (error) {
    libraryError(error);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  const { result, guidanceArch, heldOut } = hardened;
  const trainData = hardened.train;
  const saved = { uri: hardened.modelUri };
  const summary = {
    method: result.method,
    arch: values.arch,
    guidance_arch: guidanceArch ?? null,
    dataset: values.dataset,
    train_size: trainData.size,
    epochs: result.completedEpochs,
    batch: batchSize,
    lr,
    schedule: schedule.kind,
    eps,
    seed,
    clean_accuracy: result.cleanAccuracy,
    robust_accuracy: result.robustAccuracy,
    robust_attack: `pgd-${evalSteps}`,
    eval_size: result.history.at(-1)?.evalSize ?? 0,
    // The per-epoch check (which picks best_epoch) never sees the test split.
    held_out: heldOut ? { split: heldOut.split, size: heldOut.size, source: HELD_OUT_SOURCE } : null,
    best_epoch: result.best?.epoch ?? null,
    best_robust_accuracy: result.best?.robustAccuracy ?? null,
    collapsed: result.collapsed,
    collapse: result.collapse ?? null,
    // Set when the run ended before the epochs asked for (its target died).
    stopped: result.stopped ?? null,
    warnings: result.warnings,
    resumed_from: result.resumedFrom ?? null,
    seconds: Math.round(result.seconds * 10) / 10,
    backend: engine.backend,
    device: engine.device,
    model_uri: saved.uri,
    checkpoints_uri: `${store.uri}/checkpoints`,
    best_checkpoint_uri: result.checkpoints?.best ?? null,
    report_uri: `${store.uri}/report.json`,
    history: result.history.map(snakeRecord),
  };
  await store.put('report.json', new TextEncoder().encode(`${JSON.stringify(summary, null, 1)}\n`));
  for (const w of result.warnings) progress(`WARNING ${w}`);
  if (result.collapsed) progress('WARNING the final model is collapsed: it is written, but do not deploy it');

  if (values.json) {
    printJson(summary);
  } else {
    printLine(
      table(
        ['epoch', 'loss', 'clean', `pgd-${evalSteps}`, 'img/s', 'collapse'],
        result.history.map((r) => [r.epoch, r.loss.toFixed(4), r.cleanAccuracy.toFixed(3), r.robustAccuracy.toFixed(3), r.imagesPerSecond.toFixed(1), r.collapse?.reason ?? '']),
      ),
    );
    printLine(`model: ${saved.uri}`);
    printLine(`report: ${summary.report_uri}  (${summary.seconds} s on ${engine.backend})`);
  }
  return values['fail-on-collapse'] && result.collapsed ? 1 : 0;
}
