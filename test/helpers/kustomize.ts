/**
 * Renders a kustomization with `kubectl kustomize` and returns its objects as JSON. kubectl has no
 * offline YAML→JSON output, but `kubectl label --local -o json <absent-label>-` prints every object
 * unchanged as JSON without contacting a cluster; the concatenated objects are split here.
 */
import { spawnSync } from 'node:child_process';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

/** Whether kubectl (with its built-in kustomize) is on the PATH. */
export function hasKubectl(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
}

/** Splits `{…}{…}` (pretty-printed JSON objects one after the other) into values. */
export function splitJsonStream(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' && depth++ === 0) start = i;
    else if (c === '}' && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return out;
}

/** The rendered YAML and the objects of the kustomization in `dir`. */
export function kustomize(dir: string): { yaml: string; objects: K8sObject[] } {
  const rendered = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if (rendered.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${rendered.stderr}`);
  const json = spawnSync('kubectl', ['label', '--local', '-f', '-', '-o', 'json', 'harden.io/absent-'], { input: rendered.stdout, encoding: 'utf8' });
  if (json.status !== 0) throw new Error(`converting ${dir} to JSON failed: ${json.stderr}`);
  return { yaml: rendered.stdout, objects: splitJsonStream(json.stdout) as K8sObject[] };
}
