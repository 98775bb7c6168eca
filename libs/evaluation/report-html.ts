/**
 * `report.html`: a robustness report as one self-contained page for people. Inline CSS, inline SVG
 * charts (charts.ts), images as PNG data URIs (report-html-images.ts); no script, and a Content
 * Security Policy that allows none and no network, so the file opens anywhere, offline, and a
 * report's strings (class names, URIs, warnings) cannot run code: every one is escaped.
 *
 * Every number on the page comes from the report and carries its report.json path
 * (`data-metric`, see report-html-format.ts); strings carry theirs as `data-field`.
 */
import type { ArtifactStore } from '../storage/index.js';
import { barChart, lineChart, PALETTE, type LineSeries } from './charts.js';
import { escapeHtml } from './report-html-escape.js';
import { metricAttrs, metricSpan } from './report-html-format.js';
import { decodeImage, imageDataUri, maxAbsDifference, perturbationDataUri } from './report-html-images.js';
import type { AttackRow, RobustnessReport } from './report.js';

export const REPORT_HTML = 'report.html';

/** The policy of a report page: inline styles and data: images only. Also sent as a header where a server serves reports. */
export const REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

export interface RenderReportOptions {
  /** Navigation links shown above the title (e.g. the dashboard's job and report list). Relative URLs. */
  links?: ReadonlyArray<{ href: string; label: string }>;
}

const CLEAN_COLOR = PALETTE[0];
const ROBUST_COLOR = PALETTE[1];

