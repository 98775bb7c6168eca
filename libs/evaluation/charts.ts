/**
 * A small chart module for reports: line and grouped bar charts as inline SVG strings, with no
 * script and no network. Each returns a `<figure>` with its title as the caption, axes with round
 * ticks, a legend, and a `<title>` tooltip on every mark. A mark that shows a report number carries
 * that number's `data-metric` path (see report-html-format.ts), so tests can read charts from the DOM.
 *
 * Coordinates are SVG user units (px at 100% zoom); the SVG scales to its container's width.
 */
import { escapeHtml } from './report-html-escape.js';
import { formatMetric, metricAttrs, type MetricFormat } from './report-html-format.js';

/** Series colours, in order: blue, red, green, purple, orange, teal, grey (readable on white). */
export const PALETTE: readonly string[] = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];

export interface ChartAxis {
  label: string;
  /** Domain shown; @default from the data, widened to round ticks (and to include 0 for bars) */
  domain?: readonly [number, number];
  /** How tick labels (and values on marks) are written. @default 'number' */
  format?: MetricFormat;
}

export interface LinePoint {
  x: number;
  y: number;
  /** report.json path of `y` (`data-metric`), where the point is a report number. */
  metric?: string;
  /** report.json path of `x` (`data-x-metric`). */
  xMetric?: string;
}

export interface LineSeries {
  name: string;
  points: readonly LinePoint[];
  /** @default the palette colour of the series' index */
  color?: string;
  /** Draws the line dashed (e.g. a reference series). @default false */
  dashed?: boolean;
}

export interface LineChartOptions {
  /** Identifies the chart in the DOM (`data-chart`). */
  id: string;
  title: string;
  x: ChartAxis;
  y: ChartAxis;
  series: readonly LineSeries[];
  /** @default 560 */
  width?: number;
  /** @default 300 */
  height?: number;
}

export interface Bar {
  series: string;
  value: number;
  /** report.json path of the value (`data-metric`). */
  metric?: string;
}

export interface BarGroup {
  label: string;
  bars: readonly Bar[];
}

export interface BarChartOptions {
  id: string;
  title: string;
  y: ChartAxis;
  /** Legend order; a bar's colour is that of its series here. */
  series: ReadonlyArray<{ name: string; color?: string }>;
  groups: readonly BarGroup[];
  /** Writes each bar's value above it when bars are wide enough. @default true */
  valueLabels?: boolean;
  /** @default 560 */
  width?: number;
  /** @default 300 */
  height?: number;
}

