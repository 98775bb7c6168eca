import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { createMemoryStore } from '../storage/index.js';
import { formatMetric, renderReportHtml, REPORT_HTML, writeReportHtml, type MetricFormat, type RobustnessReport } from './index.js';
import { sampleReport } from './report-html.fixture.js';

/** Value at a report.json path such as `attacks[2].stages[1].robust_accuracy`. */
function at(report: unknown, path: string): unknown {
  let v: unknown = report;
  for (const part of path.match(/[^.[\]]+/g) ?? []) v = (v as Record<string, unknown>)[part];
  return v;
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** Every element with data-metric: its path, data-value, data-format and (for leaf spans) its text. */
function metrics(html: string): Array<{ path: string; value: string; format?: string; text?: string }> {
  const out: Array<{ path: string; value: string; format?: string; text?: string }> = [];
  const re = /<(\w+)([^>]*?) data-metric="([^"]*)" data-value="([^"]*)"(?: data-format="([^"]*)")?([^>]*)>([^<]*)/g;
  for (const m of html.matchAll(re)) out.push({ path: unescape(m[3]), value: unescape(m[4]), ...(m[5] ? { format: m[5], text: unescape(m[7]) } : {}) });
  return out;
}

describe('renderReportHtml', () => {
  it('writes a self-contained page: no script, no network, a CSP that forbids both', () => {
    const html = renderReportHtml(sampleReport());
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; img-src data:;/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<link/i);
    // The only URLs are data: images and the SVG namespace (an identifier, never fetched).
    const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.ok(urls.length > 0);
    for (const u of urls) assert.match(u, /^data:image\/png;base64,/);
    assert.deepEqual([...new Set(html.match(/https?:\/\/[^"\s)]+/g))], ['http://www.w3.org/2000/svg']);
  });

  it('every number carries its report.json path, value and format, and they agree', () => {
    const report = sampleReport();
    const html = renderReportHtml(report);
    const found = metrics(html);
    assert.ok(found.length > 80, `found ${found.length} metrics`);
    for (const m of found) {
      assert.equal(Number(m.value), at(report, m.path), m.path);
      if (m.format) assert.equal(m.text, formatMetric(Number(m.value), m.format as MetricFormat), m.path);
    }
    const paths = new Set(found.map((m) => m.path));
    for (const p of ['clean_accuracy', 'robust_accuracy', 'eps', 'dataset.n', 'seed', 'attacks[2].stages[4].robust_accuracy', 'eps_sweep[1].points[0].robust_accuracy', 'per_class[2].robust_accuracy', 'training.history[2].loss', 'examples[3].adversarial_prediction', 'environment.workers']) {
      assert.ok(paths.has(p), `shows ${p}`);
    }
  });

  it('shows the sections of a full report', () => {
    const html = renderReportHtml(sampleReport());
    for (const s of ['attacks', 'charts', 'per-class', 'examples', 'training', 'reproducibility', 'warnings']) assert.match(html, new RegExp(`data-section="${s}"`));
    for (const c of ['eps', 'attacks', 'stages-autoattack', 'per-class', 'training-loss', 'training-accuracy']) assert.match(html, new RegExp(`data-chart="${c}"`));
    assert.match(html, /data-field="model.sha256">(ab){32}</);
    // Four examples, each with clean, adversarial and heat-map images.
    assert.equal(html.match(/<figure class="example"/g)?.length, 4);
    assert.equal(html.match(/<img alt="perturbation heat map"/g)?.length, 4);
  });

  it('escapes every string from the report: class names, URIs, attack names, warnings', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const report = sampleReport({
      model: { uri: '"><script>alert(1)</script>', sha256: `'${evil}`, arch: evil, input_shape: [8, 8, 1], num_classes: 3 },
      dataset: { spec: 'x</title><script>alert(2)</script>', name: evil, split: 'test', n: 30, class_names: [evil, '"onmouseover="alert(3)', "'><svg onload=alert(4)>"] },
      warnings: [{ id: '<b>', message: '</li><script>alert(5)</script>' }],
      id: '"><iframe src=javascript:alert(6)>',
    });
    report.attacks[1].name = '<svg/onload=alert(7)>';
    report.per_class[0].name = evil;
    report.examples[0].attack = '"><script>alert(8)</script>';
    report.training!.method = '<script>alert(9)</script>';
    const html = renderReportHtml(report, { links: [{ href: '"><script>alert(10)</script>', label: '<b>x</b>' }] });
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img src=x/);
    assert.doesNotMatch(html, /<svg\/onload/);
    assert.doesNotMatch(html, /<svg onload/);
    assert.doesNotMatch(html, /<iframe/);
    assert.doesNotMatch(html, /<b>x<\/b>/);
    assert.doesNotMatch(html, /\sonmouseover="/);
    assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(html, /&quot;onmouseover=&quot;alert\(3\)/);
  });

  it('renders a quick report without sweep, training, per-class rows or examples', () => {
    const { eps_sweep: _s, training: _t, ...rest } = sampleReport({ suite: 'quick', per_class: [], examples: [], warnings: [] });
    const report: RobustnessReport = { ...rest, attacks: rest.attacks.slice(0, 2) };
    const html = renderReportHtml(report);
    for (const s of ['per-class', 'examples', 'training', 'warnings']) assert.doesNotMatch(html, new RegExp(`data-section="${s}"`));
    assert.doesNotMatch(html, /data-chart="stages-/);
    // Without a sweep, each row is a dashed line from clean (ε = 0) to its ε.
    assert.match(html, /data-chart="eps"/);
    assert.match(html, /stroke-dasharray/);
    assert.match(html, /data-metric="attacks\[1\].robust_accuracy" data-value="0.3" data-x-metric="attacks\[1\].eps"/);
  });

  it('draws a placeholder for an example image that does not match its shape', () => {
    const report = sampleReport();
    report.examples[0].clean_image = Buffer.from([1, 2, 3]).toString('base64');
    report.examples[1].shape = [100000, 100000, 3];
    const html = renderReportHtml(report);
    assert.equal(html.match(/<div class="missing">/g)?.length, 5);
  });

  it('encodes examples as PNGs and the perturbation as a red (+) / blue (−) heat map', () => {
    const html = renderReportHtml(sampleReport());
    const heat = html.match(/<img alt="perturbation heat map" src="data:image\/png;base64,([^"]+)"/)![1];
    const png = PNG.sync.read(Buffer.from(heat, 'base64'));
    assert.deepEqual([png.width, png.height], [8, 8]);
    // The fixture's adversarial image adds 60/255 ≈ 0.235 (< ε = 0.3) on odd pixels and subtracts it on even ones (where not clipped).
    const reds = [];
    const blues = [];
    for (let i = 0; i < 64; i++) {
      const [r, , b] = png.data.subarray(i * 4, i * 4 + 3);
      if (r > b) reds.push(i);
      if (b > r) blues.push(i);
    }
    assert.ok(reds.length > 10 && blues.length > 10, `${reds.length} red, ${blues.length} blue pixels`);
    const clean = html.match(/<img alt="clean image" src="data:image\/png;base64,([^"]+)"/)![1];
    assert.deepEqual([PNG.sync.read(Buffer.from(clean, 'base64')).width, 8], [8, 8]);
  });

  it('writeReportHtml puts report.html into the store', async () => {
    const store = createMemoryStore();
    const uri = await writeReportHtml(store, sampleReport());
    assert.equal(uri, `${store.uri}/${REPORT_HTML}`);
    assert.match(new TextDecoder().decode(await store.get(REPORT_HTML)), /Robustness report/);
  });

  it('is deterministic', () => {
    assert.equal(renderReportHtml(sampleReport()), renderReportHtml(sampleReport()));
  });
});
