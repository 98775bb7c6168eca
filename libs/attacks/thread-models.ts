/**
 * Models loaded into one worker thread for attacks, kept under a key (the caller's choice, e.g. a
 * hash of the bytes) so that later tasks reuse them: the target, and the guidance model for CAG.
 * Shared by the task modules that run attacks in worker threads (parallel-task.ts here, the
 * adversarial service's attack-task.ts).
 */
import type { tfl } from '../engine/index.js';
import { modelFromBytes, type ModelBytes } from '../models/index.js';
import { fromLayersModel, type ModelWrapperOptions } from './model.js';
import type { AttackModel } from './types.js';

export interface ThreadModels {
  layers: tfl.LayersModel[];
  target: AttackModel;
  guidance: AttackModel | undefined;
}

const loaded = new Map<string, ThreadModels>();

/** The models under `key`, loading them from bytes the first time. */
export async function loadThreadModels(key: string, target: ModelBytes, guidance?: ModelBytes, options: ModelWrapperOptions = {}): Promise<ThreadModels> {
  const existing = loaded.get(key);
  if (existing) return existing;
  const t = await modelFromBytes(target);
  let g: tfl.LayersModel | undefined;
  try {
    g = guidance ? await modelFromBytes(guidance) : undefined;
  } catch (error) {
    t.dispose();
    throw error;
  }
  const entry: ThreadModels = { layers: g ? [t, g] : [t], target: fromLayersModel(t, options), guidance: g && fromLayersModel(g, options) };
  loaded.set(key, entry);
  return entry;
}

/** The models under `key`, if loaded. */
export function threadModels(key: string): ThreadModels | undefined {
  return loaded.get(key);
}

/** Disposes the models under `key`; false when none were loaded. */
export function unloadThreadModels(key: string): boolean {
  const entry = loaded.get(key);
  if (!entry) return false;
  for (const m of entry.layers) m.dispose();
  loaded.delete(key);
  return true;
}
