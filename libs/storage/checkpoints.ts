/**
 * The storage layout of jobs, and checkpoints written as manifested folders behind a `latest` pointer:
 *
 * ```
 * jobs/<id>/checkpoints/epoch-0003/{target/, guidance/, optimizer, state.json, manifest.json}
 * jobs/<id>/latest.json              → checkpoints/epoch-0003 (+ its manifest's sha256), written last
 * reports/<id>.json
 * ```
 *
 * A crash at any point of `saveCheckpoint` leaves `latest.json` on the previous complete checkpoint;
 * running it again for the same epoch rewrites that folder from scratch.
 */
import type { ArtifactStore } from './artifact-store.js';
import { StorageError } from './errors.js';
import { deleteManifested, startManifest, type VerifiedFolder } from './manifest.js';
import { openPointer, writePointer, type Pointer } from './pointer.js';

/** Job ids are one key segment: letters, digits, `.`, `_`, `-` (not `.` or `..`), at most 128. */
const JOB_ID = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,128}$/;

/** Keys of one job, relative to the store root. */
export interface JobPaths {
  /** `jobs/<id>` */
  root: string;
  /** `jobs/<id>/checkpoints` */
  checkpoints: string;
  /** `jobs/<id>/latest.json` */
  latest: string;
  /** `jobs/<id>/checkpoints/epoch-NNNN` for a 1-based epoch. */
  checkpoint(epoch: number): string;
}

/** Throws `StorageError` `invalid-key` unless `jobId` is a valid job id. */
export function checkJobId(jobId: string): string {
  if (!JOB_ID.test(jobId)) {
    throw new StorageError('invalid-key', `invalid job id ${JSON.stringify(jobId)}: use 1 to 128 letters, digits, ".", "_" or "-"`);
  }
  return jobId;
}

/** The folder name of an epoch's checkpoint: `epoch-0003` (4 digits at least, so names sort by epoch). */
export function checkpointName(epoch: number): string {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

export function jobPaths(jobId: string): JobPaths {
  const root = `jobs/${checkJobId(jobId)}`;
  return {
    root,
    checkpoints: `${root}/checkpoints`,
    latest: `${root}/latest.json`,
    checkpoint: (epoch) => `${root}/checkpoints/${checkpointName(epoch)}`,
  };
}

/** `reports/<id>.json` */
export function reportKey(jobId: string): string {
  return `reports/${checkJobId(jobId)}.json`;
}

export interface SaveCheckpointOptions {
  jobId: string;
  /** The epoch the checkpoint ends (1-based). */
  epoch: number;
  /** Writes the checkpoint's files into `folder` (a store rooted at the checkpoint folder). */
  write: (folder: ArtifactStore) => Promise<void>;
  /** Attached to the pointer (epoch is added). */
  data?: Record<string, unknown>;
}

/**
 * Writes the checkpoint of `epoch` (files through `write`, then `manifest.json`) and then moves
 * `latest.json` to it. @returns the new `latest` pointer
 */
export async function saveCheckpoint(store: ArtifactStore, options: SaveCheckpointOptions): Promise<Pointer> {
  const paths = jobPaths(options.jobId);
  const writer = await startManifest(store, paths.checkpoint(options.epoch));
  await options.write(writer.store);
  const commit = await writer.commit();
  return writePointer(store, paths.latest, commit, { ...options.data, epoch: options.epoch });
}

/**
 * The checkpoint `latest.json` names, opened for verified reading, or `undefined` before the first
 * checkpoint. Throws `StorageError` (`digest-mismatch`, `corrupt`, `not-found`) when it is damaged.
 */
export async function openLatestCheckpoint(store: ArtifactStore, jobId: string): Promise<{ pointer: Pointer; folder: VerifiedFolder } | undefined> {
  return openPointer(store, jobPaths(jobId).latest);
}

/**
 * Deletes the job's checkpoint folders except `keep` (folder keys as `jobPaths().checkpoint` gives
 * them), each manifest first. Call it after the pointers moved.
 */
export async function pruneCheckpoints(store: ArtifactStore, jobId: string, keep: Iterable<string>): Promise<string[]> {
  const paths = jobPaths(jobId);
  const kept = new Set(keep);
  const folders = new Set<string>();
  for (const key of await store.list(`${paths.checkpoints}/`)) {
    const name = key.slice(paths.checkpoints.length + 1).split('/')[0];
    folders.add(`${paths.checkpoints}/${name}`);
  }
  const deleted: string[] = [];
  for (const folder of [...folders].sort()) {
    if (kept.has(folder)) continue;
    await deleteManifested(store, folder);
    deleted.push(folder);
  }
  return deleted;
}
