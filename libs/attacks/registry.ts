/**
 * The attack registry: one table from name to factory and description (no dispatch on names
 * elsewhere). `createAttack(name, options)` validates the options once and returns an `Attack`.
 */
import { createApgdCe, type ApgdCeOptions } from './apgd-ce.js';
import { createApgdT, type ApgdTOptions } from './apgd-t.js';
import { createAutoAttack, type AutoAttackOptions } from './autoattack.js';
import { CAG_DEFAULTS, createCag, type CagOptions } from './cag.js';
import { createCw, type CwOptions } from './cw.js';
import { AttackError } from './errors.js';
import { createFabT, type FabTOptions } from './fab-t.js';
import { createFgsm, type FgsmOptions } from './fgsm.js';
import { createPgd, type PgdOptions } from './pgd.js';
import { createSquare, type SquareOptions } from './square.js';
import type { Attack, Norm } from './types.js';

/** Options of each registered attack, by name. */
export interface AttackOptionsByName {
  fgsm: FgsmOptions;
  pgd: PgdOptions;
  cw: CwOptions;
  cag: CagOptions;
  'apgd-ce': ApgdCeOptions;
  'apgd-t': ApgdTOptions;
  'fab-t': FabTOptions;
  square: SquareOptions;
  autoattack: AutoAttackOptions;
}
export type AttackName = keyof AttackOptionsByName;

export interface AttackDescription {
  readonly name: AttackName;
  readonly summary: string;
  /** arXiv id of the paper (CAG: the project's architecture doc). */
  readonly paper: string;
  readonly norms: readonly Norm[];
  /** The ε the attack is usually run at when none is given (CAG's published 0.031; 8/255 otherwise). */
  readonly defaultEps: number;
  /** Option defaults, as documented with `@default`. */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Whether it attacks through a guidance model besides the target (CAG). */
  readonly needsGuidance: boolean;
}

interface Entry<K extends AttackName> {
  readonly create: (options: AttackOptionsByName[K]) => Attack;
  readonly describe: Omit<AttackDescription, 'name' | 'needsGuidance'> & { needsGuidance?: true };
}

const EPS_8_255 = 8 / 255;

const REGISTRY: { readonly [K in AttackName]: Entry<K> } = {
  fgsm: {
    create: createFgsm,
    describe: { summary: 'Fast Gradient Sign Method: one ε-sized sign step on CE', paper: 'arXiv:1412.6572', norms: ['Linf', 'L2'], defaultEps: EPS_8_255, defaults: {} },
  },
  pgd: {
    create: createPgd,
    describe: {
      summary: 'Projected Gradient Descent with random start and restarts (losses ce | kl | cw)',
      paper: 'arXiv:1706.06083',
      norms: ['Linf', 'L2'],
      defaultEps: EPS_8_255,
      defaults: { steps: 20, alpha: 'eps / 4', randomStart: true, restarts: 1, loss: 'ce', earlyStop: false },
    },
  },
  cw: {
    create: createCw,
    describe: {
      summary: 'CW∞: PGD on the Carlini–Wagner margin loss',
      paper: 'arXiv:1608.04644',
      norms: ['Linf', 'L2'],
      defaultEps: EPS_8_255,
      defaults: { steps: 20, alpha: 'eps / 4', randomStart: true, restarts: 1, earlyStop: false },
    },
  },
  cag: {
    create: createCag,
    describe: {
      summary: "Collaborative Adversarial Generation: sign steps on KL(p_g(x) ‖ p_t(x')) from the guidance model's clean prediction",
      paper: 'ARCHITECTURE.md (D2R + CAG)',
      norms: ['Linf'],
      defaultEps: CAG_DEFAULTS.eps,
      defaults: { steps: CAG_DEFAULTS.steps, alpha: CAG_DEFAULTS.alpha, start: 'x + 0.001·N(0, I)' },
      needsGuidance: true,
    },
  },
  'apgd-ce': {
    create: createApgdCe,
    describe: {
      summary: 'Auto-PGD on cross-entropy (step-size schedule with checkpoints, momentum 0.75)',
      paper: 'arXiv:2003.01690',
      norms: ['Linf', 'L2'],
      defaultEps: EPS_8_255,
      defaults: { steps: 100, restarts: 1, rho: 0.75, momentum: 0.75 },
    },
  },
  'apgd-t': {
    create: createApgdT,
    describe: {
      summary: 'Auto-PGD on the targeted DLR loss over the top wrong classes',
      paper: 'arXiv:2003.01690',
      norms: ['Linf', 'L2'],
      defaultEps: EPS_8_255,
      defaults: { steps: 100, restarts: 1, targets: 9, rho: 0.75, momentum: 0.75 },
    },
  },
  'fab-t': {
    create: createFabT,
    describe: {
      summary: 'targeted Fast Adaptive Boundary attack (minimum norm, counted within ε)',
      paper: 'arXiv:1907.02044',
      norms: ['Linf', 'L2'],
      defaultEps: EPS_8_255,
      defaults: { steps: 100, restarts: 1, targets: 9, alphaMax: 0.1, eta: 1.05, beta: 0.9 },
    },
  },
  square: {
    create: createSquare,
    describe: {
      summary: 'Square Attack: score-based random search with square updates (margin loss)',
      paper: 'arXiv:1912.00049',
      norms: ['Linf', 'L2'],
      defaultEps: EPS_8_255,
      defaults: { queries: 5000, pInit: 0.8, restarts: 1 },
    },
  },
  autoattack: {
    create: createAutoAttack,
    describe: {
      summary: 'AutoAttack standard: APGD-CE → APGD-T → FAB-T → Square on the samples still robust',
      paper: 'arXiv:2003.01690',
      norms: ['Linf', 'L2'],
      defaultEps: EPS_8_255,
      defaults: { version: 'standard', steps: 100, queries: 5000, targets: 9 },
    },
  },
};

/** Registered attack names, in registry order. */
export const ATTACK_NAMES = Object.keys(REGISTRY) as AttackName[];

export function isAttackName(name: string): name is AttackName {
  return Object.hasOwn(REGISTRY, name);
}

function entry(name: string): Entry<AttackName> {
  if (!isAttackName(name)) {
    throw new AttackError('invalid-argument', `unknown attack "${name}"; expected one of ${ATTACK_NAMES.join(', ')}`, { field: 'attack' });
  }
  return REGISTRY[name] as unknown as Entry<AttackName>;
}

/** Creates a registered attack, its options validated now (an `AttackError` names a bad field). */
export function createAttack<K extends AttackName>(name: K, options?: AttackOptionsByName[K]): Attack;
export function createAttack(name: string, options?: object): Attack;
export function createAttack(name: string, options: object = {}): Attack {
  return entry(name).create(options as never);
}

/** What `name` is: summary, paper, norms, defaults. */
export function describeAttack(name: string): AttackDescription {
  return { name: name as AttackName, needsGuidance: false, ...entry(name).describe };
}

export function describeAttacks(): AttackDescription[] {
  return ATTACK_NAMES.map(describeAttack);
}
