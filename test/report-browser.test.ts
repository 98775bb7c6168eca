/**
 * report.html in a real browser (Chromium through playwright-core), from a real evaluation: a small
 * CNN trained here for a few seconds on the embedded MNIST digits, saved, then evaluated by
 * `harden eval --suite standard --out` as a user runs it. The page must render its charts and image
 * grid with no console errors and no network; every number on it must be the one in report.json;
 * and a Harden job's report (training curves added) is screenshotted to test-artifacts/report.png.
 * `HARDEN_UPDATE_DOCS=1` also copies that screenshot to docs/report.png for the README; it evaluates at
 * ε = 0.1, where some images survive (a more telling picture, but AutoAttack then takes a minute
 * more), instead of MNIST's protocol ε = 0.3.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { tf } from '../libs/engine/index.js';
import { readMnist } from '../libs/data/index.js';
import { saveModelToUri } from '../libs/models/index.js';
import { fromLayersModel, runAttackByName } from '../libs/attacks/index.js';
import { canTrainConvs, initTestEngine, mnistNet } from '../libs/attacks/testing.fixture.js';
import { formatMetric, renderReportHtml, type MetricFormat, type RobustnessReport, type TrainingCurvePoint } from '../libs/evaluation/index.js';
import { sampleReport } from '../libs/evaluation/report-html.fixture.js';
import { artifactPath, launchChromium, watchPage, type Chromium } from './helpers/chromium.js';

const CLI = new URL('../cli/main.js', import.meta.url).pathname;
const EPOCHS = 3;
const UPDATE_DOCS = process.env.HARDEN_UPDATE_DOCS === '1';
const EPS = UPDATE_DOCS ? 0.1 : 0.3;

/** Value at a report.json path such as `attacks[3].stages[1].robust_accuracy`. */
function at(report: unknown, path: string): unknown {
  let v: unknown = report;
  for (const part of path.match(/[^.[\]]+/g) ?? []) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

/** Trains the fixture CNN for a few epochs, recording what a Harden job's report holds per epoch. */
async function trainWithHistory(): Promise<{ model: ReturnType<typeof mnistNet>; history: TrainingCurvePoint[] }> {
  const train = await readMnist({ split: 'train', limit: 1200 });
  const heldOut = await readMnist({ split: 'test', limit: 64 });
  const model = mnistNet(3, canTrainConvs());
  const optimizer = tf.train.adam(0.003);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const xh = tf.tensor4d(heldOut.images, [heldOut.size, 28, 28, 1]);
  const history: TrainingCurvePoint[] = [];
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    let sum = 0;
    let batches = 0;
    for (let start = 0; start < train.size; start += 64) {
      const size = Math.min(64, train.size - start);
      const loss = tf.tidy(() => {
        const xb = tf.tensor4d(train.images.subarray(start * 784, (start + size) * 784), [size, 28, 28, 1]);
        const yb = tf.oneHot(tf.tensor1d(train.labels.subarray(start, start + size), 'int32'), 10);
        return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yb, model.apply(xb, { training: true }) as tf.Tensor2D) as tf.Scalar, true, vars)!;
      });
      sum += (await loss.data())[0];
      loss.dispose();
      batches++;
    }
    // Held-out clean accuracy and PGD-5 robust accuracy at a small ε, as the trainer checks each epoch.
    const check = await runAttackByName('pgd', fromLayersModel(model), xh, heldOut.labels, { eps: 0.1, steps: 5, seed: 0 });
    check.adversarial.dispose();
    history.push({ epoch, loss: sum / batches, clean_accuracy: check.cleanAccuracy, robust_accuracy: check.robustAccuracy });
  }
  xh.dispose();
  optimizer.dispose();
  return { model, history };
}

interface DomMetric {
  path: string;
  value: string;
  format: string | null;
  text: string;
  xPath: string | null;
  x: string | null;
}

