import { parseArgs } from 'node:util';
import { createWorkerPool, tf } from '../../libs/engine/index.js';
import { getModelInfo, loadModelFromUri, modelToBytes } from '../../libs/models/index.js';
import { openStore } from '../../libs/storage/index.js';
import {
  ATTACK_NAMES,
  AttackError,
  attackSettings,
  describeStep,
  fromLayersModel,
  isAttackName,
  runAttackByName,
  runAttackParallel,
  throttledSteps,
  type AttackReport,
  type AttackSettings,
  type Norm,
} from '../../libs/attacks/index.js';
import { CliError } from '../cli-error.js';
import { loadModelAndData, MODEL_DATA_OPTIONS, parseModelDataArgs } from '../model-data.js';
import { positive, positiveInt } from '../flags.js';
import { printJson, printLine, progress, table } from '../output.js';

export const attackHelp = `harden attack --model URI --dataset D [--size HxW] --attack ${ATTACK_NAMES.join('|')}
              [--split test] [--limit N] [--eps X] [--steps K] [--alpha X] [--norm Linf|L2]
              [--guidance URI] [--seed S] [--workers N] [--backend B] [--out URI] [--json]
  Attacks a saved model (a folder holding model.json) on a data set and prints the clean and robust
  accuracy after each stage. --out writes the adversarial examples with labels and predictions
  (adversarial.json + raw little-endian images.f32, labels.i32, predictions.i32). Defaults: split test,
  limit 1000, ε as the data set's protocol (mnist 0.3, fashion-mnist 0.1, else 8/255; CAG 0.031).`;

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

async function writeExamples(uri: string, report: AttackReport, labels: Int32Array, cleanPredictions: Int32Array): Promise<string> {
  const store = openStore(uri);
  const images = (await report.adversarial.data()) as Float32Array;
  const bytes = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  await store.put('images.f32', bytes(images));
  await store.put('labels.i32', bytes(labels));
  await store.put('predictions.i32', bytes(report.predictions));
  await store.put('clean-predictions.i32', bytes(cleanPredictions));
  const manifest = {
    attack: report.attack,
    eps: report.eps,
    norm: report.norm,
    n: report.n,
    shape: report.adversarial.shape,
    dtype: 'float32',
    byte_order: 'little-endian',
    files: { images: 'images.f32', labels: 'labels.i32', predictions: 'predictions.i32', clean_predictions: 'clean-predictions.i32' },
  };
  // The manifest goes last: a reader that finds it finds complete files.
  await store.put('adversarial.json', new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
  return store.uri;
}

export async function attackCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...MODEL_DATA_OPTIONS,
      attack: { type: 'string' },
      eps: { type: 'string' },
      steps: { type: 'string' },
      alpha: { type: 'string' },
      norm: { type: 'string' },
      guidance: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const args = parseModelDataArgs(values);
  if (!values.attack) throw new CliError(`--attack is required: one of ${ATTACK_NAMES.join(', ')}`);
  if (!isAttackName(values.attack)) throw new CliError(`--attack: unknown attack "${values.attack}"; expected one of ${ATTACK_NAMES.join(', ')}`);
  if (values.norm !== undefined && values.norm !== 'Linf' && values.norm !== 'L2') throw new CliError(`--norm must be Linf or L2; got "${values.norm}"`);
  // Defaults and ranges: libs/attacks attackSettings, as GenerateAdversarial resolves them.
  let settings: AttackSettings;
  try {
    settings = attackSettings(values.attack, args.dataset, {
      eps: positive('--eps', values.eps),
      steps: positiveInt('--steps', values.steps),
      alpha: positive('--alpha', values.alpha),
      norm: values.norm as Norm | undefined,
    });
  } catch (error) {
    if (AttackError.is(error, 'invalid-argument')) throw new CliError(`--${error.field ?? 'attack'}: ${error.message}`, 2, { cause: error });
    throw error;
  }
  if (settings.needsGuidance && !values.guidance) throw new CliError(`--guidance URI is required for --attack ${values.attack} (the co-trained guidance model)`);
  if (!settings.needsGuidance && values.guidance) throw new CliError(`--guidance: only attacks with a guidance model take one, not ${values.attack}`);
  const { eps } = settings;
  const { seed, workers } = args;

  const { engine, model, data } = await loadModelAndData(args);
  const guidance = values.guidance ? await loadModelFromUri(values.guidance) : undefined;
  const info = getModelInfo(model);
  // One engine per worker thread on CPUs; webgpu runs on this thread's device (as `harden eval`).
  const parallel = workers > 1 && data.size > 1 && engine.backend !== 'webgpu';
  progress(
    `attack: ${values.attack} ε=${eps} on ${info?.arch ?? 'model'} from ${args.modelUri}, ${data.size} ${args.split} images of ${data.name}, ` +
      `${engine.backend} (${engine.device})${parallel ? `, ${workers} workers` : ''}`,
  );

  const x = tf.tensor4d(data.images, [data.size, ...data.shape] as [number, number, number, number]);
  // Long attacks (AutoAttack, Square's queries) say where they are every 5 s.
  const onStep = throttledSteps((p) => progress(`attack: ${describeStep(p)}`), 5000, values.attack);
  const options = { eps, seed, norm: settings.norm, ...settings.options, onStep };
  let report: AttackReport;
  if (parallel) {
    const pool = createWorkerPool({ size: workers, backend: engine.backend });
    try {
      report = await runAttackParallel(
        pool,
        { target: await modelToBytes(model), ...(guidance ? { guidance: await modelToBytes(guidance) } : {}) },
        x,
        data.labels,
        values.attack,
        options,
      );
    } finally {
      await pool.close();
    }
  } else {
    const target = fromLayersModel(model);
    report = await runAttackByName(values.attack, target, x, data.labels, { ...options, ...(guidance ? { guidance: fromLayersModel(guidance) } : {}) });
  }
  const predicted = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor2D, 1));
  const cleanPredictions = Int32Array.from((await predicted.data()) as Int32Array);
  predicted.dispose();
  const outUri = values.out ? await writeExamples(values.out, report, data.labels, cleanPredictions) : undefined;
  for (const w of report.warnings) progress(`warning [${w.id}]: ${w.message}`);

  const summary = {
    attack: report.attack,
    eps: report.eps,
    norm: report.norm,
    steps: settings.steps,
    alpha: settings.alpha,
    n: report.n,
    clean_accuracy: round6(report.cleanAccuracy),
    robust_accuracy: round6(report.robustAccuracy),
    max_perturbation: report.maxPerturbation,
    stages: report.stages.map((s) => ({ name: s.name, robust_accuracy: round6(s.robustAccuracy), robust: s.robust, n: s.n })),
    warnings: report.warnings.map((w) => ({ id: w.id, message: w.message })),
    seconds: Math.round(report.seconds * 100) / 100,
    backend: engine.backend,
    workers: parallel ? workers : 1,
    ...(outUri ? { out_uri: outUri } : {}),
  };
  report.adversarial.dispose();
  x.dispose();
  if (values.json) {
    printJson(summary);
  } else {
    printLine(table(['stage', 'robust accuracy', 'robust / n'], report.stages.map((s) => [s.name, s.robustAccuracy.toFixed(4), `${s.robust}/${s.n}`])));
    printLine(`max perturbation (${report.norm}): ${report.maxPerturbation.toFixed(6)} (ε = ${report.eps}); ${summary.seconds} s`);
    if (outUri) printLine(`adversarial examples: ${outUri}/adversarial.json`);
  }
  return 0;
}
