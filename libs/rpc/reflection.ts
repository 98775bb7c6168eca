/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha `ServerReflectionInfo`), answered from
 * the file descriptors protoc-gen-es embedded in the generated code, so that grpcurl, grpc_cli or
 * Postman can list the services and call them without the .proto files.
 *
 * Files are answered with their transitive dependencies (serialized `FileDescriptorProto`s);
 * symbols are services, methods (`pkg.Service.Method`), messages and enums, nested ones included.
 * The contract defines no extensions: extension queries answer NOT_FOUND (an `error_response`).
 */
import { toBinary, type DescFile, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { ServerReflection as ReflectionV1 } from './gen/grpc/reflection/v1/reflection_pb.js';
import { ServerReflection as ReflectionV1alpha } from './gen/grpc/reflection/v1alpha/reflection_pb.js';

/** gRPC status NOT_FOUND, as `error_response.error_code` carries it. */
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/** What one reflection request asks, for both protocol versions. */
type Question =
  | { case: 'fileByFilename'; value: string }
  | { case: 'fileContainingSymbol'; value: string }
  | { case: 'fileContainingExtension'; value: { containingType: string; extensionNumber: number } }
  | { case: 'allExtensionNumbersOfType'; value: string }
  | { case: 'listServices'; value: string }
  | { case: undefined; value?: undefined };

/** The answer, as a plain init object both versions accept. */
type Answer =
  | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: 'allExtensionNumbersResponse'; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: 'listServicesResponse'; value: { service: { name: string }[] } }
  | { case: 'errorResponse'; value: { errorCode: number; errorMessage: string } };

export interface ReflectionIndex {
  /** Fully qualified names of the services offered. */
  readonly services: readonly string[];
  answer(question: Question): Answer;
}

/**
 * Indexes `files` (and every file they import) and lists `services` (fully qualified names of the
 * services the server actually runs).
 */
export function createReflectionIndex(files: readonly DescFile[], services: readonly string[]): ReflectionIndex {
  const byName = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const messages = new Set<string>();
  const bytes = new Map<string, Uint8Array>();

  const addMessage = (file: DescFile, m: DescMessage) => {
    bySymbol.set(m.typeName, file);
    messages.add(m.typeName);
    for (const n of m.nestedMessages) addMessage(file, n);
    for (const e of m.nestedEnums) bySymbol.set(e.typeName, file);
  };
  const visit = (file: DescFile) => {
    const name = file.proto.name;
    if (byName.has(name)) return;
    byName.set(name, file);
    for (const dep of file.dependencies) visit(dep);
    for (const m of file.messages) addMessage(file, m);
    for (const e of file.enums) bySymbol.set(e.typeName, file);
    for (const s of file.services) {
      bySymbol.set(s.typeName, file);
      for (const m of s.methods) bySymbol.set(`${s.typeName}.${m.name}`, file);
    }
  };
  for (const f of files) visit(f);

  const serialized = (file: DescFile): Uint8Array => {
    let b = bytes.get(file.proto.name);
    if (!b) bytes.set(file.proto.name, (b = toBinary(FileDescriptorProtoSchema, file.proto)));
    return b;
  };
  /** The file, then its transitive dependencies, each once. */
  const withDependencies = (file: DescFile): Uint8Array[] => {
    const out: DescFile[] = [];
    const seen = new Set<string>();
    const walk = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(f);
      for (const d of f.dependencies) walk(d);
    };
    walk(file);
    return out.map(serialized);
  };
  const notFound = (what: string): Answer => ({ case: 'errorResponse', value: { errorCode: NOT_FOUND, errorMessage: what } });

  return {
    services,
    answer(q) {
      switch (q.case) {
        case 'listServices':
          return { case: 'listServicesResponse', value: { service: services.map((name) => ({ name })) } };
        case 'fileByFilename': {
          const file = byName.get(q.value);
          return file ? { case: 'fileDescriptorResponse', value: { fileDescriptorProto: withDependencies(file) } } : notFound(`file "${q.value}" not found`);
        }
        case 'fileContainingSymbol': {
          const symbol = q.value.replace(/^\./, '');
          const file = bySymbol.get(symbol);
          return file ? { case: 'fileDescriptorResponse', value: { fileDescriptorProto: withDependencies(file) } } : notFound(`symbol "${symbol}" not found`);
        }
        case 'fileContainingExtension':
          return notFound(`extension ${q.value.extensionNumber} of "${q.value.containingType}" not found`);
        case 'allExtensionNumbersOfType': {
          const type = q.value.replace(/^\./, '');
          return messages.has(type) ? { case: 'allExtensionNumbersResponse', value: { baseTypeName: type, extensionNumber: [] } } : notFound(`type "${type}" not found`);
        }
        default:
          return { case: 'errorResponse', value: { errorCode: INVALID_ARGUMENT, errorMessage: 'empty reflection request' } };
      }
    },
  };
}

/** The v1 service implementation. */
export function reflectionV1(index: ReflectionIndex): ServiceImpl<typeof ReflectionV1> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: index.answer(req.messageRequest as Question) };
      }
    },
  };
}

/** The v1alpha service implementation (the same answers; older clients still ask it). */
export function reflectionV1alpha(index: ReflectionIndex): ServiceImpl<typeof ReflectionV1alpha> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: index.answer(req.messageRequest as Question) };
      }
    },
  };
}

export { ReflectionV1, ReflectionV1alpha };
