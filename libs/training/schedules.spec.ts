import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epsilonAt, learningRate, TrainingError, type LrSchedule } from './index.js';
import { checkSchedule } from './schedules.js';

/** The lr of every step of a run, per epoch (first batch) and last batch. */
function perEpoch(schedule: LrSchedule, lr: number, epochs: number, batches = 4): number[] {
  return Array.from({ length: epochs }, (_, epoch) => learningRate(schedule, lr, { epoch, batch: 0, batches, epochs }));
}
const round = (xs: number[]) => xs.map((x) => Number(x.toPrecision(6)));

describe('schedules', () => {
  it("piecewise is the paper's at 100 epochs: 0.02 in epoch 1, 0.1, ×0.1 from epoch 76, ×0.01 from epoch 91", () => {
    const lrs = round(perEpoch({ kind: 'piecewise' }, 0.1, 100));
    assert.equal(lrs[0], 0.02);
    assert.ok(lrs.slice(1, 75).every((v) => v === 0.1), 'epochs 2–75');
    assert.ok(lrs.slice(75, 90).every((v) => v === 0.01), 'epochs 76–90');
    assert.ok(lrs.slice(90).every((v) => v === 0.001), 'epochs 91–100');
  });

  it('piecewise scales its boundaries to shorter runs and is constant within an epoch', () => {
    assert.deepEqual(round(perEpoch({ kind: 'piecewise' }, 0.1, 10)), [0.02, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.001]);
    assert.deepEqual(round(perEpoch({ kind: 'piecewise' }, 0.05, 3)), [0.01, 0.05, 0.05]);
    assert.deepEqual(round(perEpoch({ kind: 'piecewise' }, 0.1, 200).slice(0, 3)), [0.02, 0.02, 0.1]);
    const within = [0, 1, 2, 3].map((batch) => learningRate({ kind: 'piecewise' }, 0.1, { epoch: 4, batch, batches: 4, epochs: 10 }));
    assert.deepEqual(within, [0.1, 0.1, 0.1, 0.1]);
  });

  it('cosine warms up linearly per batch, then decays to near 0 at the end', () => {
    const s: LrSchedule = { kind: 'cosine', warmupEpochs: 1 };
    const at = (epoch: number, batch: number) => learningRate(s, 0.1, { epoch, batch, batches: 4, epochs: 5 });
    assert.deepEqual(round([0, 1, 2, 3].map((b) => at(0, b))), [0.025, 0.05, 0.075, 0.1]);
    assert.equal(at(1, 0), 0.1);
    const all = [1, 2, 3, 4].flatMap((e) => [0, 1, 2, 3].map((b) => at(e, b)));
    assert.ok(all.every((v, i) => i === 0 || v < all[i - 1]), 'strictly decreasing after the warm-up');
    assert.ok(all.at(-1)! > 0 && all.at(-1)! < 0.002);
    assert.equal(learningRate({ kind: 'constant' }, 0.3, { epoch: 7, batch: 2, batches: 4, epochs: 8 }), 0.3);
    assert.throws(() => checkSchedule({ kind: 'cosine', warmupEpochs: 5 }, 5), (e: unknown) => TrainingError.is(e, 'invalid-argument') && (e as TrainingError).field === 'schedule');
    assert.throws(() => checkSchedule({ kind: 'step' } as unknown as LrSchedule, 5), /unknown kind "step"/);
  });

  it('ε warm-up ramps linearly per batch over the given epochs, and is off at 0', () => {
    const eps = (epoch: number, batch: number, w: number) => epsilonAt(0.3, w, { epoch, batch, batches: 2, epochs: 10 });
    assert.deepEqual(round([eps(0, 0, 2), eps(0, 1, 2), eps(1, 0, 2), eps(1, 1, 2), eps(2, 0, 2)]), [0.075, 0.15, 0.225, 0.3, 0.3]);
    assert.equal(eps(0, 0, 0), 0.3);
  });
});