/** Every report number on the page (`data-metric`, and `data-x-metric` of chart points) and every report string (`data-field`). */
async function readDom(page: Page): Promise<{ metrics: DomMetric[]; fields: Array<{ path: string; text: string }> }> {
  return page.evaluate(() => ({
    metrics: [...document.querySelectorAll('[data-metric]')].map((el) => ({
      path: el.getAttribute('data-metric')!,
      value: el.getAttribute('data-value')!,
      format: el.getAttribute('data-format'),
      text: el.textContent ?? '',
      xPath: el.getAttribute('data-x-metric'),
      x: el.getAttribute('data-x'),
    })),
    fields: [...document.querySelectorAll('[data-field]')].map((el) => ({ path: el.getAttribute('data-field')!, text: el.textContent ?? '' })),
  }));
}

function assertDomMatchesReport(dom: Awaited<ReturnType<typeof readDom>>, report: RobustnessReport): void {
  for (const m of dom.metrics) {
    assert.equal(Number(m.value), at(report, m.path), `${m.path}: data-value ${m.value}`);
    if (m.format) assert.equal(m.text, formatMetric(Number(m.value), m.format as MetricFormat), `${m.path}: shown as "${m.text}"`);
    if (m.xPath) assert.equal(Number(m.x), at(report, m.xPath), `${m.xPath}: data-x ${m.x}`);
  }
  for (const f of dom.fields) {
    const v = at(report, f.path);
    assert.equal(f.text, typeof v === 'string' ? v : JSON.stringify(v), f.path);
  }
}

async function chartSummary(page: Page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('figure.chart')].map((f) => {
      const svg = f.querySelector('svg')!;
      const box = svg.getBoundingClientRect();
      return {
        id: f.getAttribute('data-chart'),
        width: box.width,
        height: box.height,
        marks: svg.querySelectorAll('circle, rect[data-series]').length,
        lines: svg.querySelectorAll('polyline').length,
      };
    }),
  );
}

