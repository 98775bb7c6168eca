/**
 * libs/rpc — the RPC layer shared by the services: the server (Connect on HTTP/2 and HTTP/1.1,
 * gRPC + gRPC-Web + Connect), the standard health and reflection services, the one mapping from
 * domain errors to Connect codes, interceptors, clients and tensor encoding. The generated code of
 * proto/ is in `gen/` (never edited by hand; `npm run generate`). See README.md.
 */
export { createRpcServer, DEFAULT_PORT, DEFAULT_READ_MAX_BYTES, DEFAULT_WRITE_MAX_BYTES, type HttpHandler, type NodeRequest, type NodeResponse, type RpcServer, type RpcServerOptions } from './server.js';
export { describeFailure, invalidField, jobErrorCode, RequestError, toConnectError, type RequestErrorCode } from './errors.js';
export { errorMapping } from './interceptors.js';
export { createAdmission, DEFAULT_ADMISSION_LIMITS, exhausted, type Admission, type AdmissionLimits } from './admission.js';
export {
  authorization,
  bearerToken,
  clientTokenFromText,
  createAuthenticator,
  parseTokenFile,
  readTokenFiles,
  REQUEST_AUTH,
  roleAllows,
  roleNeeded,
  ROLES,
  type Authenticator,
  type AuthOptions,
  type Caller,
  type RequestAuth,
  type Role,
  type TokenEntry,
} from './auth.js';
export { createHealthService, ServingStatus, type HealthService } from './health.js';
export { createReflectionIndex, reflectionV1, reflectionV1alpha, ReflectionV1, ReflectionV1alpha, type ReflectionIndex } from './reflection.js';
export { createServiceClient, createTransport, PROTOCOLS, serverUrl, type Protocol, type TransportOptions } from './client.js';
export { decodeTensor, encodeTensor, type TypedTensor } from './tensors.js';
export { Health } from './gen/grpc/health/v1/health_pb.js';
export { jobCommonToProto, jobEventToProto, jobStateFromProto, jobStateToProto, progressToProto, sequenceFromProto } from './job-messages.js';
export { confinedLocations, folderLocation, OPEN_LOCATIONS, type LocationPolicy } from './locations.js';
export { choice, count, datasetSpec, jsonObjectField, MAX_URI_LENGTH, modelUri, positiveNumber, requestId, resourceId } from './validate.js';
