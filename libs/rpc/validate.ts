/**
 * Request checks shared by the services, run before any work starts. Each failure is an
 * INVALID_ARGUMENT `RequestError` whose message starts with the request field (proto name); a model
 * URI that names nothing is NOT_FOUND. Zero values of optional fields mean "the default".
 */
import { parseDatasetSpec, type DatasetSpec } from '../data/index.js';
import { ModelError } from '../models/errors.js';
import { checkOnnxModel } from '../models/onnx/onnx-import.js';
import { isOnnxUri, splitFileUri } from '../models/onnx/onnx-uri.js';
import { openStore, parseStoreUri, StorageError } from '../storage/index.js';
import { invalidField, RequestError } from './errors.js';
import { folderLocation, OPEN_LOCATIONS, type LocationPolicy } from './locations.js';

/** Longest URI or data set spec accepted. */
export const MAX_URI_LENGTH = 2048;

/** An idempotency key: empty → undefined; else 1–128 of `[A-Za-z0-9._:-]`. */
export function requestId(value: string, field = 'request_id'): string | undefined {
  if (value === '') return undefined;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(value)) throw invalidField(field, 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"');
  return value;
}

/** An id naming a job or report. */
export function resourceId(value: string, field: string): string {
  if (value === '') throw invalidField(field, 'is required');
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(value)) throw invalidField(field, 'is not a valid id');
  return value;
}

/** A field holding a JSON object as text: '' → `{}`; anything but a JSON object is INVALID_ARGUMENT. */
export function jsonObjectField(field: string, json: string): Record<string, unknown> {
  if (!json) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw invalidField(field, 'not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidField(field, 'must be a JSON object');
  return value as Record<string, unknown>;
}

/** A uint32 count: 0 → `fallback`; above `max` is INVALID_ARGUMENT. */
export function count(field: string, value: number, fallback: number, max: number): number {
  if (value === 0) return fallback;
  if (value > max) throw invalidField(field, `at most ${max}; got ${value}`);
  return value;
}

/** A real number in (0, max]: 0 → `fallback`; negative, NaN, infinite or above `max` is INVALID_ARGUMENT. */
export function positiveNumber(field: string, value: number, fallback: number, max: number): number {
  if (value === 0) return fallback;
  if (!Number.isFinite(value) || value < 0 || value > max) throw invalidField(field, `must be in (0, ${max}]; got ${value}`);
  return value;
}

/** One of `names`: '' → `fallback`. */
export function choice<T extends string>(field: string, value: string, names: readonly T[], fallback: T): T {
  if (value === '') return fallback;
  if (!(names as readonly string[]).includes(value)) throw invalidField(field, `unknown value "${value.slice(0, 64)}"; expected one of ${names.join(', ')}`);
  return value as T;
}

/**
 * A data set spec (`mnist`, `cifar10:DIR`, …), required. A folder the request names must be one
 * `locations` allows; a folder the server picks (fashion-mnist's default) needs no check.
 */
export function datasetSpec(value: string, field = 'dataset', locations: LocationPolicy = OPEN_LOCATIONS): { text: string; spec: DatasetSpec } {
  if (value === '') throw invalidField(field, 'is required (mnist, fashion-mnist[:DIR], idx:DIR, cifar10:DIR, cifar100:DIR, tiny-imagenet:DIR, folder:DIR)');
  if (value.length > MAX_URI_LENGTH) throw invalidField(field, `longer than ${MAX_URI_LENGTH} characters`);
  let spec: DatasetSpec;
  try {
    spec = parseDatasetSpec(value);
  } catch (error) {
    throw invalidField(field, (error as Error).message);
  }
  if (spec.dir !== undefined && value.includes(':')) locations.check(field, /^[a-z][a-z0-9+.-]*:\/\//i.test(spec.dir) ? parseStoreUri(spec.dir) : folderLocation(spec.dir));
  return { text: value, spec };
}

/**
 * A model URI: a folder (the folder holding model.json; a trailing `/model.json` is dropped) or an
 * ONNX file (`….onnx`, see `onnxModelUri`), checked
 * to parse, to be a location `locations` allows, and to hold a model.json: malformed →
 * INVALID_ARGUMENT, not allowed → PERMISSION_DENIED (before anything is read), nothing there →
 * NOT_FOUND.
 */
export async function modelUri(value: string, field = 'model_uri', locations: LocationPolicy = OPEN_LOCATIONS): Promise<string> {
  if (value === '') throw invalidField(field, 'is required (a store folder holding model.json, e.g. file:///srv/models/m1, or an .onnx file)');
  if (value.length > MAX_URI_LENGTH) throw invalidField(field, `longer than ${MAX_URI_LENGTH} characters`);
  if (isOnnxUri(value)) return onnxModelUri(value, field, locations);
  const uri = value.replace(/\/model\.json$/, '');
  let store;
  try {
    locations.check(field, parseStoreUri(uri));
    store = openStore(uri);
  } catch (error) {
    if (StorageError.is(error, 'invalid-uri', 'unsupported-scheme')) throw invalidField(field, error.message);
    throw error;
  }
  if (!(await store.exists('model.json'))) throw new RequestError('not-found', `${field}: no model at ${uri} (no model.json there)`, { field });
  return store.uri;
}

/**
 * An ONNX file URI, checked like a folder (parses, allowed location, exists) and then converted,
 * without an engine, so that what the importer refuses is refused here, before any work:
 * an operator, attribute or opset it does not take, or an input that is not an image batch →
 * INVALID_ARGUMENT naming the operator, the node and the opset; not an ONNX model → FAILED_PRECONDITION.
 */
async function onnxModelUri(value: string, field: string, locations: LocationPolicy): Promise<string> {
  let file;
  try {
    file = splitFileUri(value);
    locations.check(field, parseStoreUri(file.store.uri));
  } catch (error) {
    if (StorageError.is(error, 'invalid-uri', 'unsupported-scheme')) throw invalidField(field, error.message);
    throw error;
  }
  const { store, key } = file;
  const uri = `${store.uri}/${key}`;
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key);
  } catch (error) {
    if (StorageError.is(error, 'not-found')) throw new RequestError('not-found', `${field}: no ONNX file at ${uri}`, { field });
    if (StorageError.is(error, 'invalid-key')) throw invalidField(field, error.message);
    throw error;
  }
  try {
    checkOnnxModel(bytes);
  } catch (error) {
    if (ModelError.is(error, 'unsupported', 'invalid-options')) throw invalidField(field, error.message);
    if (ModelError.is(error, 'corrupt')) throw new RequestError('failed-precondition', `${field}: ${uri} is ${error.message}`, { field, cause: error });
    throw error;
  }
  return uri;
}
