/**
 * The robustness report: what `harden eval` prints with --json, what `report.json` holds, and what
 * the evaluation service returns. snake_case keys, since it is a file format read from any language.
 */
import type { SuiteName } from './suites.js';

export const REPORT_VERSION = 1;

export interface StageRow {
  name: string;
  robust_accuracy: number;
}

export interface AttackRow {
  /** Row label, e.g. `pgd-20`, `autoattack`. */
  name: string;
  /** Attack registry name. */
  attack: string;
  eps: number;
  norm: 'Linf' | 'L2';
  robust_accuracy: number;
  /** Robust accuracy after each stage (clean first): AutoAttack's composition, or clean → attack. */
  stages: StageRow[];
  /** Largest ‖x′ − x‖ in the norm, over the evaluated samples. */
  max_perturbation: number;
  seconds: number;
  /** Attack settings as run (steps, alpha, …). */
  settings: Record<string, unknown>;
}

export interface ClassRow {
  class: number;
  name: string;
  n: number;
  clean_accuracy: number;
  robust_accuracy: number;
}

/** A few evaluated samples for people to look at: clean and adversarial images, uint8 HWC, base64. */
export interface ExampleRow {
  index: number;
  label: number;
  clean_prediction: number;
  adversarial_prediction: number;
  /** The row whose adversarial example is shown (the first attack that fooled the model, else the last). */
  attack: string;
  shape: [number, number, number];
  clean_image: string;
  adversarial_image: string;
}

/** Robust accuracy of one attack row at several radii: the "accuracy against ε" curve. */
export interface EpsSweepRow {
  /** The attack row swept, e.g. `pgd-20`. */
  name: string;
  /** Attack registry name. */
  attack: string;
  norm: 'Linf' | 'L2';
  /** Ascending ε; the last point is the report's ε (the row's own result). */
  points: Array<{ eps: number; robust_accuracy: number }>;
}

export interface TrainingCurvePoint {
  epoch: number;
  loss: number;
  clean_accuracy: number;
  robust_accuracy: number;
}

export interface RobustnessReport {
  version: typeof REPORT_VERSION;
  id: string;
  created_at: string;
  model: { uri: string; sha256: string; arch: string | null; input_shape: number[]; num_classes: number };
  dataset: { spec: string; name: string; split: string; n: number; class_names: string[] };
  suite: SuiteName;
  eps: number;
  norm: 'Linf' | 'L2';
  seed: number;
  clean_accuracy: number;
  /** Per-sample worst case over every attack row. */
  robust_accuracy: number;
  attacks: AttackRow[];
  /** Robust accuracy against ε for some rows (standard suite by default; see `EvaluateOptions.sweep`). */
  eps_sweep?: EpsSweepRow[];
  per_class: ClassRow[];
  examples: ExampleRow[];
  warnings: Array<{ id: string; message: string }>;
  /** For Harden jobs: the training curves. */
  training?: { job_id?: string; method?: string; history: TrainingCurvePoint[] };
  /** `workers`: attack threads, over all shards; `shards`: processes the evaluation was split over (absent for one). */
  environment: { backend: string; device: string; workers: number; harden: string; tfjs: string; node: string; shards?: number };
  seconds: number;
}
