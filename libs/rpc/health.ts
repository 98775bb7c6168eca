/**
 * The standard gRPC health service (grpc.health.v1.Health: Check, List, Watch) for the services a
 * server runs. Each registered service name (and "", the whole server) has a status; `shutdown()`
 * turns every one NOT_SERVING, so load balancers and Kubernetes probes stop sending work while the
 * server drains.
 */
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from './gen/grpc/health/v1/health_pb.js';

export { ServingStatus };

export interface HealthService {
  readonly impl: ServiceImpl<typeof Health>;
  /** Sets a service's status ("" is the whole server). */
  setStatus(service: string, status: ServingStatus): void;
  status(service: string): ServingStatus | undefined;
  /** Every service NOT_SERVING; watchers are told. */
  shutdown(): void;
}

/** `services`: fully qualified names (e.g. `robustness.v1.HardeningService`), all SERVING at first. */
export function createHealthService(services: readonly string[]): HealthService {
  const statuses = new Map<string, ServingStatus>([['', ServingStatus.SERVING], ...services.map((s) => [s, ServingStatus.SERVING] as const)]);
  const watchers = new Set<() => void>();
  const notify = () => {
    for (const w of watchers) w();
  };
  return {
    setStatus(service, status) {
      statuses.set(service, status);
      notify();
    },
    status(service) {
      return statuses.get(service);
    },
    shutdown() {
      for (const key of statuses.keys()) statuses.set(key, ServingStatus.NOT_SERVING);
      notify();
    },
    impl: {
      check(req) {
        const status = statuses.get(req.service);
        if (status === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        return { status };
      },
      list() {
        return { statuses: Object.fromEntries([...statuses].map(([name, status]) => [name, { status }])) };
      },
      async *watch(req, context) {
        let wake: (() => void) | undefined;
        let changed = false;
        const onChange = () => {
          changed = true;
          wake?.();
        };
        watchers.add(onChange);
        context.signal.addEventListener('abort', onChange);
        try {
          let last: ServingStatus | undefined;
          while (!context.signal.aborted) {
            changed = false;
            const status = statuses.get(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
            if (status !== last) {
              last = status;
              yield { status };
            }
            if (!changed) await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
          }
        } finally {
          watchers.delete(onChange);
          context.signal.removeEventListener('abort', onChange);
        }
      },
    },
  };
}
