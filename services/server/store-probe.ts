/**
 * The start-up check of the artifact store: a probe object is written and deleted. Until that
 * works, every health entry is NOT_SERVING, the reason is logged (`store not writable`) and the
 * probe is tried again (every 2 s, backing off to 30 s); once it works, the entries turn SERVING and
 * `ready` resolves true (false if the server shut down first). A read-only store, a full disk or S3
 * with bad credentials is thus found at start-up, not one epoch into a job.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ServingStatus, type HealthService } from '../../libs/rpc/index.js';
import { storeFailureReason } from '../../libs/rpc/errors.js';
import type { ArtifactStore } from '../../libs/storage/index.js';
import type { Logger } from '../../libs/telemetry/index.js';

export interface StoreProbe {
  /** Settles after the first attempt (whatever its outcome). */
  readonly first: Promise<void>;
  /** True once a probe worked; false when stopped before. */
  readonly ready: Promise<boolean>;
  /** The last failure's reason (a fixed sentence), or undefined. */
  readonly reason: string | undefined;
  stop(): void;
}

/** Writes and deletes one probe object; throws what the store threw. */
export async function probeStore(store: ArtifactStore): Promise<void> {
  const key = `probes/${hostname().replace(/[^A-Za-z0-9-]/g, '-')}-${process.pid}-${randomBytes(4).toString('hex')}`;
  await store.put(key, new TextEncoder().encode('harden store probe\n'));
  await store.delete(key);
}

export function createStoreProbe(store: ArtifactStore, health: HealthService, entries: readonly string[], logger?: Logger): StoreProbe {
  let stopped = false;
  let reason: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveReady!: (ok: boolean) => void;
  const ready = new Promise<boolean>((r) => (resolveReady = r));
  const set = (status: ServingStatus) => {
    for (const e of entries) health.setStatus(e, status);
  };
  const attempt = async (delayMs: number): Promise<void> => {
    if (stopped) return;
    try {
      await probeStore(store);
    } catch (error) {
      if (stopped) return;
      const first = reason === undefined;
      reason = storeFailureReason(error instanceof Error ? `${error.name} ${(error as { code?: string }).code ?? ''} ${error.message}` : String(error));
      if (first) set(ServingStatus.NOT_SERVING);
      logger?.error('store not writable: NOT_SERVING until it is', { store_uri: store.uri, reason, error, retry_ms: delayMs });
      timer = setTimeout(() => void attempt(Math.min(delayMs * 2, 30_000)), delayMs);
      timer.unref();
      return;
    }
    if (stopped) return;
    if (reason !== undefined) {
      logger?.info('store writable again: SERVING', { store_uri: store.uri });
      set(ServingStatus.SERVING);
    }
    reason = undefined;
    resolveReady(true);
  };
  const first = attempt(2000);
  return {
    first,
    ready,
    get reason() {
      return reason;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      resolveReady(false);
    },
  };
}