const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
nav{font-size:13px;margin-bottom:8px}nav a{color:#2563eb;margin-right:14px;text-decoration:none}
h1{font-size:22px;margin:0 0 2px}h2{font-size:16px;margin:0 0 10px}
.sub{color:#4b5563;margin:0 0 16px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:16px 18px;margin:0 0 16px}
.headline{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:14px;align-items:end}
.card .label{color:#4b5563;font-size:13px}.card .big{font-size:34px;font-weight:650;line-height:1.15}
.card.clean .big{color:${CLEAN_COLOR}}.card.robust .big{color:${ROBUST_COLOR}}
.meter{display:block;width:100%;height:8px;margin-top:6px}
.verdict{grid-column:1/-1;margin:4px 0 0;color:#374151}
.warnings{border-color:#f59e0b;background:#fffbeb}.warnings li{margin:2px 0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{color:#4b5563;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right}
code,.mono{font-family:"DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:16px}
.chart{margin:0}.chart figcaption{font-weight:600;margin-bottom:4px}
.chart svg{width:100%;height:auto;display:block}
.chart text{font-size:11px;fill:#374151}.chart .axis-label{font-size:12px;fill:#4b5563}
.chart .grid{stroke:#e5e7eb}.chart .axis-line,.chart .tick-mark{stroke:#9ca3af}
.chart .value{font-size:10px;fill:#111827}
.note{color:#6b7280;font-size:12px;margin:6px 0 0}
.examples{display:grid;grid-template-columns:repeat(auto-fill,minmax(290px,1fr));gap:12px}
.example{margin:0;border:1px solid #e5e7eb;border-radius:8px;padding:8px}
.triplet{display:flex;gap:6px}.triplet div{text-align:center;font-size:11px;color:#6b7280}
.triplet img{display:block;width:84px;height:84px;image-rendering:pixelated;border:1px solid #d1d5db;background:#fff}
.example figcaption{font-size:12px;margin-top:6px;line-height:1.6}
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}
.missing{width:84px;height:84px;display:flex;align-items:center;justify-content:center;border:1px dashed #d1d5db}
.legend-scale{display:inline-block;width:90px;height:9px;vertical-align:middle;background:linear-gradient(90deg,#2563eb,#fff,#dc2626);border:1px solid #d1d5db}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:#4b5563}dd{margin:0}
`;

const NORM_SYMBOL: Readonly<Record<string, string>> = { Linf: 'L∞', L2: 'L2' };
const normName = (norm: unknown) => NORM_SYMBOL[String(norm)] ?? String(norm);

/** `<span data-field>`: a report string, escaped. */
function field(path: string, value: unknown, className?: string): string {
  return `<span${className ? ` class="${className}"` : ''} data-field="${escapeHtml(path)}">${escapeHtml(value ?? '')}</span>`;
}

function className(report: RobustnessReport, c: number): string {
  return report.dataset?.class_names?.[c] ?? String(c);
}

function meter(value: number, color: string): string {
  const w = Math.max(0, Math.min(1, Number.isFinite(value) ? value : 0)) * 100;
  return `<svg class="meter" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true"><rect width="100" height="8" rx="4" fill="#e5e7eb"/><rect width="${w.toFixed(2)}" height="8" rx="4" fill="${color}"/></svg>`;
}

function headline(report: RobustnessReport): string {
  const names = report.attacks.map((a, i) => field(`attacks[${i}].name`, a.name, 'mono'));
  const list = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : (names[0] ?? 'no attack');
  return `<section class="headline" aria-label="headline">
<div class="card clean"><div class="label">Clean accuracy</div><div class="big">${metricSpan('clean_accuracy', report.clean_accuracy, 'percent')}</div>${meter(report.clean_accuracy, CLEAN_COLOR)}</div>
<div class="card robust"><div class="label">Worst-case robust accuracy</div><div class="big">${metricSpan('robust_accuracy', report.robust_accuracy, 'percent')}</div>${meter(report.robust_accuracy, ROBUST_COLOR)}</div>
<div class="card"><div class="label">Threat model</div><div class="big">ε = ${metricSpan('eps', report.eps, 'number')}</div><div class="label">${escapeHtml(normName(report.norm))} ball, inputs in [0, 1]</div></div>
<div class="card"><div class="label">Images evaluated</div><div class="big">${metricSpan('dataset.n', report.dataset.n, 'int')}</div><div class="label">${field('dataset.name', report.dataset.name)} · ${field('dataset.split', report.dataset.split)} split</div></div>
<p class="verdict">Without attack the model classifies ${metricSpan('clean_accuracy', report.clean_accuracy, 'percent')} of the images correctly. When each image meets the strongest of ${list} (per image, at ε = ${metricSpan('eps', report.eps, 'number')}, ${escapeHtml(normName(report.norm))}), ${metricSpan('robust_accuracy', report.robust_accuracy, 'percent')} stay correct.</p>
</section>`;
}

function warningsSection(report: RobustnessReport): string {
  const warnings = report.warnings ?? [];
  if (warnings.length === 0) return '';
  const items = warnings.map((w, i) => `<li><code>${field(`warnings[${i}].id`, w.id)}</code>: ${field(`warnings[${i}].message`, w.message)}</li>`).join('');
  return `<section class="warnings" data-section="warnings"><h2>Sanity-check warnings</h2><ul>${items}</ul><p class="note">These can mean the numbers above overstate robustness (e.g. masked gradients); see libs/attacks/CHECKS.md.</p></section>`;
}

function attacksTable(report: RobustnessReport): string {
  const rows = report.attacks
    .map(
      (a, i) =>
        `<tr data-attack="${escapeHtml(a.name)}"><td>${field(`attacks[${i}].name`, a.name, 'mono')}</td><td class="num">${metricSpan(`attacks[${i}].eps`, a.eps, 'number')}</td>` +
        `<td>${field(`attacks[${i}].norm`, a.norm)}</td><td class="num">${metricSpan(`attacks[${i}].robust_accuracy`, a.robust_accuracy, 'percent')}</td>` +
        `<td class="num">${metricSpan(`attacks[${i}].max_perturbation`, a.max_perturbation, 'number')}</td><td class="num">${metricSpan(`attacks[${i}].seconds`, a.seconds, 'seconds')}</td></tr>`,
    )
    .join('');
  return `<section data-section="attacks"><h2>Attacks</h2><table><thead><tr><th>attack</th><th class="num">ε</th><th>norm</th><th class="num">robust accuracy</th><th class="num">max ‖x′ − x‖</th><th class="num">time</th></tr></thead>
<tbody><tr><td>clean (no attack)</td><td class="num">–</td><td>–</td><td class="num">${metricSpan('clean_accuracy', report.clean_accuracy, 'percent')}</td><td class="num">–</td><td class="num">–</td></tr>${rows}
<tr class="worst"><td><b>worst case per image</b></td><td class="num">${metricSpan('eps', report.eps, 'number')}</td><td>${field('norm', report.norm)}</td><td class="num"><b>${metricSpan('robust_accuracy', report.robust_accuracy, 'percent')}</b></td><td class="num">–</td><td class="num">${metricSpan('seconds', report.seconds, 'seconds')}</td></tr></tbody></table></section>`;
}

/** Robust accuracy against ε: the sweep's rows as measured, other rows as a dashed line from ε = 0 (clean) to ε. */
function epsChart(report: RobustnessReport): string {
  const clean = { x: 0, y: report.clean_accuracy, metric: 'clean_accuracy' };
  const series: LineSeries[] = [];
  const sweep = report.eps_sweep ?? [];
  sweep.forEach((row, i) => {
    series.push({
      name: row.name,
      points: [clean, ...row.points.map((p, j) => ({ x: p.eps, y: p.robust_accuracy, metric: `eps_sweep[${i}].points[${j}].robust_accuracy`, xMetric: `eps_sweep[${i}].points[${j}].eps` }))],
    });
  });
  report.attacks.forEach((a, i) => {
    if (sweep.some((row) => row.name === a.name)) return;
    series.push({ name: a.name, dashed: true, points: [clean, { x: a.eps, y: a.robust_accuracy, metric: `attacks[${i}].robust_accuracy`, xMetric: `attacks[${i}].eps` }] });
  });
  const maxEps = Math.max(report.eps, ...series.flatMap((s) => s.points.map((p) => p.x)));
  const chart = lineChart({
    id: 'eps',
    title: 'Robust accuracy against ε',
    x: { label: `ε (${normName(report.norm)})`, domain: [0, maxEps], format: 'number' },
    y: { label: 'robust accuracy', domain: [0, 1], format: 'percent' },
    series,
  });
  const note = sweep.length
    ? 'ε = 0 is clean accuracy. Solid lines: measured at each marked ε; dashed: measured at the report’s ε only.'
    : 'ε = 0 is clean accuracy; each attack was measured at the report’s ε only (run the standard suite, or evaluate with sweep, for the curve).';
  return `<div>${chart}<p class="note">${note}</p></div>`;
}

/** Clean, each attack row, and the per-image worst case. */
function byAttackChart(report: RobustnessReport): string {
  return `<div>${barChart({
    id: 'attacks',
    title: 'Robust accuracy by attack',
    y: { label: 'accuracy', domain: [0, 1], format: 'percent' },
    series: [{ name: 'clean', color: CLEAN_COLOR }, { name: 'under attack', color: PALETTE[4] }, { name: 'worst case', color: ROBUST_COLOR }],
    groups: [
      { label: 'clean', bars: [{ series: 'clean', value: report.clean_accuracy, metric: 'clean_accuracy' }] },
      ...report.attacks.map((a, i) => ({ label: a.name, bars: [{ series: 'under attack', value: a.robust_accuracy, metric: `attacks[${i}].robust_accuracy` }] })),
      { label: 'worst case', bars: [{ series: 'worst case', value: report.robust_accuracy, metric: 'robust_accuracy' }] },
    ],
  })}<p class="note">Each attack runs on every image; the worst case counts an image as robust only when every attack fails on it.</p></div>`;
}

/** A composed attack (AutoAttack): robust accuracy after each stage, clean first. */
function stagesChart(row: AttackRow, i: number): string {
  return `<div>${barChart({
    id: `stages-${row.name}`,
    title: `${row.name}: robust accuracy after each stage`,
    y: { label: 'robust accuracy', domain: [0, 1], format: 'percent' },
    series: [{ name: 'robust after stage', color: PALETTE[3] }],
    groups: row.stages.map((s, j) => ({ label: s.name, bars: [{ series: 'robust after stage', value: s.robust_accuracy, metric: `attacks[${i}].stages[${j}].robust_accuracy` }] })),
  })}<p class="note">Each stage attacks only the images still robust after the stages before it.</p></div>`;
}

function chartsSection(report: RobustnessReport): string {
  const stages = report.attacks.map((a, i) => (Array.isArray(a.stages) && a.stages.length > 2 ? stagesChart(a, i) : '')).join('');
  return `<section data-section="charts"><h2>Robustness</h2><div class="charts">${epsChart(report)}${byAttackChart(report)}${stages}</div></section>`;
}

function perClassSection(report: RobustnessReport): string {
  const rows = report.per_class ?? [];
  if (rows.length === 0) return '';
  const chart = barChart({
    id: 'per-class',
    title: 'Accuracy per class',
    y: { label: 'accuracy', domain: [0, 1], format: 'percent' },
    series: [{ name: 'clean', color: CLEAN_COLOR }, { name: 'robust (worst case)', color: ROBUST_COLOR }],
    // A class without images has no accuracy to draw (its row says so).
    groups: rows.map((r, i) => ({
      label: r.name,
      bars: r.n === 0 ? [] : [
        { series: 'clean', value: r.clean_accuracy, metric: `per_class[${i}].clean_accuracy` },
        { series: 'robust (worst case)', value: r.robust_accuracy, metric: `per_class[${i}].robust_accuracy` },
      ],
    })),
    valueLabels: rows.length <= 6,
    width: 620,
  });
  const table = rows
    .map(
      (r, i) =>
        `<tr><td>${field(`per_class[${i}].name`, r.name)}</td><td class="num">${metricSpan(`per_class[${i}].n`, r.n, 'int')}</td>` +
        (r.n === 0
          ? '<td class="num" title="no images of this class">–</td><td class="num" title="no images of this class">–</td></tr>'
          : `<td class="num">${metricSpan(`per_class[${i}].clean_accuracy`, r.clean_accuracy, 'percent')}</td><td class="num">${metricSpan(`per_class[${i}].robust_accuracy`, r.robust_accuracy, 'percent')}</td></tr>`),
    )
    .join('');
  return `<section data-section="per-class"><h2>Per class</h2><div class="charts">${chart}<table><thead><tr><th>class</th><th class="num">images</th><th class="num">clean</th><th class="num">robust</th></tr></thead><tbody>${table}</tbody></table></div></section>`;
}

function examplesSection(report: RobustnessReport): string {
  const examples = report.examples ?? [];
  if (examples.length === 0) return '';
  const missing = '<div class="missing">n/a</div>';
  const cards = examples
    .map((e, i) => {
      const clean = decodeImage(e.clean_image, e.shape);
      const adv = decodeImage(e.adversarial_image, e.shape);
      const row = report.attacks.find((a) => a.name === e.attack);
      const eps = row?.eps ?? report.eps;
      let cleanImg = missing;
      let advImg = missing;
      let heat = missing;
      if (clean) cleanImg = `<img alt="clean image" src="${imageDataUri(clean.pixels, clean.height, clean.width, clean.channels)}">`;
      if (adv) advImg = `<img alt="adversarial image" src="${imageDataUri(adv.pixels, adv.height, adv.width, adv.channels)}">`;
      if (clean && adv) {
        const scale = (row?.norm ?? report.norm) === 'Linf' ? eps : maxAbsDifference(clean.pixels, adv.pixels);
        heat = `<img alt="perturbation heat map" src="${perturbationDataUri(clean.pixels, adv.pixels, clean.height, clean.width, clean.channels, scale)}">`;
      }
      const verdict = (pred: number) => (pred === e.label ? 'ok' : 'bad');
      const label = (path: string, c: number) => `<span class="${verdict(c)}"${metricAttrs(path, c)}>${escapeHtml(className(report, c))}</span>`;
      return (
        `<figure class="example" data-example="${i}"><div class="triplet"><div>${cleanImg}clean</div><div>${advImg}adversarial</div><div>${heat}x′ − x</div></div>` +
        `<figcaption>true: <b${metricAttrs(`examples[${i}].label`, e.label)}>${escapeHtml(className(report, e.label))}</b> · clean → ${label(`examples[${i}].clean_prediction`, e.clean_prediction)}` +
        ` · ${field(`examples[${i}].attack`, e.attack, 'mono')} → ${label(`examples[${i}].adversarial_prediction`, e.adversarial_prediction)}</figcaption></figure>`
      );
    })
    .join('');
  return `<section data-section="examples"><h2>Examples</h2><div class="examples">${cards}</div>
<p class="note">Each adversarial image is from the first attack that fooled the model on it (else the last attack run). Heat map: <span class="legend-scale"></span> x′ − x per pixel (channel mean), blue −ε to red +ε for L∞ (± the largest change for L2). Green: correct; red: wrong.</p></section>`;
}

function trainingSection(report: RobustnessReport): string {
  const history = report.training?.history ?? [];
  if (history.length === 0) return '';
  const at = (key: 'loss' | 'clean_accuracy' | 'robust_accuracy') =>
    history.map((p, j) => ({ x: p.epoch, y: p[key], metric: `training.history[${j}].${key}`, xMetric: `training.history[${j}].epoch` }));
  const maxEpoch = Math.max(1, ...history.map((p) => p.epoch));
  const loss = lineChart({
    id: 'training-loss',
    title: 'Training loss',
    x: { label: 'epoch', domain: [Math.min(0, ...history.map((p) => p.epoch)), maxEpoch], format: 'int' },
    y: { label: 'loss', format: 'number' },
    series: [{ name: 'training loss', points: at('loss'), color: PALETTE[6] }],
  });
  const accuracy = lineChart({
    id: 'training-accuracy',
    title: 'Held-out accuracy during training',
    x: { label: 'epoch', domain: [Math.min(0, ...history.map((p) => p.epoch)), maxEpoch], format: 'int' },
    y: { label: 'accuracy', domain: [0, 1], format: 'percent' },
    series: [
      { name: 'clean', points: at('clean_accuracy'), color: CLEAN_COLOR },
      { name: 'robust', points: at('robust_accuracy'), color: ROBUST_COLOR },
    ],
  });
  const t = report.training!;
  const about = [t.method ? `method ${field('training.method', t.method, 'mono')}` : '', t.job_id ? `job ${field('training.job_id', t.job_id, 'mono')}` : ''].filter(Boolean).join(' · ');
  return `<section data-section="training"><h2>Training</h2>${about ? `<p class="sub">${about}</p>` : ''}<div class="charts">${loss}${accuracy}</div>
<p class="note">Per epoch: mean training loss, and the trainer's clean and robust accuracy on images held out of the training split (a quicker attack than this report's). They pick the best checkpoint; this report's test images chose nothing.</p></section>`;
}

function reproducibility(report: RobustnessReport): string {
  const env = report.environment;
  const shape = (report.model.input_shape ?? []).map((v, i) => metricSpan(`model.input_shape[${i}]`, v, 'int')).join('×');
  const settings = report.attacks
    .map((a, i) => `<div>${field(`attacks[${i}].name`, a.name, 'mono')}: <code data-field="attacks[${i}].settings">${escapeHtml(JSON.stringify(a.settings ?? {}))}</code></div>`)
    .join('');
  const command =
    `harden eval --model ${field('model.uri', report.model.uri)} --dataset ${field('dataset.spec', report.dataset.spec)} --split ${field('dataset.split', report.dataset.split)}` +
    ` --limit ${metricSpan('dataset.n', report.dataset.n, 'int')} --suite ${field('suite', report.suite)} --eps ${metricSpan('eps', report.eps, 'number')} --seed ${metricSpan('seed', report.seed, 'int')}`;
  const rows: Array<[string, string]> = [
    ['report', `${field('id', report.id, 'mono')} · ${field('created_at', report.created_at)} · ${metricSpan('seconds', report.seconds, 'seconds')}`],
    ['model', `${field('model.uri', report.model.uri, 'mono')}`],
    ['model sha256', field('model.sha256', report.model.sha256, 'mono')],
    ['architecture', `${report.model.arch === null ? 'unknown' : field('model.arch', report.model.arch)} · input ${shape} · ${metricSpan('model.num_classes', report.model.num_classes, 'int')} classes`],
    ['data set', `${field('dataset.spec', report.dataset.spec, 'mono')} (${field('dataset.name', report.dataset.name)}), ${field('dataset.split', report.dataset.split)} split, ${metricSpan('dataset.n', report.dataset.n, 'int')} images`],
    ['classes', (report.dataset.class_names ?? []).map((c, i) => field(`dataset.class_names[${i}]`, c)).join(', ')],
    ['protocol', `suite ${field('suite', report.suite)} · ε ${metricSpan('eps', report.eps, 'number')} (${field('norm', report.norm)}) · seed ${metricSpan('seed', report.seed, 'int')}`],
    ['attack settings', settings],
    [
      'environment',
      `backend ${field('environment.backend', env.backend)} (${field('environment.device', env.device)}) · ${metricSpan('environment.workers', env.workers, 'int')} worker(s) · ` +
        `harden ${field('environment.harden', env.harden)} · tfjs ${field('environment.tfjs', env.tfjs)} · node ${field('environment.node', env.node)}`,
    ],
    ['reproduce', `<code>${command}</code>`],
  ];
  return `<section data-section="reproducibility"><h2>Reproducibility</h2><dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl></section>`;
}

/** The whole report page. Pure: the same report gives the same bytes. */
export function renderReportHtml(report: RobustnessReport, options: RenderReportOptions = {}): string {
  const title = `Robustness report: ${report.model.arch ?? 'model'} on ${report.dataset.name} (${report.suite} suite)`;
  const nav = options.links?.length ? `<nav>${options.links.map((l) => `<a href="${escapeHtml(l.href)}">${escapeHtml(l.label)}</a>`).join('')}</nav>` : '';
  const sub =
    `${report.model.arch === null ? 'model' : field('model.arch', report.model.arch, 'mono')} · ${field('dataset.spec', report.dataset.spec, 'mono')} ${field('dataset.split', report.dataset.split)} · ` +
    `${field('suite', report.suite)} suite · ${field('created_at', report.created_at)}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(REPORT_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main data-report-id="${escapeHtml(report.id)}">
${nav}<h1>Robustness report</h1>
<p class="sub">${sub}</p>
${headline(report)}
${warningsSection(report)}
${attacksTable(report)}
${chartsSection(report)}
${perClassSection(report)}
${examplesSection(report)}
${trainingSection(report)}
${reproducibility(report)}
</main>
</body>
</html>
`;
}

/** Writes `report.html` for `report` into `store` (next to report.json); returns its URI. */
export async function writeReportHtml(store: ArtifactStore, report: RobustnessReport, key = REPORT_HTML): Promise<string> {
  await store.put(key, new TextEncoder().encode(renderReportHtml(report)));
  return `${store.uri}/${key}`;
}

