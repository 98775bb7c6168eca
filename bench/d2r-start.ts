/**
 * Why D2R's target sits at one class in its first epochs (README, "D2R's first epochs"): what reaches
 * a freshly built target from each D2R term, and where both models stand after one epoch.
 *
 *   node dist/bench/d2r-start.js [--limit 1000] [--epochs 1] [--lr 0.05] [--schedule piecewise|constant]
 *     [--guidance fresh|URI] [--target-head zeros|torch]
 *
 * 1. Gradient norms over the target's weights from each D2R term on one batch of 32 MNIST digits, with
 *    the guidance model fresh or loaded from URI, beside the CE gradient standard training gives.
 * 2. One D2R run of `--epochs` on `--limit` training images (small-cnn, ε 0.1, batch 32), then each
 *    model's clean accuracy, mean top probability and logit spread on the 300 held-out images.
 */
import { parseArgs } from 'node:util';
import { initEngine, tf, type Tensor2D, type Tensor4D, type tfl } from '../libs/engine/index.js';
import { buildModel, loadModelFromUri, resolveModelConfig } from '../libs/models/index.js';
import { deriveSeed, loadDataset, type Dataset } from '../libs/data/index.js';
import { cagExamples, crossEntropy, d2rTerms, loadTrainingSplits, logitsOf, train, type LrSchedule } from '../libs/training/index.js';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '1000' },
    epochs: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.05' },
    schedule: { type: 'string', default: 'piecewise' },
    guidance: { type: 'string', default: 'fresh' },
    'target-head': { type: 'string', default: 'zeros' },
  },
});

const smallCnn = (stream: number, zeroInitHead = true) =>
  buildModel(resolveModelConfig({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: deriveSeed(0, stream) >>> 1, zeroInitHead }));
const guidanceModel = async () => (values.guidance === 'fresh' ? smallCnn(2) : loadModelFromUri(values.guidance!));
const targetModel = () => smallCnn(1, values['target-head'] !== 'torch');

function gradNorm(f: () => tf.Scalar, vars: tf.Variable[]): string {
  const { value, grads } = tf.variableGrads(f, vars);
  const norm = Math.sqrt(Object.values(grads).reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0], 0));
  const v = value.dataSync()[0];
  tf.dispose([value, grads]);
  return `‖∇‖ ${norm.toExponential(2)}  (value ${v.toFixed(4)})`;
}

/** Clean accuracy, mean top probability and logit standard deviation of `model` on `data`. */
function stand(model: tfl.LayersModel, data: Dataset): string {
  return tf.tidy(() => {
    const x = tf.tensor4d(data.images, [data.size, ...data.shape]);
    const z = model.predict(x) as Tensor2D;
    const acc = tf.mean(tf.cast(tf.equal(tf.argMax(z, 1), tf.tensor1d(data.labels, 'int32')), 'float32')).dataSync()[0];
    const top = tf.mean(tf.max(tf.softmax(z), 1)).dataSync()[0];
    const sd = tf.sqrt(tf.moments(z).variance).dataSync()[0];
    return `clean ${acc.toFixed(3)}  mean top p ${top.toFixed(3)}  logit sd ${sd.toFixed(3)}`;
  });
}

await initEngine('wasm');
{
  const d = await loadDataset('mnist', { split: 'train', limit: 32 });
  const x = tf.tensor4d(d.images, [32, 28, 28, 1]) as Tensor4D;
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(d.labels, 'int32'), 10), 'float32') as Tensor2D);
  const target = targetModel();
  const guidance = await guidanceModel();
  const xAdv = cagExamples(target, guidance, x, { eps: 0.1, alpha: 0.0226, steps: 10, seed: 0 });
  const vars = target.trainableWeights.map((w) => w.read() as tf.Variable);
  process.stdout.write(`At the start (guidance ${values.guidance}, target head ${values['target-head']}), over the target's weights:\n`);
  for (const k of ['mse', 'symmetry', 'adversarial', 'total'] as const) {
    const term = () => {
      const t = d2rTerms({ targetAdv: logitsOf(target, xAdv, true), targetClean: logitsOf(target, x, true), guidanceClean: logitsOf(guidance, x, true), yOneHot: y });
      return t[k];
    };
    process.stdout.write(`  D2R ${k.padEnd(11)} ${gradNorm(term, vars)}\n`);
  }
  process.stdout.write(`  CE (standard)   ${gradNorm(() => crossEntropy(logitsOf(target, x, true), y), vars)}\n`);
  tf.dispose([x, y, xAdv]);
  target.dispose();
  guidance.dispose();
}
{
  const { train: data, heldOut } = await loadTrainingSplits('mnist', { limit: Number(values.limit), evalSize: 300 });
  const target = targetModel();
  const guidance = await guidanceModel();
  process.stdout.write(`Before: target ${stand(target, heldOut!)}\n        guidance ${stand(guidance, heldOut!)}\n`);
  const r = await train({
    method: 'd2r',
    target,
    guidance,
    train: data,
    ...(heldOut ? { heldOut } : {}),
    epochs: Number(values.epochs),
    batchSize: 32,
    lr: Number(values.lr),
    schedule: { kind: values.schedule } as LrSchedule,
    eps: 0.1,
    evalSize: 300,
    evalSteps: 5,
    seed: 0,
  });
  for (const h of r.history) process.stdout.write(`epoch ${h.epoch}: loss ${h.loss.toFixed(4)}  target held-out clean ${h.cleanAccuracy.toFixed(3)}${h.collapse ? ` (${h.collapse.reason})` : ''}\n`);
  process.stdout.write(`After:  target ${stand(target, heldOut!)}\n        guidance ${stand(guidance, heldOut!)}\n`);
}
