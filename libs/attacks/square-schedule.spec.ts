import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAttack, squareFraction } from './index.js';

// p_init / 2^k after the k-th of the halving points 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000.
const halvings = (query: number, points: readonly number[]) => points.filter((h) => query > h).length;
const POINTS = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];

describe("Square's p schedule", () => {
  it('inside AutoAttack (fixed query counts): p halves after queries 10, 50, 200, …, 8000 whatever the budget', () => {
    for (const budget of [5000, 10000, 300]) {
      for (const it of [0, 10, 11, 50, 51, 200, 201, 500, 501, 999, 1001, 2001, 4001, 4999, 6001, 8001, 9999]) {
        assert.equal(squareFraction(it, budget, 0.8, false), 0.8 / 2 ** halvings(it, POINTS), `query ${it} of ${budget}`);
      }
    }
    // A 5,000-query budget ends at p_init/128 (past 4000), never reaching 6000's and 8000's halvings.
    assert.equal(squareFraction(4999, 5000, 0.8, false), 0.8 / 128);
  });

  it('standalone (rescaled, the default): the halving points are fractions of 10,000 of the budget', () => {
    assert.equal(squareFraction(4999, 5000, 0.8), 0.8 / 512, 'the last query of 5,000 is past 8,000 of 10,000');
    assert.equal(squareFraction(6, 1000, 0.8), 0.8 / 2 ** halvings(60, POINTS));
    assert.equal(squareFraction(5, 5000, 0.8), 0.8, 'query 5 of 5,000 is 10 of 10,000, not past 10');
    assert.equal(squareFraction(6, 5000, 0.8), 0.4, 'query 6 of 5,000 is 12 of 10,000');
  });

  it('rescaleSchedule is checked like any option', () => {
    assert.throws(() => createAttack('square', { rescaleSchedule: 'no' as unknown as boolean }), /rescaleSchedule/);
  });
});
