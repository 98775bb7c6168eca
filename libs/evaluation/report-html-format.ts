/**
 * How report numbers are written in HTML, and the data attributes that tie each one to its field in
 * report.json: `data-metric` (a path such as `attacks[1].robust_accuracy`), `data-value` (the JSON
 * number, unrounded) and `data-format` (how the text shows it). A test reads them from the DOM and
 * checks each against report.json and `formatMetric`.
 */
import { escapeHtml } from './report-html-escape.js';

/**
 * - `percent`: a fraction in [0, 1] as a percentage with one decimal (`0.78125` → `78.1%`)
 * - `number`: four significant digits, trailing zeros dropped (`0.0313725` → `0.03137`)
 * - `int`: an integer count
 * - `seconds`: one decimal and `s`
 */
export type MetricFormat = 'percent' | 'number' | 'int' | 'seconds';

export function formatMetric(value: number, format: MetricFormat): string {
  if (!Number.isFinite(value)) return '–';
  switch (format) {
    case 'percent':
      return `${(value * 100).toFixed(1)}%`;
    case 'number':
      return String(Number(value.toPrecision(4)));
    case 'int':
      return String(Math.round(value));
    case 'seconds':
      return `${value.toFixed(1)} s`;
  }
}

/** ` data-metric="…" data-value="…"` (and ` data-format="…"` when the element's text shows the value). */
export function metricAttrs(path: string, value: number, format?: MetricFormat): string {
  return ` data-metric="${escapeHtml(path)}" data-value="${escapeHtml(String(value))}"${format ? ` data-format="${format}"` : ''}`;
}

/** `<span>` showing one report number with its data attributes. */
export function metricSpan(path: string, value: number, format: MetricFormat, className?: string): string {
  return `<span${className ? ` class="${escapeHtml(className)}"` : ''}${metricAttrs(path, value, format)}>${escapeHtml(formatMetric(value, format))}</span>`;
}
