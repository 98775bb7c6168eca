import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { createClient, createRouterTransport, Code, ConnectError } from '@connectrpc/connect';
import { createHealthService, createReflectionIndex, errorMapping, Health, reflectionV1, ReflectionV1, ServingStatus } from './index.js';
import { file_robustness_v1_hardening, HardeningService } from './gen/robustness/v1/hardening_pb.js';
import { file_grpc_health_v1_health } from './gen/grpc/health/v1/health_pb.js';

describe('health and reflection (in process)', () => {
  it('reports per-service status, changes it, and streams changes to Watch', async () => {
    const health = createHealthService([HardeningService.typeName]);
    const client = createClient(Health, createRouterTransport((r) => r.service(Health, health.impl)));
    assert.equal((await client.check({ service: HardeningService.typeName })).status, ServingStatus.SERVING);
    await assert.rejects(client.check({ service: 'x.Y' }), (e: unknown) => ConnectError.from(e).code === Code.NotFound);
    const controller = new AbortController();
    const seen: ServingStatus[] = [];
    const watching = (async () => {
      for await (const r of client.watch({ service: HardeningService.typeName }, { signal: controller.signal })) {
        seen.push(r.status);
        if (seen.length === 1) health.shutdown();
        if (seen.length === 2) controller.abort();
      }
    })().catch(() => undefined);
    await watching;
    assert.deepEqual(seen, [ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    assert.equal((await client.check({ service: '' })).status, ServingStatus.NOT_SERVING);
  });

  it('answers file and symbol requests with the file and its dependencies', async () => {
    const index = createReflectionIndex([file_robustness_v1_hardening, file_grpc_health_v1_health], [HardeningService.typeName]);
    const client = createClient(
      ReflectionV1,
      createRouterTransport((r) => r.service(ReflectionV1, reflectionV1(index)), { router: { interceptors: [errorMapping()] } }),
    );
    const requests = async function* () {
      yield { host: '', messageRequest: { case: 'fileContainingSymbol' as const, value: 'robustness.v1.Job' } };
      yield { host: '', messageRequest: { case: 'fileContainingSymbol' as const, value: 'robustness.v1.HardeningService.WatchJob' } };
      yield { host: '', messageRequest: { case: 'allExtensionNumbersOfType' as const, value: 'robustness.v1.Job' } };
      yield { host: '', messageRequest: { case: 'fileByFilename' as const, value: 'nope.proto' } };
    };
    const answers = [];
    for await (const a of client.serverReflectionInfo(requests())) answers.push(a);
    assert.equal(answers.length, 4);
    const [job, method, extensions, missing] = answers.map((a) => a.messageResponse);
    assert.equal(job.case, 'fileDescriptorResponse');
    const names = (job.value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
    assert.deepEqual(names, ['robustness/v1/hardening.proto', 'google/protobuf/timestamp.proto', 'robustness/v1/job.proto']);
    assert.equal(method.case, 'fileDescriptorResponse');
    assert.deepEqual(extensions, { case: 'allExtensionNumbersResponse', value: extensions.value });
    assert.equal(missing.case, 'errorResponse');
  });
});