const MARGIN = { top: 30, right: 16, bottom: 46, left: 56 };

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  const start = Math.ceil(lo / step - 1e-9);
  for (let i = start; i * step <= hi + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** The data's extent widened outward to round ticks. */
function niceDomain(values: readonly number[], includeZero: boolean): [number, number] {
  const finite = values.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (lo === hi) hi = lo + (lo === 0 ? 1 : Math.abs(lo));
  const ticks = niceTicks(lo, hi);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : hi - lo;
  return [Math.min(lo, Math.floor(lo / step) * step), Math.max(hi, Math.ceil(hi / step - 1e-9) * step)];
}

function scale(domain: readonly [number, number], range: readonly [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (v) => r0 + ((Math.min(d1, Math.max(d0, v)) - d0) / span) * (r1 - r0);
}

const fmt = (v: number) => Number(v.toFixed(2)).toString();

/** A legend row of colour swatches and names, laid out left to right (≈ 6.5 px per character). */
function legend(items: ReadonlyArray<{ name: string; color: string }>, x0: number, y: number): string {
  let x = x0;
  const parts: string[] = [];
  for (const item of items) {
    parts.push(
      `<g class="legend-item"><rect x="${fmt(x)}" y="${fmt(y - 9)}" width="10" height="10" rx="2" fill="${escapeHtml(item.color)}"/>` +
        `<text x="${fmt(x + 14)}" y="${fmt(y)}">${escapeHtml(item.name)}</text></g>`,
    );
    x += 14 + item.name.length * 6.5 + 16;
  }
  return `<g class="legend">${parts.join('')}</g>`;
}

function yAxis(ticks: readonly number[], y: (v: number) => number, format: MetricFormat, left: number, right: number, label: string, plotTop: number, plotBottom: number): string {
  const lines = ticks
    .map((t) => `<line class="grid" x1="${left}" x2="${right}" y1="${fmt(y(t))}" y2="${fmt(y(t))}"/><text class="tick" x="${left - 6}" y="${fmt(y(t) + 4)}" text-anchor="end">${escapeHtml(formatMetric(t, format === 'percent' ? 'percent' : 'number').replace('.0%', '%'))}</text>`)
    .join('');
  const mid = (plotTop + plotBottom) / 2;
  return `<g class="axis y">${lines}<text class="axis-label" transform="translate(14 ${fmt(mid)}) rotate(-90)" text-anchor="middle">${escapeHtml(label)}</text></g>`;
}

function frame(id: string, title: string, width: number, height: number, body: string): string {
  return (
    `<figure class="chart" data-chart="${escapeHtml(id)}"><figcaption>${escapeHtml(title)}</figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">${body}</svg></figure>`
  );
}

export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 300;
  const xFormat = options.x.format ?? 'number';
  const yFormat = options.y.format ?? 'number';
  const all = options.series.flatMap((s) => s.points);
  const xDomain = options.x.domain ?? niceDomain(all.map((p) => p.x), false);
  const yDomain = options.y.domain ?? niceDomain(all.map((p) => p.y), true);
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom;
  const x = scale(xDomain, [left, right]);
  const y = scale(yDomain, [bottom, top]);

  const xTicks = niceTicks(xDomain[0], xDomain[1], 6);
  const xAxis = xTicks
    .map((t) => `<line class="tick-mark" x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${bottom}" y2="${bottom + 4}"/><text class="tick" x="${fmt(x(t))}" y="${bottom + 16}" text-anchor="middle">${escapeHtml(formatMetric(t, xFormat))}</text>`)
    .join('');
  const colors = options.series.map((s, i) => s.color ?? PALETTE[i % PALETTE.length]);
  const series = options.series
    .map((s, i) => {
      const points = [...s.points].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
      const path = points.map((p) => `${fmt(x(p.x))},${fmt(y(p.y))}`).join(' ');
      const marks = points
        .map(
          (p) =>
            `<circle cx="${fmt(x(p.x))}" cy="${fmt(y(p.y))}" r="4" fill="${escapeHtml(colors[i])}"${p.metric ? metricAttrs(p.metric, p.y) : ''}` +
            `${p.xMetric ? ` data-x-metric="${escapeHtml(p.xMetric)}" data-x="${escapeHtml(String(p.x))}"` : ''}>` +
            `<title>${escapeHtml(`${s.name}: ${options.y.label} ${formatMetric(p.y, yFormat)} at ${options.x.label} ${formatMetric(p.x, xFormat)}`)}</title></circle>`,
        )
        .join('');
      return (
        `<g class="series" data-series="${escapeHtml(s.name)}">` +
        `<polyline points="${path}" fill="none" stroke="${escapeHtml(colors[i])}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>${marks}</g>`
      );
    })
    .join('');
  const body =
    legend(options.series.map((s, i) => ({ name: s.name, color: colors[i] })), left, 16) +
    yAxis(niceTicks(yDomain[0], yDomain[1], 5), y, yFormat, left, right, options.y.label, top, bottom) +
    `<g class="axis x"><line class="axis-line" x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}"/>${xAxis}` +
    `<text class="axis-label" x="${fmt((left + right) / 2)}" y="${height - 8}" text-anchor="middle">${escapeHtml(options.x.label)}</text></g>` +
    series;
  return frame(options.id, options.title, width, height, body);
}

export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 560;
  const height = options.height ?? 300;
  const yFormat = options.y.format ?? 'number';
  const values = options.groups.flatMap((g) => g.bars.map((b) => b.value));
  const yDomain = options.y.domain ?? niceDomain(values, true);
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom;
  const y = scale(yDomain, [bottom, top]);
  const colors = new Map(options.series.map((s, i) => [s.name, s.color ?? PALETTE[i % PALETTE.length]]));
  const band = (right - left) / Math.max(1, options.groups.length);
  const perGroup = Math.max(1, ...options.groups.map((g) => g.bars.length));
  const barWidth = Math.min(48, (band * 0.8) / perGroup);
  const showValues = (options.valueLabels ?? true) && barWidth >= 30;
  const groups = options.groups
    .map((g, gi) => {
      const start = left + gi * band + (band - barWidth * g.bars.length) / 2;
      const bars = g.bars
        .map((b, bi) => {
          const bx = start + bi * barWidth;
          const by = y(Math.max(0, b.value));
          const base = y(Math.max(yDomain[0], 0));
          const color = colors.get(b.series) ?? PALETTE[bi % PALETTE.length];
          const label = showValues
            ? `<text class="value" x="${fmt(bx + barWidth / 2)}" y="${fmt(by - 4)}" text-anchor="middle"${b.metric ? metricAttrs(b.metric, b.value, yFormat) : ''}>${escapeHtml(formatMetric(b.value, yFormat))}</text>`
            : '';
          return (
            `<rect x="${fmt(bx + 1)}" y="${fmt(Math.min(by, base))}" width="${fmt(Math.max(1, barWidth - 2))}" height="${fmt(Math.abs(base - by))}" fill="${escapeHtml(color)}"` +
            `${b.metric ? metricAttrs(b.metric, b.value) : ''} data-series="${escapeHtml(b.series)}"><title>${escapeHtml(`${g.label} · ${b.series}: ${formatMetric(b.value, yFormat)}`)}</title></rect>${label}`
          );
        })
        .join('');
      const cx = left + gi * band + band / 2;
      return `<g class="group" data-group="${escapeHtml(g.label)}">${bars}<text class="tick" x="${fmt(cx)}" y="${bottom + 16}" text-anchor="middle">${escapeHtml(g.label)}</text></g>`;
    })
    .join('');
  const body =
    legend(options.series.map((s) => ({ name: s.name, color: colors.get(s.name)! })), left, 16) +
    yAxis(niceTicks(yDomain[0], yDomain[1], 5), y, yFormat, left, right, options.y.label, top, bottom) +
    `<g class="axis x"><line class="axis-line" x1="${left}" x2="${right}" y1="${fmt(y(Math.max(yDomain[0], 0)))}" y2="${fmt(y(Math.max(yDomain[0], 0)))}"/></g>` +
    groups;
  return frame(options.id, options.title, width, height, body);
}
