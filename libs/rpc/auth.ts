/**
 * Who may call: credentials, roles and the authorization interceptor.
 *
 * Credentials (any one identifies a caller):
 * - a bearer token (`authorization: Bearer <token>`) listed in a token file: one token per line as
 *   `ROLE TOKEN [NAME]` (`#` starts a comment). Several lines may hold the same role, so tokens
 *   rotate by adding the new one, moving clients over, then removing the old one. A token file may
 *   be a folder (a Kubernetes Secret mounted as a volume): every file in it not starting with `.`
 *   is read. Presented tokens are compared with every known one in constant time (SHA-256 digests,
 *   `timingSafeEqual`, no early exit).
 * - a per-job worker token (`hw1.<job id>.<HMAC-SHA256(worker key, job id)>`), minted by the server
 *   for each Kubernetes worker pod: role `worker`, valid for that job only.
 * - a client certificate verified against the CA bundle the server was given (mutual TLS); its role
 *   is the certificate subject's OU when that is `read` or `submit`, else `read`.
 *
 * Roles: `read` (get, list, watch, reports, reflection, dashboard), `submit` (read plus Harden,
 * Evaluate, GenerateAdversarial and the cancels), `worker` (JobWorkerService, for its own job).
 * The health service answers everyone (probes carry no credentials).
 *
 * With no tokens and no client CA the server is open (the loopback default); then every call goes.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Code, ConnectError, createContextKey, createContextValues, type ContextValues, type Interceptor } from '@connectrpc/connect';

export const ROLES = ['read', 'submit', 'worker'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller. `id` names it in logs and admission (never the token itself). */
export interface Caller {
  id: string;
  role: Role;
  via: 'token' | 'certificate' | 'worker-token' | 'internal' | 'open';
  /** Worker tokens: the one job this caller may work on. */
  jobId?: string;
}

export interface TokenEntry {
  role: Role;
  token: string;
  /** @default `token-` + the first 8 hex digits of the token's SHA-256 */
  name?: string;
}

/** What the transport layer learnt about a request, attached to every call as a context value. */
export interface RequestAuth {
  /** The caller, when its credentials were good. */
  caller: Caller | undefined;
  /** Why credentials that were presented were refused (a fixed, safe sentence). */
  refused?: string;
  /** The Host (:authority) the request named, when it is not one this server serves. */
  badHost?: string;
}

/** Read by the interceptor and the services (`context.values.get(REQUEST_AUTH)`). */
export const REQUEST_AUTH = createContextKey<RequestAuth>({ caller: undefined }, { description: 'harden request auth' });

export interface AuthOptions {
  tokens?: readonly TokenEntry[];
  /** Trust client certificates (the TLS server was given a CA bundle and asks for them). */
  clientCertificates?: boolean;
  /** HMAC key of worker tokens. @default 32 random bytes (tokens die with the process) */
  workerKey?: Buffer;
  /**
   * Host names (`Host` / `:authority`, port ignored) requests may name; empty: any.
   * @default empty
   */
  allowedHosts?: readonly string[];
}

export interface Authenticator {
  /** Whether calls need credentials (tokens or client certificates were configured). */
  readonly required: boolean;
  /** A token for the server's own calls to itself (role submit). */
  readonly internalToken: string;
  /** The worker token of `jobId`. */
  workerToken(jobId: string): string;
  /** The caller behind an `authorization` header value and the TLS socket (if any). */
  identify(authorization: string | undefined, socket: unknown): { caller: Caller | undefined; refused?: string };
  /** Whether a Host / :authority value is one this server serves. */
  hostAllowed(authority: string | undefined): boolean;
  /** The context values of a Node request (connectNodeAdapter's `contextValues`). */
  contextValues(req: { headers: Record<string, string | string[] | undefined>; socket: unknown; authority?: string }): ContextValues;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Parses token file text (`ROLE TOKEN [NAME]` per line). `where` names the file in errors. */
export function parseTokenFile(text: string, where = 'token file'): TokenEntry[] {
  const out: TokenEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const [role, token, name, ...rest] = line.split(/\s+/);
    if (!(ROLES as readonly string[]).includes(role ?? '')) throw new Error(`${where} line ${i + 1}: the role must be one of ${ROLES.join(', ')} (format: ROLE TOKEN [NAME])`);
    if (role === 'worker') throw new Error(`${where} line ${i + 1}: worker tokens are minted per job by the server; list read or submit tokens`);
    if (!token || token.length < 16) throw new Error(`${where} line ${i + 1}: a token needs at least 16 characters`);
    if (rest.length > 0) throw new Error(`${where} line ${i + 1}: expected ROLE TOKEN [NAME]`);
    out.push({ role: role as Role, token, ...(name ? { name } : {}) });
  });
  return out;
}