describe('report.html in Chromium', { timeout: 600_000 }, () => {
  let browser: Chromium;
  let dir: string;
  let report: RobustnessReport;
  let history: TrainingCurvePoint[];

  before(async () => {
    browser = await launchChromium();
    await initTestEngine();
    const trained = await trainWithHistory();
    history = trained.history;
    dir = mkdtempSync(join(tmpdir(), 'harden-report-'));
    await saveModelToUri(trained.model, pathToFileURL(join(dir, 'model')).href);
    const r = spawnSync(
      process.execPath,
      [CLI, 'eval', '--model', pathToFileURL(join(dir, 'model')).href, '--dataset', 'mnist', '--limit', '40', '--eps', String(EPS), '--suite', 'standard', '--out', pathToFileURL(join(dir, 'eval')).href, '--json'],
      { encoding: 'utf8', env: { ...process.env, HARDEN_WORKERS: '2' }, timeout: 480_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    report = JSON.parse(readFileSync(join(dir, 'eval', 'report.json'), 'utf8')) as RobustnessReport;
  });
  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('harden eval writes report.html next to report.json; it renders its charts and image grid without errors or network', async () => {
    const page = await browser.context.newPage();
    const problems = watchPage(page);
    await page.goto(pathToFileURL(join(dir, 'eval', 'report.html')).href);
    const charts = await chartSummary(page);
    assert.deepEqual(charts.map((c) => c.id), ['eps', 'attacks', 'stages-autoattack', 'per-class']);
    for (const c of charts) {
      assert.ok(c.width > 300 && c.height > 150, `${c.id} is drawn at ${c.width}×${c.height}`);
      assert.ok(c.marks > 0, `${c.id} has marks`);
    }
    // The ε chart: FGSM and PGD-20 measured at ε × {0.25, 0.5, 0.75, 1} (plus clean at 0), CW and AutoAttack dashed.
    const sweep = [0.25, 0.5, 0.75, 1].map((f) => Math.round(EPS * f * 1e6) / 1e6);
    assert.deepEqual(report.eps_sweep?.map((s) => [s.name, s.points.map((p) => p.eps)]), [['fgsm', sweep], ['pgd-20', sweep]]);
    assert.equal(charts[0].lines, 4);
    const images = await page.evaluate(() => [...document.querySelectorAll('.example img')].map((img) => [(img as HTMLImageElement).complete, (img as HTMLImageElement).naturalWidth, img.getBoundingClientRect().width]));
    assert.equal(images.length, report.examples.length * 3);
    assert.equal(report.examples.length, 8);
    for (const [complete, natural, shown] of images) assert.ok(complete && natural === 28 && (shown as number) >= 80, `image ${natural}px shown at ${shown}px`);
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('every number on the page is the one in report.json', async () => {
    const page = await browser.context.newPage();
    await page.goto(pathToFileURL(join(dir, 'eval', 'report.html')).href);
    const dom = await readDom(page);
    assertDomMatchesReport(dom, report);
    const paths = new Set(dom.metrics.map((m) => m.path));
    const expected = [
      'clean_accuracy',
      'robust_accuracy',
      'eps',
      'dataset.n',
      'seed',
      ...report.attacks.map((_, i) => `attacks[${i}].robust_accuracy`),
      ...report.attacks[3].stages.map((_, j) => `attacks[3].stages[${j}].robust_accuracy`),
      ...report.per_class.flatMap((c, i) => (c.n ? [`per_class[${i}].clean_accuracy`, `per_class[${i}].robust_accuracy`, `per_class[${i}].n`] : [`per_class[${i}].n`])),
      ...report.eps_sweep!.flatMap((s, i) => s.points.map((_, j) => `eps_sweep[${i}].points[${j}].robust_accuracy`)),
    ];
    for (const p of expected) assert.ok(paths.has(p), `the page shows ${p}`);
    const headline = await page.evaluate(() => document.querySelector('.card.robust [data-metric="robust_accuracy"]')?.textContent);
    assert.equal(headline, formatMetric(report.robust_accuracy, 'percent'));
    const fields = new Set(dom.fields.map((f) => f.path));
    for (const f of ['model.sha256', 'model.uri', 'dataset.spec', 'dataset.split', 'environment.backend', 'environment.tfjs', 'environment.node', 'attacks[1].settings']) assert.ok(fields.has(f), `the page shows ${f}`);
    await page.close();
  });

  it("a Harden job's report shows its training curves (screenshot in test-artifacts/report.png)", async () => {
    const withTraining: RobustnessReport = { ...report, training: { job_id: 'local-run', method: 'standard', history } };
    const file = artifactPath('report.html');
    writeFileSync(file, renderReportHtml(withTraining));
    const page = await browser.context.newPage();
    const problems = watchPage(page);
    await page.goto(pathToFileURL(file).href);
    const charts = await chartSummary(page);
    const loss = charts.find((c) => c.id === 'training-loss');
    const accuracy = charts.find((c) => c.id === 'training-accuracy');
    assert.equal(loss?.marks, EPOCHS);
    assert.equal(accuracy?.marks, 2 * EPOCHS);
    assertDomMatchesReport(await readDom(page), withTraining);
    const png = artifactPath('report.png');
    await page.screenshot({ path: png, fullPage: true });
    assert.ok(readFileSync(png).byteLength > 50_000);
    if (UPDATE_DOCS) {
      const docs = new URL('../../docs/', import.meta.url).pathname;
      mkdirSync(docs, { recursive: true });
      copyFileSync(png, join(docs, 'report.png'));
    }
    assert.deepEqual(problems, []);
    await page.close();
  });

  it('strings from a report cannot run script in the browser', async () => {
    const evil = '<img src=x onerror="alert(1)">';
    const hostile = sampleReport({
      model: { uri: `"><script>alert(2)</script>`, sha256: evil, arch: evil, input_shape: [8, 8, 1], num_classes: 3 },
      dataset: { spec: evil, name: evil, split: 'test', n: 30, class_names: [evil, '"><svg onload=alert(3)>', "'><iframe src=javascript:alert(4)>"] },
      warnings: [{ id: evil, message: '<script>alert(5)</script>' }],
    });
    const file = artifactPath('report-hostile.html');
    writeFileSync(file, renderReportHtml(hostile));
    const page = await browser.context.newPage();
    const problems = watchPage(page);
    await page.goto(pathToFileURL(file).href);
    const injected = await page.evaluate(() => document.querySelectorAll('script, iframe, img[src="x"], svg[onload], [onerror]').length);
    assert.equal(injected, 0);
    const shown = await page.evaluate(() => document.querySelector('[data-field="dataset.class_names[0]"]')?.textContent);
    assert.equal(shown, evil);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
