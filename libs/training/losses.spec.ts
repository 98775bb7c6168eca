import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, type Tensor2D } from '../engine/index.js';
import { crossEntropy, d2rLoss, d2rTerms, klBar, klBatchMean, lbgatLoss, martLoss, tradesLoss } from './index.js';

// Plain-JS reference arithmetic (float64), straight from the formulas in ARCHITECTURE.md.
type Rows = number[][];
const logSoftmax = (r: number[]) => {
  const m = Math.max(...r);
  const lse = m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
  return r.map((v) => v - lse);
};
const softmax = (r: number[]) => logSoftmax(r).map(Math.exp);
/** element-wise kl(a ‖ b) = b · (log(b + 1e-5) − log_softmax(a)); a logits, b probabilities */
const kl = (a: number[], b: number[]) => b.map((bj, j) => bj * (Math.log(bj + 1e-5) - logSoftmax(a)[j]));
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const klBarJs = (A: Rows, B: Rows) => mean(A.flatMap((a, i) => kl(a, softmax(B[i]))));
const klBatchJs = (A: Rows, B: Rows) => mean(A.map((a, i) => kl(a, softmax(B[i])).reduce((s, v) => s + v, 0)));
const ceJs = (Z: Rows, y: number[]) => mean(Z.map((z, i) => -logSoftmax(z)[y[i]]));
const mseJs = (A: Rows, B: Rows) => mean(A.flatMap((a, i) => a.map((v, j) => (v - B[i][j]) ** 2)));

const zg: Rows = [
  [2.0, -1.0, 0.5],
  [0.1, 0.3, -0.7],
];
const zt: Rows = [
  [1.0, 0.2, -0.4],
  [-0.3, 1.5, 0.9],
];
const zAdv: Rows = [
  [0.4, 0.9, -1.2],
  [0.6, -0.8, 2.1],
];
const y = [0, 2];

const t = (rows: Rows) => tf.tensor2d(rows) as Tensor2D;
const oneHot = (labels: number[], c: number) => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), c), 'float32') as Tensor2D;
const value = (s: tf.Scalar) => {
  const v = s.dataSync()[0];
  s.dispose();
  return v;
};
const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs hand ${expected}`);

describe('losses on fixed logits equal the formulas computed by hand', () => {
  before(async () => {
    await initEngine('wasm');
  });

  it('D2R: CE(z_g(x), y) + MSE(z_t(x′), z_g(x)) + 20·|KL̄(p_t‖p_g) − KL̄(p_g‖p_t)| + 30·KL̄(p_t(x′)‖p_g(x))', () => {
    const ce = ceJs(zg, y);
    const mse = mseJs(zAdv, zg);
    // KL̄(p_t(x) ‖ p_g(x)) = mean kl(z_t(x) ‖ p_g(x)); KL̄(p_g(x) ‖ p_t(x)) = mean kl(z_g(x) ‖ p_t(x))
    const sym = 20 * Math.abs(klBarJs(zt, zg) - klBarJs(zg, zt));
    const adv = 30 * klBarJs(zAdv, zg);
    const hand = ce + mse + sym + adv;

    const inputs = { guidanceClean: t(zg), targetClean: t(zt), targetAdv: t(zAdv), yOneHot: oneHot(y, 3) };
    const before = tf.memory().numTensors;
    const terms = d2rTerms(inputs);
    close(value(terms.ce), ce, 'CE term');
    close(value(terms.mse), mse, 'MSE term');
    close(value(terms.symmetry), sym, '20·|ΔKL̄| term');
    close(value(terms.adversarial), adv, '30·KL̄ adversarial term');
    close(value(terms.total), hand, 'D2R total');
    close(value(d2rLoss(inputs)), hand, 'd2rLoss');
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    assert.ok(sym > 0 && adv > 0, 'the fixture exercises every term');
    tf.dispose(Object.values(inputs));
  });

  it('KL̄ is 1/C of the batch-mean KL(b ‖ softmax(a)), with 1e-5 smoothing on b', () => {
    close(value(klBar(t(zt), tf.softmax(t(zg)) as Tensor2D)), klBarJs(zt, zg), 'klBar');
    close(value(klBatchMean(t(zt), tf.softmax(t(zg)) as Tensor2D)), klBatchJs(zt, zg), 'klBatchMean');
    close(klBatchJs(zt, zg) / 3, klBarJs(zt, zg), 'batch-mean / C');
    // KL(p_g ‖ p_t) in the usual sense, up to the smoothing
    const exact = mean(zg.map((g, i) => softmax(g).reduce((s, p, j) => s + p * (Math.log(p) - logSoftmax(zt[i])[j]), 0)));
    assert.ok(Math.abs(klBatchJs(zt, zg) - exact) < 1e-4);
    close(value(crossEntropy(t(zg), oneHot(y, 3))), ceJs(zg, y), 'CE');
  });

  it('TRADES, MART and LBGAT', () => {
    const trades = ceJs(zt, y) + 6 * klBatchJs(zAdv, zt);
    close(value(tradesLoss(t(zt), t(zAdv), oneHot(y, 3), 6)), trades, 'TRADES');

    const pAdv = zAdv.map(softmax);
    const wrong = pAdv.map((p, i) => p.map((v, j) => (j === y[i] ? -Infinity : v)).reduce((b, v, j, r) => (v > r[b] ? j : b), 0));
    const bce = ceJs(zAdv, y) + mean(pAdv.map((p, i) => -Math.log(1.0001 - p[wrong[i]] + 1e-12)));
    const robust = mean(zt.map((z, i) => kl(zAdv[i], softmax(z)).reduce((s, v) => s + v, 0) * (1.0000001 - softmax(z)[y[i]])));
    close(value(martLoss(t(zt), t(zAdv), oneHot(y, 3), 6)), bce + 6 * robust, 'MART');

    close(value(lbgatLoss(t(zg), t(zAdv), undefined, oneHot(y, 3), 0)), ceJs(zg, y) + mseJs(zAdv, zg), 'LBGAT β = 0');
    close(value(lbgatLoss(t(zg), t(zAdv), t(zt), oneHot(y, 3), 6)), ceJs(zg, y) + mseJs(zAdv, zg) + 6 * klBatchJs(zAdv, zt), 'LBGAT β = 6');
  });
});
