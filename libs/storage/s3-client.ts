/**
 * The S3 client the `s3://` store uses, configured for AWS and for S3-compatible servers alike.
 *
 * Everything not given comes from the standard AWS configuration, as in the AWS CLI: endpoint from
 * `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or the profile's `endpoint_url`; region from `AWS_REGION`
 * or the profile (else `us-east-1`); credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
 * `AWS_PROFILE` and the rest of the SDK's default chain.
 */
import { S3Client } from '@aws-sdk/client-s3';

/** Connection settings; every field is optional. */
export interface S3ClientOptions {
  /**
   * The server's URL, e.g. `http://127.0.0.1:8080` for a local Swift or MinIO.
   * @default the SDK's: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url, else AWS
   */
  endpoint?: string;
  /** @default AWS_REGION, else the profile's region, else 'us-east-1' */
  region?: string;
  /** @default the SDK's default chain (environment, shared config and credentials files, SSO, …) */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Attempts per request, the first included. The SDK's standard retry mode retries throttling
   * (`SlowDown`, 429…), 5xx, timeouts and connection errors with exponential backoff and jitter
   * (base 100 ms, 500 ms when throttled, capped at 20 s), bounded by a retry quota; it never retries
   * 4xx errors such as `AccessDenied`, `InvalidAccessKeyId` or `SignatureDoesNotMatch`.
   * @default 4
   */
  maxAttempts?: number;
  /** Milliseconds to open a TCP connection before the attempt fails (and is retried). @default 5000 */
  connectTimeoutMs?: number;
  /**
   * Milliseconds a connection may sit idle (no byte sent or received) before the attempt fails
   * with a timeout (and is retried). @default 60000
   */
  idleTimeoutMs?: number;
}

export const DEFAULT_S3_REGION = 'us-east-1';

/**
 * A client with path-style addressing (`endpoint/bucket/key`: what MinIO, Ceph and Swift expect)
 * and request checksums / response validation only `WHEN_REQUIRED`: the SDK's default CRC32 trailers
 * (aws-chunked bodies) are rejected by many S3-compatible servers. Integrity is checked end to end by
 * the sha256 manifests instead (see `manifest.ts`).
 */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  // Node 20 is this project's floor; the SDK's notice that future releases need Node 22 would only
  // clutter the CLI's stderr. Respect a value the user set.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const maxAttempts = options.maxAttempts ?? 4;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  return new S3Client({
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    region: options.region ?? resolveRegion,
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 5_000, socketTimeout: options.idleTimeoutMs ?? 60_000 },
  });
}

let sdkRegion: (() => Promise<string>) | undefined;

/** The SDK's own region resolution (environment, then profile), defaulting to us-east-1 instead of failing. */
async function resolveRegion(): Promise<string> {
  const fromEnv = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (fromEnv) return fromEnv;
  // A client built without a region resolves it the SDK's way; borrow that resolution.
  sdkRegion ??= new S3Client({}).config.region;
  try {
    return await sdkRegion();
  } catch {
    return DEFAULT_S3_REGION;
  }
}