/** Reads token files (or folders of them, e.g. a mounted Kubernetes Secret). */
export function readTokenFiles(paths: readonly string[]): TokenEntry[] {
  const out: TokenEntry[] = [];
  for (const path of paths) {
    const files = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => !f.startsWith('.'))
          .map((f) => join(path, f))
          .filter((f) => statSync(f).isFile())
      : [path];
    for (const f of files) out.push(...parseTokenFile(readFileSync(f, 'utf8'), f));
  }
  return out;
}

/** The token a client file holds: its first line, or the TOKEN of a `ROLE TOKEN [NAME]` line. */
export function clientTokenFromText(text: string): string | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const parts = line.split(/\s+/);
    return parts.length > 1 && (ROLES as readonly string[]).includes(parts[0]!) ? parts[1] : parts[0];
  }
  return undefined;
}

/** `host:port`, `[v6]:port` or a bare name → the lower-case host name. */
export function hostOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']') > 0 ? a.indexOf(']') : undefined);
  const colon = a.lastIndexOf(':');
  return colon > 0 && a.indexOf(':') === colon ? a.slice(0, colon) : a;
}

const WORKER_PREFIX = 'hw1.';

export function createAuthenticator(options: AuthOptions = {}): Authenticator {
  const workerKey = options.workerKey ?? randomBytes(32);
  const internalToken = randomBytes(32).toString('base64url');
  const entries = [...(options.tokens ?? []), { role: 'submit' as const, token: internalToken, name: 'internal' }].map((e) => ({
    role: e.role,
    name: e.name ?? `token-${digest(e.token).toString('hex').slice(0, 8)}`,
    hash: digest(e.token),
    internal: e.token === internalToken,
  }));
  const required = (options.tokens?.length ?? 0) > 0 || options.clientCertificates === true;
  const hosts = new Set((options.allowedHosts ?? []).map((h) => hostOf(h)));
  const mac = (jobId: string) => createHmac('sha256', workerKey).update(`worker:${jobId}`, 'utf8').digest();

  const fromToken = (token: string): Caller | undefined => {
    if (token.startsWith(WORKER_PREFIX)) {
      const [encodedId, sig] = token.slice(WORKER_PREFIX.length).split('.');
      if (!encodedId || !sig) return undefined;
      const jobId = Buffer.from(encodedId, 'base64url').toString('utf8');
      const given = Buffer.from(sig, 'base64url');
      const want = mac(jobId);
      return given.length === want.length && timingSafeEqual(given, want) ? { id: `worker:${jobId}`, role: 'worker', via: 'worker-token', jobId } : undefined;
    }
    const h = digest(token);
    let found: (typeof entries)[number] | undefined;
    // Every entry is compared, match or not: the time taken does not say which one matched.
    for (const e of entries) if (timingSafeEqual(h, e.hash) && !found) found = e;
    return found ? { id: found.name, role: found.role, via: found.internal ? 'internal' : 'token' } : undefined;
  };

  const fromCertificate = (socket: unknown): { caller?: Caller; refused?: string } => {
    if (!options.clientCertificates) return {};
    const tls = socket as Partial<TLSSocket> | undefined;
    if (!tls || typeof tls.getPeerCertificate !== 'function') return {};
    const cert = tls.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return {};
    if (!tls.authorized) return { refused: 'the client certificate is not signed by a CA this server trusts' };
    const ou = [cert.subject?.OU].flat()[0];
    const role: Role = ou === 'submit' || ou === 'read' ? ou : 'read';
    return { caller: { id: `cert:${[cert.subject?.CN].flat()[0] ?? cert.fingerprint256}`, role, via: 'certificate' } };
  };

  const identify: Authenticator['identify'] = (authorization, socket) => {
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) return { caller: undefined, refused: 'the authorization header must be "Bearer <token>"' };
      const caller = fromToken(m[1]!);
      return caller ? { caller } : { caller: undefined, refused: 'the bearer token is not valid' };
    }
    const cert = fromCertificate(socket);
    return { caller: cert.caller, ...(cert.refused ? { refused: cert.refused } : {}) };
  };

  const hostAllowed = (authority: string | undefined) => hosts.size === 0 || (authority !== undefined && hosts.has(hostOf(authority)));
  return {
    required,
    internalToken,
    workerToken: (jobId) => `${WORKER_PREFIX}${Buffer.from(jobId, 'utf8').toString('base64url')}.${mac(jobId).toString('base64url')}`,
    identify,
    hostAllowed,
    contextValues(req) {
      const authority = req.authority ?? (typeof req.headers.host === 'string' ? req.headers.host : undefined);
      const header = req.headers.authorization;
      const auth: RequestAuth = { caller: undefined };
      if (!hostAllowed(authority)) auth.badHost = (authority ?? '').slice(0, 100);
      if (required) Object.assign(auth, identify(Array.isArray(header) ? header[0] : header, req.socket));
      else auth.caller = { id: 'open', role: 'submit', via: 'open' };
      return createContextValues().set(REQUEST_AUTH, auth);
    },
  };
}

