/**
 * A complete, hand-made robustness report for tests of the HTML report and the dashboard (not part
 * of the public API): standard suite with AutoAttack stages, an ε sweep, three classes, examples
 * with synthetic 8×8 images, training history and a warning.
 */
import { REPORT_VERSION, type RobustnessReport } from './report.js';

function image(seed: number, size: number, shift: number): string {
  const out = new Uint8Array(size * size);
  for (let i = 0; i < out.length; i++) {
    const base = ((i * 37 + seed * 11) % 97) * 2;
    out[i] = Math.max(0, Math.min(255, base + (shift ? ((i + seed) % 2 ? shift : -shift) : 0)));
  }
  return Buffer.from(out).toString('base64');
}

export function sampleReport(overrides: Partial<RobustnessReport> = {}): RobustnessReport {
  const eps = 0.3;
  const examples = [0, 1, 2, 3].map((i) => ({
    index: i,
    label: i % 3,
    clean_prediction: i % 3,
    adversarial_prediction: (i + 1) % 3,
    attack: i % 2 ? 'pgd-20' : 'autoattack',
    shape: [8, 8, 1] as [number, number, number],
    clean_image: image(i, 8, 0),
    adversarial_image: image(i, 8, 60),
  }));
  return {
    version: REPORT_VERSION,
    id: 'report-0001',
    created_at: '2025-01-02T03:04:05.000Z',
    model: { uri: 'file:///runs/a/model', sha256: 'ab'.repeat(32), arch: 'small-cnn', input_shape: [8, 8, 1], num_classes: 3 },
    dataset: { spec: 'idx:/data/tiny', name: 'tiny', split: 'test', n: 30, class_names: ['zero', 'one', 'two'] },
    suite: 'standard',
    eps,
    norm: 'Linf',
    seed: 7,
    clean_accuracy: 0.9,
    robust_accuracy: 0.2333333,
    attacks: [
      { name: 'fgsm', attack: 'fgsm', eps, norm: 'Linf', robust_accuracy: 0.6, stages: [{ name: 'clean', robust_accuracy: 0.9 }, { name: 'fgsm', robust_accuracy: 0.6 }], max_perturbation: 0.3, seconds: 0.5, settings: {} },
      {
        name: 'pgd-20',
        attack: 'pgd',
        eps,
        norm: 'Linf',
        robust_accuracy: 0.3,
        stages: [{ name: 'clean', robust_accuracy: 0.9 }, { name: 'pgd', robust_accuracy: 0.3 }],
        max_perturbation: 0.3,
        seconds: 2.25,
        settings: { steps: 20, randomStart: true },
      },
      {
        name: 'autoattack',
        attack: 'autoattack',
        eps,
        norm: 'Linf',
        robust_accuracy: 0.2333333,
        stages: [
          { name: 'clean', robust_accuracy: 0.9 },
          { name: 'apgd-ce', robust_accuracy: 0.3 },
          { name: 'apgd-t', robust_accuracy: 0.2666667 },
          { name: 'fab-t', robust_accuracy: 0.2666667 },
          { name: 'square', robust_accuracy: 0.2333333 },
        ],
        max_perturbation: 0.3,
        seconds: 30.5,
        settings: {},
      },
    ],
    eps_sweep: [
      { name: 'fgsm', attack: 'fgsm', norm: 'Linf', points: [{ eps: 0.075, robust_accuracy: 0.8666667 }, { eps: 0.15, robust_accuracy: 0.8 }, { eps: 0.225, robust_accuracy: 0.7 }, { eps, robust_accuracy: 0.6 }] },
      { name: 'pgd-20', attack: 'pgd', norm: 'Linf', points: [{ eps: 0.075, robust_accuracy: 0.8333333 }, { eps: 0.15, robust_accuracy: 0.6666667 }, { eps: 0.225, robust_accuracy: 0.5 }, { eps, robust_accuracy: 0.3 }] },
    ],
    per_class: [
      { class: 0, name: 'zero', n: 10, clean_accuracy: 1, robust_accuracy: 0.4 },
      { class: 1, name: 'one', n: 10, clean_accuracy: 0.9, robust_accuracy: 0.2 },
      { class: 2, name: 'two', n: 10, clean_accuracy: 0.8, robust_accuracy: 0.1 },
    ],
    examples,
    warnings: [{ id: 'black-box-stronger', message: 'Square beat the white-box attacks on 1 sample: gradients may be masked.' }],
    training: {
      job_id: 'job-42',
      method: 'd2r',
      history: [
        { epoch: 1, loss: 2.1, clean_accuracy: 0.5, robust_accuracy: 0.1 },
        { epoch: 2, loss: 1.4, clean_accuracy: 0.8, robust_accuracy: 0.2 },
        { epoch: 3, loss: 1.1, clean_accuracy: 0.9, robust_accuracy: 0.25 },
      ],
    },
    environment: { backend: 'wasm', device: 'wasm-simd', workers: 2, harden: '0.1.0', tfjs: '4.22.0', node: 'v20.0.0' },
    seconds: 34.5,
    ...overrides,
  };
}
