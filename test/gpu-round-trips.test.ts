/**
 * No CPU round trips inside a step (issue #18, item 2), pinned by counting: `countGpuWork`
 * (libs/engine/webgpu-counters.ts) counts the compute dispatches and GPU→CPU read-backs the code
 * issues on the webgpu backend, here on Dawn's software adapter (OpenGL ES on Mesa llvmpipe,
 * `HARDEN_WEBGPU_SOFTWARE=1`): the same tfjs programs as on a GPU, so the counts are a GPU's, though
 * the timings are not. On wasm the same code is counted by its reads of tensor values.
 *
 * - A D2R step exactly as `harden train --method d2r` runs it (`createTrainingStep` with the d2r
 *   method: CAG-10 with both models in inference mode, the D2R loss over both in train mode, one SGD
 *   update over both), small-cnn at 16×16, batch 4: **0 read-backs**, and at most `D2R_DISPATCHES`
 *   dispatches, the same number in every step.
 * - A PGD-20 batch with early stopping (the evaluation's PGD-20): `PGD20_READBACKS` read-backs for
 *   the whole batch, none of them inside a step.
 * - Every method's training step (PGD-AT and MART through `generatePgd`) reads nothing back.
 * - The trainer reads each progress window's losses once.
 *
 * The dispatch pin is a ceiling equal to the count measured on the software adapter: 1304 per step
 * with our WGSL kernels (libs/engine/webgpu-kernels), 1326 with tfjs-backend-webgpu 4.22's own
 * (`HARDEN_WEBGPU_KERNELS=shipped`). A change that adds programs to the step fails; one that fuses
 * programs passes and should lower the pin. Dispatches do not depend on the data, so two steps must agree
 * exactly; read-backs are pinned exactly everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { countGpuWork, initEngine, probeBackends, tf, type BackendName, type GpuWork } from '../libs/engine/index.js';
import { buildModel, resolveModelConfig } from '../libs/models/index.js';
import { createPgd, fromLayersModel, STEPS_PER_READBACK } from '../libs/attacks/index.js';
import { collectParameters, createSgd, createTrainingStep, getMethod, METHOD_NAMES, readLosses, train, type MethodModels, type TrainingEvent } from '../libs/training/index.js';
import { prototypeDataset, tinyModel } from '../libs/training/testing.fixture.js';
import { webgpuKernelsWanted } from '../libs/engine/webgpu-kernels/index.js';

/** Dispatches of one D2R step (small-cnn 16×16×1 ×2, batch 4, CAG-10), measured on the software adapter. */
const D2R_DISPATCHES = webgpuKernelsWanted() ? 1304 : 1326;
/**
 * Read-backs of one PGD-20 batch with `earlyStop`: the input range check, the clean logits, one
 * early-stop check after step 10 (`STEPS_PER_READBACK`), the final logits and loss (one read, with
 * the starting point's checks), and the criterion at the projected result.
 */
const PGD20_READBACKS = 5;

const SHAPE: [number, number, number] = [16, 16, 1];
const BATCH = 4;

function d2rSetup() {
  const build = (seed: number) => buildModel(resolveModelConfig({ arch: 'small-cnn', inputShape: SHAPE, numClasses: 10, seed }));
  const models: MethodModels = { target: build(1), guidance: build(2) };
  const { variables, names } = collectParameters(models);
  const optimizer = createSgd(variables, {}, names);
  const step = createTrainingStep({ method: getMethod('d2r'), models, optimizer, weights: { beta: 6, lambda: 6 }, numClasses: 10 });
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (3 * i) % 10);
  const x = tf.randomUniform([BATCH, ...SHAPE], 0, 1, 'float32', 7) as tf.Tensor4D;
  const y = tf.tensor1d(labels, 'int32');
  // As `harden train` on MNIST: ε 0.3, α = ε·0.007/0.031, CAG-10.
  const settings = { eps: 0.3, alpha: 0.3 * (0.007 / 0.031), steps: 10, lr: 0.01 };
  return {
    models,
    /** One step, counted; its loss read afterwards (outside the count) so the next step starts clean. */
    async counted(seed: number): Promise<GpuWork & { loss: number }> {
      const { result, ...work } = await countGpuWork(() => step(x, y, labels, { ...settings, seed }));
      const [loss] = await readLosses([result.loss]);
      return { ...work, loss };
    },
    dispose() {
      tf.dispose([x, y]);
      optimizer.dispose();
      models.target.dispose();
      models.guidance?.dispose();
    },
  };
}

