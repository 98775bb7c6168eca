/**
 * Admission: how much one caller may hold at once, and how much attack memory the server commits.
 * Past a limit a call is refused at once with RESOURCE_EXHAUSTED and a retry hint: the message says
 * when to retry, and the `grpc-retry-pushback-ms` trailer (gRPC's retry pushback) says it in ms.
 *
 * Callers are told apart by their credential (libs/rpc/auth.ts `Caller.id`); on an open loopback
 * server every caller is one.
 */
import { Code, ConnectError } from '@connectrpc/connect';

export interface AdmissionLimits {
  /** GenerateAdversarial streams one caller may have open. @default 4 */
  maxStreamsPerCaller: number;
  /** Jobs (per kind) one caller may have QUEUED. @default 8 */
  maxQueuedPerCaller: number;
  /** Attack working memory all streams together may commit, bytes. @default 536870912 (512 MiB) */
  maxAttackBytes: number;
  /** The retry hint, ms. @default 2000 */
  retryAfterMs: number;
}

export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = { maxStreamsPerCaller: 4, maxQueuedPerCaller: 8, maxAttackBytes: 512 * 1024 * 1024, retryAfterMs: 2000 };

export interface Admission {
  readonly limits: AdmissionLimits;
  /** Admits a stream of `caller` committing `bytes`; returns its release (call once, when it ends). */
  enterStream(caller: string, bytes: number): () => void;
  /** Refuses a new job of `caller`, who already has `queued` QUEUED. */
  admitJob(caller: string, queued: number): void;
  /** Open streams and committed bytes (for tests and metrics). */
  readonly usage: { streams: number; bytes: number };
}

export function exhausted(message: string, retryAfterMs: number): ConnectError {
  return new ConnectError(`${message}; retry in ${Math.ceil(retryAfterMs / 1000)} s`, Code.ResourceExhausted, { 'grpc-retry-pushback-ms': String(retryAfterMs), 'retry-after': String(Math.ceil(retryAfterMs / 1000)) });
}

export function createAdmission(limits: Partial<AdmissionLimits> = {}): Admission {
  const l = { ...DEFAULT_ADMISSION_LIMITS, ...limits };
  const streams = new Map<string, number>();
  let bytes = 0;
  let open = 0;
  return {
    limits: l,
    get usage() {
      return { streams: open, bytes };
    },
    enterStream(caller, need) {
      const mine = streams.get(caller) ?? 0;
      if (mine >= l.maxStreamsPerCaller) throw exhausted(`at most ${l.maxStreamsPerCaller} GenerateAdversarial streams at once per caller`, l.retryAfterMs);
      if (need > l.maxAttackBytes) throw new ConnectError(`batch_size: one batch needs ${need} bytes of attack memory; the server commits at most ${l.maxAttackBytes}`, Code.InvalidArgument);
      if (bytes + need > l.maxAttackBytes) throw exhausted('the server is at its attack memory bound', l.retryAfterMs);
      streams.set(caller, mine + 1);
      bytes += need;
      open++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const n = (streams.get(caller) ?? 1) - 1;
        if (n <= 0) streams.delete(caller);
        else streams.set(caller, n);
        bytes -= need;
        open--;
      };
    },
    admitJob(caller, queued) {
      if (queued >= l.maxQueuedPerCaller) throw exhausted(`at most ${l.maxQueuedPerCaller} queued jobs per caller`, l.retryAfterMs * 15);
    },
  };
}