/** The role each RPC needs (`service/method`); `none` for the health service; `read` for anything not listed. */
const NEEDS: Readonly<Record<string, Role | 'none'>> = {
  'grpc.health.v1.Health/*': 'none',
  'robustness.v1.HardeningService/Harden': 'submit',
  'robustness.v1.HardeningService/CancelJob': 'submit',
  'robustness.v1.EvaluationService/Evaluate': 'submit',
  'robustness.v1.EvaluationService/CancelEvaluation': 'submit',
  'robustness.v1.AdversarialService/GenerateAdversarial': 'submit',
  'robustness.v1.JobWorkerService/*': 'worker',
};

export function roleNeeded(service: string, method: string): Role | 'none' {
  return NEEDS[`${service}/${method}`] ?? NEEDS[`${service}/*`] ?? 'read';
}

/** Whether `role` may do what `needed` asks. */
export function roleAllows(role: Role, needed: Role | 'none'): boolean {
  if (needed === 'none') return true;
  if (needed === 'worker') return role === 'worker';
  if (needed === 'read') return role === 'read' || role === 'submit';
  return role === 'submit';
}

/**
 * The authorization interceptor: a request to a Host this server does not serve is
 * PERMISSION_DENIED; when credentials are required, a call without good ones is UNAUTHENTICATED and
 * one whose role does not cover the RPC (or a worker token used for another job) PERMISSION_DENIED.
 */
export function authorization(auth: Pick<Authenticator, 'required'>): Interceptor {
  return (next) => async (req) => {
    const needed = roleNeeded(req.service.typeName, req.method.name);
    // Health answers probes whatever Host they name (kubelet names the pod IP).
    if (needed === 'none') return next(req);
    const ra = req.contextValues.get(REQUEST_AUTH);
    if (ra.badHost !== undefined) throw new ConnectError('this server does not serve the host the request names', Code.PermissionDenied);
    if (!auth.required) return next(req);
    const caller = ra.caller;
    if (!caller) throw new ConnectError(ra.refused ?? 'this server requires credentials: a bearer token (authorization: Bearer TOKEN) or a client certificate', Code.Unauthenticated);
    if (!roleAllows(caller.role, needed)) throw new ConnectError(`the ${caller.role} role may not call ${req.method.name}; it needs ${needed}`, Code.PermissionDenied);
    if (needed === 'worker') {
      const jobId = req.stream ? undefined : (req.message as { jobId?: unknown }).jobId;
      if (jobId !== caller.jobId) throw new ConnectError('this worker token is for another job', Code.PermissionDenied);
    }
    return next(req);
  };
}

/** A client interceptor sending `authorization: Bearer <token>`. */
export function bearerToken(token: string): Interceptor {
  return (next) => async (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
}