function roundTrips(backend: BackendName, skip: () => string | undefined) {
  describe(`round trips on ${backend}`, () => {
    before(async () => {
      if (!skip()) await initEngine(backend);
    });

    it('a D2R step (CAG-10 + D2R loss + update) reads nothing back; its dispatches stay within the pin', async (t) => {
      const reason = skip();
      if (reason) return t.skip(reason);
      const s = d2rSetup();
      try {
        await s.counted(0); // first step: pipelines compiled, weights uploaded
        const a = await s.counted(1);
        const b = await s.counted(2);
        assert.ok(Number.isFinite(a.loss) && Number.isFinite(b.loss), `losses ${a.loss}, ${b.loss}`);
        for (const w of [a, b]) assert.equal(w.readbacks, 0, `read-backs inside a D2R step: ${JSON.stringify(w)}`);
        if (backend === 'webgpu') {
          t.diagnostic(`${a.dispatches} dispatches, ${a.submits} submits, ${a.uploads} uploads per D2R step`);
          assert.ok(a.dispatches! > 0, 'the counters see the step');
          assert.equal(a.dispatches, b.dispatches, 'the same programs every step');
          assert.ok(a.dispatches! <= D2R_DISPATCHES, `${a.dispatches} dispatches per D2R step; pinned at ≤ ${D2R_DISPATCHES}`);
        } else assert.equal(a.dispatches, null);
      } finally {
        s.dispose();
      }
    });

    it('a training step of any method reads nothing back (PGD-AT, TRADES, MART, LBGAT, standard too)', async (t) => {
      const reason = skip();
      if (reason) return t.skip(reason);
      const x = tf.randomUniform([BATCH, 8, 8, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
      const labels = Int32Array.from({ length: BATCH }, (_, i) => i % 4);
      const y = tf.tensor1d(labels, 'int32');
      try {
        for (const name of METHOD_NAMES) {
          const method = getMethod(name);
          const models: MethodModels = { target: tinyModel({ seed: 1 }), guidance: method.usesGuidance ? tinyModel({ seed: 2 }) : undefined };
          const { variables, names } = collectParameters(models);
          const optimizer = createSgd(variables, {}, names);
          const step = createTrainingStep({ method, models, optimizer, weights: { beta: 6, lambda: 6 }, numClasses: 4 });
          try {
            const { result, readbacks } = await countGpuWork(() => step(x, y, labels, { eps: 0.1, alpha: 0.03, steps: 2, seed: 1, lr: 0.01 }));
            const [loss] = await readLosses([result.loss]);
            assert.ok(Number.isFinite(loss), `${name}: loss ${loss}`);
            assert.equal(readbacks, 0, `${name}: read-backs inside a step`);
          } finally {
            optimizer.dispose();
            models.target.dispose();
            models.guidance?.dispose();
          }
        }
      } finally {
        tf.dispose([x, y]);
      }
    });

    it('a PGD-20 batch (early stop, as evaluated) reads back only at its ends and every STEPS_PER_READBACK steps', async (t) => {
      const reason = skip();
      if (reason) return t.skip(reason);
      assert.equal(STEPS_PER_READBACK, 10, 'PGD20_READBACKS counts one read in the middle of 20 steps');
      const model = buildModel(resolveModelConfig({ arch: 'small-cnn', inputShape: SHAPE, numClasses: 10, seed: 3, zeroInitHead: false }));
      const x = tf.randomUniform([BATCH, ...SHAPE], 0, 1, 'float32', 9) as tf.Tensor4D;
      const labels = Int32Array.from({ length: BATCH }, (_, i) => i);
      try {
        const pgd = createPgd({ steps: 20, earlyStop: true });
        const events: number[] = [];
        const { result, ...work } = await countGpuWork(() => pgd.run(fromLayersModel(model), x, labels, { eps: 0.3, seed: 1, onStep: (e) => events.push(e.step) }));
        for (const r of result.results) tf.dispose([r.raw, r.clipped]);
        // Unless every sample froze after step 10 (then the loop ends there), all 21 steps are reported, in order.
        assert.deepEqual(events, events.length === 21 ? Array.from({ length: 21 }, (_, i) => i) : [...Array.from({ length: 10 }, (_, i) => i), 20]);
        assert.equal(work.readbacks, PGD20_READBACKS, `read-backs of a PGD-20 batch: ${JSON.stringify(work)}`);
      } finally {
        x.dispose();
        model.dispose();
      }
    });

    it('the trainer reads the losses once per progress window', async (t) => {
      const reason = skip();
      if (reason) return t.skip(reason);
      const build = (seed: number) => buildModel(resolveModelConfig({ arch: 'small-cnn', inputShape: SHAPE, numClasses: 10, seed }));
      const target = build(1);
      const guidance = build(2);
      const batches: TrainingEvent[] = [];
      try {
        // 4 batches of 4, progress every 2: two reads. No held-out check, no checkpoints.
        const work = await countGpuWork(() =>
          train({
            method: 'd2r',
            target,
            guidance,
            train: prototypeDataset(16, { seed: 4, shape: SHAPE, numClasses: 10 }),
            epochs: 1,
            batchSize: 4,
            lr: 0.01,
            eps: 0.1,
            steps: 2,
            evalSize: 0,
            seed: 1,
            progressEvery: 2,
            onEvent: (e) => e.type === 'batch' && batches.push(e),
          }),
        );
        assert.equal(batches.length, 2);
        assert.ok(batches.every((e) => e.type === 'batch' && Number.isFinite(e.loss)));
        assert.equal(work.result.history.length, 1);
        assert.equal(work.readbacks, 2, `read-backs of a 4-batch epoch: ${JSON.stringify({ ...work, result: undefined })}`);
      } finally {
        target.dispose();
        guidance.dispose();
      }
    });
  });
}

roundTrips('wasm', () => undefined);

let webgpuMissing: string | undefined = 'not probed';
before(async () => {
  process.env.HARDEN_WEBGPU_SOFTWARE ??= '1';
  const status = (await probeBackends()).find((b) => b.name === 'webgpu');
  webgpuMissing = status?.available
    ? undefined
    : `the software webgpu adapter is missing here (${status?.reason ?? 'not probed'}); install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri`;
});
roundTrips('webgpu', () => webgpuMissing);

after(() => tf.disposeVariables());
