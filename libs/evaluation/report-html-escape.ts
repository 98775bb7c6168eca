/**
 * Escaping for the HTML and SVG that reports and the dashboard write. Every string that comes from a
 * report, a job or a request (class names, URIs, messages, ids) goes through `escapeHtml` before it
 * reaches markup, in text and in double-quoted attribute values alike, so a report is never an XSS
 * vector.
 */
const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside an element or a double- or single-quoted attribute value. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

