/** A report index entry (libs/jobs) as a robustness.v1.Report message. */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { RobustnessReport } from '../../libs/evaluation/index.js';
import type { ReportEntry } from '../../libs/jobs/index.js';
import type { ReportSchema } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';

export type ReportSummary = Omit<RobustnessReport, 'examples'>;

export function reportToProto(entry: ReportEntry<ReportSummary>): MessageInitShape<typeof ReportSchema> {
  const r = entry.summary;
  return {
    reportId: entry.id,
    createTime: timestampFromDate(entry.createdAt),
    model: { uri: r.model.uri, sha256: r.model.sha256, arch: r.model.arch ?? '' },
    dataset: { spec: r.dataset.spec, name: r.dataset.name, split: r.dataset.split, size: r.dataset.n },
    suite: r.suite,
    eps: r.eps,
    norm: r.norm,
    cleanAccuracy: r.clean_accuracy,
    robustAccuracy: r.robust_accuracy,
    attacks: r.attacks.map((a) => ({
      name: a.name,
      attack: a.attack,
      eps: a.eps,
      robustAccuracy: a.robust_accuracy,
      maxPerturbation: a.max_perturbation,
      seconds: a.seconds,
    })),
    perClass: r.per_class.map((c) => ({ classIndex: c.class, name: c.name, size: c.n, cleanAccuracy: c.clean_accuracy, robustAccuracy: c.robust_accuracy })),
    warnings: r.warnings.map((w) => ({ id: w.id, message: w.message })),
    reportUri: entry.uri,
    evaluationId: entry.evaluationId ?? '',
    jobId: entry.jobId ?? '',
    seconds: r.seconds,
    ...(r.training
      ? {
          training: {
            jobId: r.training.job_id ?? '',
            method: r.training.method ?? '',
            history: r.training.history.map((h) => ({ epoch: h.epoch, loss: h.loss, cleanAccuracy: h.clean_accuracy, robustAccuracy: h.robust_accuracy })),
          },
        }
      : {}),
  };
}
