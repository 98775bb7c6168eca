export { describeStep, evaluateRobustness, evaluateShard, modelSha256, type EvaluateOptions, type EvaluationEvent } from './evaluate.js';
export { assembleReport, SHARD_KIND, SHARD_VERSION, shardRange, validateShard, type AssembleOptions, type EvaluationShard, type ShardRange, type ShardRow, type ShardSweepRow } from './shard.js';
export { EvaluationError, type EvaluationErrorCode } from './errors.js';
export { REPORT_VERSION, type AttackRow, type ClassRow, type EpsSweepRow, type ExampleRow, type RobustnessReport, type StageRow, type TrainingCurvePoint } from './report.js';
export { readReport, REPORT_JSON, validateReport, writeReport } from './report-store.js';
export { isSuiteName, protocolEps, SUITE_NAMES, suiteAttacks, type SuiteAttack, type SuiteName } from './suites.js';
export { REPORT_CSP, REPORT_HTML, renderReportHtml, writeReportHtml, type RenderReportOptions } from './report-html.js';
export { formatMetric, type MetricFormat } from './report-html-format.js';
export { escapeHtml } from './report-html-escape.js';
