/**
 * Evaluation suites: ordered lists of attacks run on every sample (ARCHITECTURE.md, "Evaluation
 * protocol"). Each row is reported on its own; the headline robust accuracy is the per-sample worst
 * case over all rows (a sample is robust only if every attack fails on it).
 *
 * - `quick`: FGSM, PGD-20 (α = ε/4, uniform random start), CW∞-20 (margin loss). Minutes on a CPU.
 *   PGD-20 and CW-20 stop moving a sample at its first fooling iterate (`earlyStop`), as the
 *   references' `attack_pgd` does, so a sample counts as broken when any iterate fooled the model.
 * - `standard`: the quick rows plus AutoAttack standard (APGD-CE → APGD-T → FAB-T → Square 5,000
 *   queries), the strongest and slowest row.
 */
export const SUITE_NAMES = ['quick', 'standard'] as const;
export type SuiteName = (typeof SUITE_NAMES)[number];

export interface SuiteAttack {
  /** Row name in reports, e.g. `pgd-20`. */
  readonly label: string;
  /** Attack registry name (libs/attacks). */
  readonly attack: string;
  /** Attack options besides ε (plain data, so they can cross to worker threads). */
  readonly options: Readonly<Record<string, unknown>>;
}

const QUICK: readonly SuiteAttack[] = [
  { label: 'fgsm', attack: 'fgsm', options: {} },
  { label: 'pgd-20', attack: 'pgd', options: { steps: 20, randomStart: true, earlyStop: true } },
  { label: 'cw-20', attack: 'cw', options: { steps: 20, randomStart: true, earlyStop: true } },
];

const SUITES: Readonly<Record<SuiteName, readonly SuiteAttack[]>> = {
  quick: QUICK,
  standard: [...QUICK, { label: 'autoattack', attack: 'autoattack', options: {} }],
};

export function isSuiteName(name: string): name is SuiteName {
  return (SUITE_NAMES as readonly string[]).includes(name);
}

export function suiteAttacks(name: SuiteName): readonly SuiteAttack[] {
  return SUITES[name];
}

