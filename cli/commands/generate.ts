import { parseArgs } from 'node:util';
import { ATTACK_NAMES } from '../../libs/attacks/index.js';
import { decodeTensor } from '../../libs/rpc/index.js';
import { AdversarialService } from '../../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import { openStore } from '../../libs/storage/index.js';
import { CliError } from '../cli-error.js';
import { DATASET_CHOICES, datasetWithSize, nonNegativeInt, positive, positiveInt } from '../flags.js';
import { printJson, printLine, progress } from '../output.js';
import { CLIENT_OPTIONS, clientFromFlags, rpcError } from './submit.js';

export const generateHelp = `harden generate --server HOST:PORT --model URI --dataset D [--size HxW] [--attack ${ATTACK_NAMES.join('|')}]
                [--eps X] [--norm Linf|L2] [--steps K] [--alpha X] [--seed S] [--split test]
                [--batch B] [--batches N] [--offset N] [--guidance URI] [--out URI] [--json]
  Streams adversarial batches from the adversarial service (GenerateAdversarial) and prints their
  accuracy and largest perturbation; --out writes them as "harden attack --out" does
  (adversarial.json + little-endian images.f32, labels.i32, predictions.i32). Defaults: attack pgd,
  batch 64, 1 batch, ε by data set.`;

function bytes(a: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export async function generateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CLIENT_OPTIONS,
      model: { type: 'string' },
      dataset: { type: 'string' },
      size: { type: 'string' },
      split: { type: 'string' },
      attack: { type: 'string' },
      eps: { type: 'string' },
      norm: { type: 'string' },
      steps: { type: 'string' },
      alpha: { type: 'string' },
      seed: { type: 'string' },
      batch: { type: 'string' },
      batches: { type: 'string' },
      offset: { type: 'string' },
      guidance: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.model) throw new CliError('--model is required (a store folder holding model.json)');
  if (!values.dataset) throw new CliError(`--dataset is required (${DATASET_CHOICES})`);
  values.dataset = datasetWithSize(values.dataset, values.size);
  const client = clientFromFlags(AdversarialService, values);
  const images: Float32Array[] = [];
  const labels: Int32Array[] = [];
  const predictions: Int32Array[] = [];
  let shape: number[] = [];
  let n = 0;
  let clean = 0;
  let robust = 0;
  let maxPerturbation = 0;
  let attack = values.attack ?? 'pgd';
  let eps = 0;
  let batches = 0;
  const started = performance.now();
  try {
    for await (const r of client.generateAdversarial({
      modelUri: values.model,
      dataset: values.dataset,
      split: values.split ?? '',
      attack: values.attack ?? '',
      eps: positive('--eps', values.eps) ?? 0,
      norm: values.norm ?? '',
      steps: positiveInt('--steps', values.steps) ?? 0,
      alpha: positive('--alpha', values.alpha) ?? 0,
      seed: nonNegativeInt('--seed', values.seed) ?? 0,
      batchSize: positiveInt('--batch', values.batch) ?? 0,
      numBatches: positiveInt('--batches', values.batches) ?? 0,
      offset: nonNegativeInt('--offset', values.offset) ?? 0,
      guidanceUri: values.guidance ?? '',
    })) {
      const b = r.batch;
      if (!b) continue;
      const adv = decodeTensor(b.adversarial, 'adversarial');
      const size = adv.shape[0] ?? 0;
      shape = adv.shape.slice(1);
      n += size;
      clean += b.cleanAccuracy * size;
      robust += b.robustAccuracy * size;
      maxPerturbation = Math.max(maxPerturbation, b.maxPerturbation);
      attack = b.attack;
      eps = b.eps;
      batches++;
      progress(`batch ${b.batchIndex} (examples ${b.firstIndex}…${b.firstIndex + size - 1}): clean ${b.cleanAccuracy.toFixed(3)} robust ${b.robustAccuracy.toFixed(3)} max ‖δ‖ ${b.maxPerturbation.toFixed(4)} (${b.seconds.toFixed(2)} s)`);
      if (values.out) {
        images.push(adv.values as Float32Array);
        labels.push(decodeTensor(b.labels, 'labels').values as Int32Array);
        predictions.push(decodeTensor(b.predictions, 'predictions').values as Int32Array);
      }
    }
  } catch (error) {
    rpcError(error, values.server);
  }
  const seconds = (performance.now() - started) / 1000;
  let outUri: string | undefined;
  if (values.out) {
    const store = openStore(values.out);
    const concat = <T extends Float32Array | Int32Array>(parts: T[], make: (n: number) => T): T => {
      const all = make(parts.reduce((k, p) => k + p.length, 0));
      let o = 0;
      for (const p of parts) {
        all.set(p as never, o);
        o += p.length;
      }
      return all;
    };
    await store.put('images.f32', bytes(concat(images, (k) => new Float32Array(k))));
    await store.put('labels.i32', bytes(concat(labels, (k) => new Int32Array(k))));
    await store.put('predictions.i32', bytes(concat(predictions, (k) => new Int32Array(k))));
    const manifest = { attack, eps, n, shape: [n, ...shape], dtype: 'float32', byte_order: 'little-endian', files: { images: 'images.f32', labels: 'labels.i32', predictions: 'predictions.i32' } };
    // The manifest goes last: a reader that finds it finds complete files.
    await store.put('adversarial.json', new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
    outUri = store.uri;
  }
  const summary = {
    attack,
    eps,
    n,
    batches,
    clean_accuracy: n ? clean / n : 0,
    robust_accuracy: n ? robust / n : 0,
    max_perturbation: maxPerturbation,
    seconds: Math.round(seconds * 100) / 100,
    images_per_second: seconds > 0 ? Math.round((n / seconds) * 10) / 10 : 0,
    ...(outUri ? { out_uri: outUri } : {}),
  };
  if (values.json) printJson(summary);
  else {
    printLine(`${n} adversarial examples in ${batches} batches (${attack}, ε=${eps}): clean ${summary.clean_accuracy.toFixed(4)} robust ${summary.robust_accuracy.toFixed(4)}, max perturbation ${maxPerturbation.toFixed(6)}, ${summary.images_per_second} img/s`);
    if (outUri) printLine(`adversarial examples: ${outUri}/adversarial.json`);
  }
  return 0;
}
