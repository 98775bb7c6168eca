/**
 * The outer losses against the values PyTorch computed from each method's reference code on fixed
 * logits (`../shared/fixtures/losses-reference.json`, with the gradient of each total with respect
 * to each logits input). Each value within 1e-4 relative, each gradient element within 1e-4
 * absolute. The numbers are read from the fixture, never copied here.
 *
 * The fixture lives in the steering repository's shared/ folder beside this checkout; a copy is
 * committed as test/fixtures/losses-reference.json so a clone without shared/ still runs the test,
 * and where both exist they must be the same file.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { initEngine, tf, type Tensor2D } from '../engine/index.js';
import { d2rTerms, lbgatLoss, martLoss, tradesLoss } from './index.js';

type Rows = number[][];
type LogitsName = 'z_t_adv' | 'z_t_clean' | 'z_g_clean';
interface Expected {
  total: number;
  grad_total_wrt: Partial<Record<LogitsName, Rows>>;
}
interface Fixture {
  shapes: { batch: number; classes: number };
  labels: number[];
  z_t_adv: Rows;
  z_t_clean: Rows;
  z_g_clean: Rows;
  d2r: Expected & { ce: number; mse: number; symmetry: number; adversarial: number };
  trades: Expected & { beta: number };
  mart: Expected & { lambda: number };
  lbgat_beta0: Expected & { beta: number };
  lbgat_beta6: Expected & { beta: number };
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const sharedPath = `${repoRoot}../shared/fixtures/losses-reference.json`;
const copyPath = `${repoRoot}test/fixtures/losses-reference.json`;

function loadFixture(): Fixture {
  const copy = readFileSync(copyPath, 'utf8');
  if (existsSync(sharedPath)) {
    assert.equal(copy, readFileSync(sharedPath, 'utf8'), `${copyPath} differs from ${sharedPath}: copy the shared fixture again`);
  }
  return JSON.parse(copy) as Fixture;
}

function assertValue(actual: number, expected: number, what: string): void {
  assert.ok(Number.isFinite(expected), `${what}: the fixture has no value`);
  const tol = 1e-4 * Math.abs(expected);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs reference ${expected} (relative error ${(Math.abs(actual - expected) / Math.abs(expected)).toExponential(2)})`);
}

function assertGradient(actual: Float32Array, expected: Rows | undefined, what: string): void {
  assert.ok(expected, `${what}: the fixture has no gradient`);
  const flat = expected.flat();
  assert.equal(actual.length, flat.length, `${what}: size`);
  let worst = 0;
  let at = 0;
  flat.forEach((e, i) => {
    const d = Math.abs(actual[i] - e);
    if (d > worst) [worst, at] = [d, i];
  });
  assert.ok(worst <= 1e-4, `${what}: element ${at} is ${actual[at]} vs reference ${flat[at]} (|Δ| ${worst.toExponential(2)})`);
}

/**
 * The loss and its gradient with respect to each named logits input, all read back as plain
 * numbers; the tensors are disposed.
 */
async function lossAndGrads(
  f: Fixture,
  names: readonly LogitsName[],
  loss: (logits: Record<LogitsName, Tensor2D>, yOneHot: Tensor2D) => tf.Scalar,
): Promise<{ value: number; grads: Record<string, Float32Array> }> {
  const inputs = names.map((n) => tf.tensor2d(f[n]) as Tensor2D);
  const yOneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(f.labels, 'int32'), f.shapes.classes), 'float32') as Tensor2D);
  const all = { z_t_adv: undefined, z_t_clean: undefined, z_g_clean: undefined } as unknown as Record<LogitsName, Tensor2D>;
  const { value, grads } = tf.valueAndGrads((...zs: tf.Tensor[]) => {
    names.forEach((n, i) => (all[n] = zs[i] as Tensor2D));
    return loss(all, yOneHot);
  })(inputs);
  try {
    const out: Record<string, Float32Array> = {};
    for (let i = 0; i < names.length; i++) out[names[i]] = (await grads[i].data()) as Float32Array;
    return { value: (await value.data())[0], grads: out };
  } finally {
    tf.dispose([value, ...grads, ...inputs, yOneHot]);
  }
}

async function checkMethod(
  f: Fixture,
  expected: Expected,
  what: string,
  names: readonly LogitsName[],
  loss: (logits: Record<LogitsName, Tensor2D>, yOneHot: Tensor2D) => tf.Scalar,
): Promise<void> {
  const { value, grads } = await lossAndGrads(f, names, loss);
  assertValue(value, expected.total, `${what} total`);
  for (const n of names) assertGradient(grads[n], expected.grad_total_wrt[n], `${what}: ∂total/∂${n}`);
}

describe('losses equal the reference implementations (PyTorch fixture)', () => {
  let f: Fixture;
  before(async () => {
    await initEngine('wasm');
    f = loadFixture();
  });

  it('D2R: the four terms, the total and its gradients with respect to z_t(x′), z_t(x) and z_g(x)', async () => {
    const before = tf.memory().numTensors;
    const d2r = (z: Record<LogitsName, Tensor2D>, yOneHot: Tensor2D) =>
      d2rTerms({ targetAdv: z.z_t_adv, targetClean: z.z_t_clean, guidanceClean: z.z_g_clean, yOneHot });
    const terms = tf.tidy(() => {
      const zs = { z_t_adv: tf.tensor2d(f.z_t_adv), z_t_clean: tf.tensor2d(f.z_t_clean), z_g_clean: tf.tensor2d(f.z_g_clean) } as Record<LogitsName, Tensor2D>;
      const y = tf.cast(tf.oneHot(tf.tensor1d(f.labels, 'int32'), f.shapes.classes), 'float32') as Tensor2D;
      return { ...d2r(zs, y) };
    });
    for (const term of ['ce', 'mse', 'symmetry', 'adversarial', 'total'] as const) {
      assertValue((await terms[term].data())[0], f.d2r[term], `D2R ${term}`);
    }
    tf.dispose(Object.values(terms));
    await checkMethod(f, f.d2r, 'D2R', ['z_t_adv', 'z_t_clean', 'z_g_clean'], (z, y) => {
      const t = d2r(z, y);
      tf.dispose([t.ce, t.mse, t.symmetry, t.adversarial]);
      return t.total;
    });
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  });

  it('TRADES (β from the fixture): value and gradients with respect to z(x′) and z(x)', async () => {
    await checkMethod(f, f.trades, 'TRADES', ['z_t_adv', 'z_t_clean'], (z, y) => tradesLoss(z.z_t_clean, z.z_t_adv, y, f.trades.beta));
  });

  it('MART (λ from the fixture): value and gradients with respect to z(x′) and z(x)', async () => {
    await checkMethod(f, f.mart, 'MART', ['z_t_adv', 'z_t_clean'], (z, y) => martLoss(z.z_t_clean, z.z_t_adv, y, f.mart.lambda));
  });

  for (const key of ['lbgat_beta0', 'lbgat_beta6'] as const) {
    it(`LBGAT (${key}): value and gradients with respect to z_t(x′), z_t(x) and z_g(x)`, async () => {
      const e = f[key];
      await checkMethod(f, e, `LBGAT β=${e.beta}`, ['z_t_adv', 'z_t_clean', 'z_g_clean'], (z, y) => lbgatLoss(z.z_g_clean, z.z_t_adv, z.z_t_clean, y, e.beta));
    });
  }
});
