import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barChart, lineChart, niceTicks } from './charts.js';

describe('charts', () => {
  it('niceTicks: round steps of 1, 2 or 5 × 10^k covering the range', () => {
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 0.3), [0, 0.1, 0.2, 0.3]);
    assert.deepEqual(niceTicks(0, 8 / 255, 6), [0, 0.01, 0.02, 0.03]);
    assert.deepEqual(niceTicks(0, 8 / 255, 10), [0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03]);
    assert.deepEqual(niceTicks(1, 10, 5), [2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(3, 3), [3]);
    assert.deepEqual(niceTicks(Number.NaN, 1), []);
  });

  it('lineChart: one polyline per series, marks with their metric paths, escaped names', () => {
    const svg = lineChart({
      id: 'e',
      title: 'A <b>title</b>',
      x: { label: 'ε', domain: [0, 0.3] },
      y: { label: 'acc', domain: [0, 1], format: 'percent' },
      series: [
        { name: 'pgd<script>', points: [{ x: 0, y: 1, metric: 'clean_accuracy' }, { x: 0.3, y: 0.5, metric: 'attacks[0].robust_accuracy', xMetric: 'attacks[0].eps' }] },
        { name: 'fgsm', dashed: true, points: [{ x: 0, y: 1 }, { x: 0.3, y: 0 }] },
      ],
    });
    assert.equal(svg.match(/<polyline/g)?.length, 2);
    assert.equal(svg.match(/<circle/g)?.length, 4);
    assert.doesNotMatch(svg, /<script|<b>/);
    assert.match(svg, /pgd&lt;script&gt;/);
    assert.match(svg, /data-metric="attacks\[0\].robust_accuracy" data-value="0.5" data-x-metric="attacks\[0\].eps" data-x="0.3"/);
    // Plot area: x from 56 to 544, y from 254 (0) to 30 (1) in a 560 × 300 box.
    assert.match(svg, /points="56,30 544,142"/);
    assert.match(svg, /stroke-dasharray/);
    assert.match(svg, />100%</);
  });

  it('barChart: bar heights proportional to values, value labels with their format', () => {
    const svg = barChart({
      id: 'b',
      title: 't',
      y: { label: 'acc', domain: [0, 1], format: 'percent' },
      series: [{ name: 's' }],
      groups: [
        { label: 'a', bars: [{ series: 's', value: 1, metric: 'x' }] },
        { label: 'b', bars: [{ series: 's', value: 0.25, metric: 'y' }] },
      ],
    });
    const heights = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#2563eb" data-metric/g)].map((m) => Number(m[1]));
    assert.deepEqual(heights, [224, 56]);
    assert.match(svg, /<text class="value"[^>]* data-metric="y" data-value="0.25" data-format="percent">25.0%<\/text>/);
  });

  it('barChart: no value labels on narrow bars (the table has them)', () => {
    const groups = Array.from({ length: 10 }, (_, i) => ({ label: String(i), bars: [{ series: 'a', value: 0.5 }, { series: 'b', value: 0.2 }] }));
    const svg = barChart({ id: 'c', title: 't', y: { label: 'acc', domain: [0, 1] }, series: [{ name: 'a' }, { name: 'b' }], groups });
    assert.equal(svg.match(/<rect[^>]*data-series/g)?.length, 20);
    assert.doesNotMatch(svg, /class="value"/);
  });
});
