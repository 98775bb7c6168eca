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
/** element-wise KL(P ‖ Q) = P · (log(P + 1e-5) − log_softmax(z_Q)); P probabilities, z_Q logits (D2R's) */
const kl = (p: number[], zq: number[]) => p.map((pj, j) => pj * (Math.log(pj + 1e-5) - logSoftmax(zq)[j]));
const sum = (xs: number[]) => xs.reduce((s, v) => s + v, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;
/** KL̄(P ‖ Q) from logits: mean over batch × classes of the element-wise KL. */
const klBarJs = (ZP: Rows, ZQ: Rows) => mean(ZP.flatMap((zp, i) => kl(softmax(zp), ZQ[i])));
/** Unsmoothed KL(softmax(z_P) ‖ softmax(z_Q)) per row, then the batch mean (torch's KLDivLoss(sum) / n). */
const klExact = (zp: number[], zq: number[]) => sum(softmax(zp).map((p, j) => p * (logSoftmax(zp)[j] - logSoftmax(zq)[j])));
const klBatchJs = (ZP: Rows, ZQ: Rows) => mean(ZP.map((zp, i) => klExact(zp, ZQ[i])));
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

  it('D2R: CE(z_g(x), y) + MSE(z_t(x′), z_g(x)) + 20·|KL̄(p_g‖p_t) − KL̄(p_t‖p_g)| + 30·KL̄(p_t(x′)‖p_g(x))', () => {
    const ce = ceJs(zg, y);
    const mse = mseJs(zAdv, zg);
    const sym = 20 * Math.abs(klBarJs(zg, zt) - klBarJs(zt, zg));
    // weighted by the target's adversarial probabilities (the authors' kl_Loss5), not its mirror
    const adv = 30 * klBarJs(zAdv, zg);
    assert.ok(Math.abs(adv - 30 * klBarJs(zg, zAdv)) > 1e-3, 'the fixture tells the term from its mirror');
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

  it('KL̄(P ‖ Q) is weighted by P, with 1e-5 smoothing, and about 1/C of the batch-mean KL(P ‖ Q)', () => {
    close(value(klBar(tf.softmax(t(zg)) as Tensor2D, t(zt))), klBarJs(zg, zt), 'klBar');
    close(value(klBatchMean(t(zg), t(zt))), klBatchJs(zg, zt), 'klBatchMean');
    assert.ok(Math.abs(klBatchJs(zg, zt) / 3 - klBarJs(zg, zt)) < 1e-4, 'batch-mean / C, up to the smoothing');
    close(value(crossEntropy(t(zg), oneHot(y, 3))), ceJs(zg, y), 'CE');
  });

  it('TRADES, MART and LBGAT', () => {
    const trades = ceJs(zt, y) + 6 * klBatchJs(zt, zAdv);
    close(value(tradesLoss(t(zt), t(zAdv), oneHot(y, 3), 6)), trades, 'TRADES');

    const pAdv = zAdv.map(softmax);
    const wrong = pAdv.map((p, i) => p.map((v, j) => (j === y[i] ? -Infinity : v)).reduce((b, v, j, r) => (v > r[b] ? j : b), 0));
    const bce = ceJs(zAdv, y) + mean(pAdv.map((p, i) => -Math.log(1.0001 - p[wrong[i]] + 1e-12)));
    const martKl = (z: number[], i: number) => sum(softmax(z).map((p, j) => p * (logSoftmax(z)[j] - Math.log(pAdv[i][j] + 1e-12))));
    const robust = mean(zt.map((z, i) => martKl(z, i) * (1.0000001 - softmax(z)[y[i]])));
    close(value(martLoss(t(zt), t(zAdv), oneHot(y, 3), 6)), bce + 6 * robust, 'MART');

    close(value(lbgatLoss(t(zg), t(zAdv), t(zt), oneHot(y, 3), 0)), ceJs(zg, y) + mseJs(zAdv, zg), 'LBGAT β = 0');
    close(value(lbgatLoss(t(zg), t(zAdv), t(zt), oneHot(y, 3), 6)), ceJs(zg, y) + mseJs(zAdv, zg) + 6 * klBatchJs(zt, zAdv), 'LBGAT β = 6');
  });
});
