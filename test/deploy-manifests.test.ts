/**
 * The Kubernetes manifests and Dockerfiles in deploy/, checked against the Kubernetes schemas and
 * against the code they run: `kubectl kustomize` renders both overlays (and the scale-out
 * component); every object validates with its `kubernetes-models` class; ports, gRPC health service
 * names, image names, command-line flags and environment variable names agree with what the code
 * defines and reads; the Dockerfiles follow the rules the deployment relies on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_PORT } from '../libs/rpc/index.js';
import { AdversarialService } from '../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import { EvaluationService } from '../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { HardeningService } from '../libs/rpc/gen/robustness/v1/hardening_pb.js';
import type { KubernetesApi, PodObject } from '../libs/jobs/kubernetes/index.js';
import { evalShardsFromEnv, K8S_ENV, kubernetesRunnerOptionsFromEnv } from '../libs/jobs/kubernetes/index.js';
import { createKubernetesRunner } from '../libs/jobs/kubernetes/index.js';
import { TELEMETRY_ENV } from '../libs/telemetry/index.js';
import { hasKubectl, kustomize, type K8sObject } from './helpers/kustomize.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEPLOY = join(ROOT, 'deploy');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const CLI = join(ROOT, 'dist/cli/main.js');

/** The gRPC health service each Deployment's probes must name: what its server registers. */
const HEALTH_NAME: Record<string, string> = {
  'harden-training': HardeningService.typeName,
  'harden-adversarial': AdversarialService.typeName,
  'harden-evaluation': EvaluationService.typeName,
};

type Container = {
  name: string;
  image: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: unknown; fieldRef?: { fieldPath: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: Record<string, unknown>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
};
type Probe = { grpc?: { port: number; service?: string } };
type PodSpec = { containers: Container[]; nodeSelector?: Record<string, string>; tolerations?: unknown[]; securityContext?: Record<string, unknown>; serviceAccountName?: string; volumes?: Array<Record<string, unknown> & { name: string }> };
type Deployment = K8sObject & { spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } };

const kubectl = hasKubectl();
const skip = kubectl ? false : 'kubectl (with kustomize) is not installed';

function render(overlay: string) {
  return kustomize(join(DEPLOY, 'k8s', overlay));
}

function byKind<T extends K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

function container(d: Deployment): Container {
  const c = d.spec.template.spec.containers.find((x) => x.name === 'harden');
  assert.ok(c, `${d.metadata.name} has a container named harden (the Kubernetes runner copies it)`);
  return c;
}

/** The import path of a kind's model class in kubernetes-models. */
function modelPath(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

async function validateAll(objects: K8sObject[]): Promise<void> {
  for (const o of objects) {
    const mod = (await import(modelPath(o.apiVersion, o.kind))) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = mod[o.kind];
    assert.ok(Model, `kubernetes-models has ${o.apiVersion} ${o.kind}`);
    try {
      new Model(o).validate();
    } catch (error) {
      assert.fail(`${o.kind}/${o.metadata.name} is invalid: ${(error as Error).message}`);
    }
  }
}

/** Every file under `dir` with one of `exts`. */
function files(dir: string, exts: string[]): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'gen') out.push(...files(path, exts));
    } else if (exts.some((e) => entry.name.endsWith(e)) && !entry.name.endsWith('.spec.ts')) out.push(path);
  }
  return out;
}

const SOURCE = ['libs', 'cli', 'services'].flatMap((d) => files(join(ROOT, d), ['.ts'])).map((f) => readFileSync(f, 'utf8')).join('\n');

/** Whether `name` is read by our code (as a string literal) or by the library that owns its prefix. */
function readByCode(name: string): string | undefined {
  if (SOURCE.includes(`'${name}'`) || SOURCE.includes(`"${name}"`) || SOURCE.includes(`\`${name}\``) || SOURCE.includes(`env.${name}`)) return 'our code';
  const owners: Array<[string, string[]]> = [
    ['OTEL_', ['node_modules/@opentelemetry']],
    ['AWS_', ['node_modules/@aws-sdk', 'node_modules/@smithy']],
  ];
  for (const [prefix, dirs] of owners) {
    if (!name.startsWith(prefix)) continue;
    const r = spawnSync('grep', ['-rlF', '--include=*.js', '-m1', name, ...dirs.map((d) => join(ROOT, d))], { encoding: 'utf8' });
    if (r.stdout.trim()) return relative(ROOT, r.stdout.trim().split('\n')[0]);
  }
  // Read by the NVIDIA container runtime on the node, not by a process in the container.
  if (name === 'NVIDIA_DRIVER_CAPABILITIES' || name === 'NVIDIA_VISIBLE_DEVICES') return 'nvidia-container-toolkit';
  return undefined;
}

describe('deploy/k8s manifests', { skip }, () => {
  const cpu = kubectl ? render('overlays/cpu') : { yaml: '', objects: [] };
  const gpu = kubectl ? render('overlays/gpu') : { yaml: '', objects: [] };

  it('render, and every object validates against the Kubernetes schemas', async () => {
    for (const { objects } of [cpu, gpu]) {
      const kinds = new Set(objects.map((o) => o.kind));
      for (const k of ['Deployment', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceAccount', 'Role', 'RoleBinding', 'PersistentVolumeClaim']) assert.ok(kinds.has(k), `renders a ${k}`);
      await validateAll(objects);
    }
  });

  it('run one Deployment and one Service per service, on the code’s port, with gRPC probes naming its health service', () => {
    for (const { objects } of [cpu, gpu]) {
      const deployments = byKind<Deployment>(objects, 'Deployment');
      assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), Object.keys(HEALTH_NAME).sort());
      for (const d of deployments) {
        const c = container(d);
        const grpcPort = c.ports?.find((p) => p.name === 'grpc')?.containerPort;
        assert.equal(grpcPort, DEFAULT_PORT, `${d.metadata.name}: container port is libs/rpc DEFAULT_PORT`);
        const args = c.args ?? [];
        assert.equal(args[0], 'serve');
        assert.equal(args[args.indexOf('--port') + 1], String(DEFAULT_PORT));
        assert.equal(args[args.indexOf('--service') + 1], d.metadata.name.replace('harden-', ''));
        assert.equal(args[args.indexOf('--host') + 1], '0.0.0.0', 'listens beyond loopback');
        // TLS on the RPC port, so the kubelet's gRPC probes (no TLS, no token) go to the plaintext
        // health-only port that HARDEN_HEALTH_PORT opens.
        const healthPort = c.ports?.find((p) => p.name === 'health')?.containerPort;
        assert.ok(healthPort && healthPort !== DEFAULT_PORT, `${d.metadata.name} has a health port`);
        const config = byKind<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap').find((m) => m.metadata.name.startsWith('harden-config'))!;
        assert.equal(config.data.HARDEN_HEALTH_PORT, String(healthPort));
        for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
          const probe = c[kind]?.grpc;
          assert.ok(probe, `${d.metadata.name} has a native grpc ${kind}`);
          assert.equal(probe.port, healthPort);
          assert.equal(probe.service, HEALTH_NAME[d.metadata.name], `${d.metadata.name} ${kind} names its health service`);
        }
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${d.metadata.name} requests resources`);
        assert.equal(d.spec.template.spec.securityContext?.runAsNonRoot, true);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
        const svc = byKind<K8sObject & { spec: { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> } }>(objects, 'Service').find((s) => s.metadata.name === d.metadata.name);
        assert.ok(svc, `a Service for ${d.metadata.name}`);
        assert.equal(svc.spec.ports[0].port, DEFAULT_PORT);
        assert.equal(svc.spec.ports[0].targetPort, 'grpc');
        for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(d.spec.template.metadata.labels[k], v, `Service ${svc.metadata.name} selects its pods`);
      }
      const svcPorts = byKind<K8sObject & { spec: { ports: Array<{ port: number }> } }>(objects, 'Service').flatMap((x) => x.spec.ports.map((p) => p.port));
      assert.ok(!svcPorts.some((p) => p !== DEFAULT_PORT), 'no Service exposes the health port');
      const policy = byKind<K8sObject & { spec: { ingress: Array<{ ports: Array<{ port: number }> }> } }>(objects, 'NetworkPolicy')[0];
      assert.deepEqual(policy.spec.ingress.flatMap((r) => r.ports.map((p) => p.port)), [DEFAULT_PORT]);
      const pdbs = byKind<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget');
      for (const d of deployments) {
        const labels = d.spec.template.metadata.labels;
        assert.ok(pdbs.some((p) => Object.entries(p.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)), `a PodDisruptionBudget covers ${d.metadata.name}`);
      }
    }
  });

  it('use the images the Dockerfiles build, tagged with the package version; GPUs only in the gpu overlay', () => {
    const images = (objects: K8sObject[]) => Object.fromEntries(byKind<Deployment>(objects, 'Deployment').map((d) => [d.metadata.name, container(d).image]));
    assert.deepEqual(images(cpu.objects), { 'harden-training': `harden:${VERSION}`, 'harden-adversarial': `harden:${VERSION}`, 'harden-evaluation': `harden:${VERSION}` });
    assert.deepEqual(images(gpu.objects), { 'harden-training': `harden-gpu:${VERSION}`, 'harden-adversarial': `harden-gpu:${VERSION}`, 'harden-evaluation': `harden:${VERSION}` });
    for (const d of byKind<Deployment>(cpu.objects, 'Deployment')) assert.equal(container(d).resources?.limits?.['nvidia.com/gpu'], undefined);
    for (const d of byKind<Deployment>(gpu.objects, 'Deployment')) {
      const gpus = container(d).resources?.limits?.['nvidia.com/gpu'];
      const env = Object.fromEntries((container(d).env ?? []).map((e) => [e.name, e.value]));
      if (d.metadata.name === 'harden-evaluation') {
        assert.equal(gpus, undefined);
        continue;
      }
      assert.equal(gpus, '1', `${d.metadata.name} gets a GPU`);
      assert.equal(env.HARDEN_BACKEND, 'webgpu');
      assert.match(env.NVIDIA_DRIVER_CAPABILITIES ?? '', /graphics/);
      assert.ok(d.spec.template.spec.tolerations?.length, `${d.metadata.name} tolerates GPU taints`);
    }
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.ok(readme.includes(`-f deploy/Dockerfile -t`) && readme.includes(`-f deploy/Dockerfile.gpu -t`), 'the README builds both images');
  });

  it('set only environment variables the code (or its libraries) reads, and reference only defined ones', () => {
    for (const { objects } of [cpu, gpu]) {
      const config = byKind<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith('harden-config'))!;
      const names = new Set(Object.keys(config.data));
      for (const d of byKind<Deployment>(objects, 'Deployment')) {
        const c = container(d);
        assert.ok(c.envFrom?.some((e) => e.configMapRef?.name === config.metadata.name), `${d.metadata.name} takes the ConfigMap`);
        for (const e of c.env ?? []) names.add(e.name);
        const defined = new Set([...Object.keys(config.data), ...(c.env ?? []).map((e) => e.name)]);
        for (const arg of c.args ?? []) for (const [, ref] of arg.matchAll(/\$\(([A-Z0-9_]+)\)/g)) assert.ok(defined.has(ref), `${d.metadata.name} args reference $(${ref}), which is defined`);
        const secretRefs = (c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
        assert.deepEqual(secretRefs.map((r) => `${r.name}/${r.key}`).sort(), ['harden-s3/AWS_ACCESS_KEY_ID', 'harden-s3/AWS_SECRET_ACCESS_KEY'], 'S3 credentials come from the harden-s3 Secret');
      }
      for (const name of names) assert.ok(readByCode(name), `${name} (set in the manifests) is read by some code`);
      for (const name of [TELEMETRY_ENV.ENDPOINT, TELEMETRY_ENV.PROTOCOL, K8S_ENV.RUNNER, K8S_ENV.TRAINING_URL]) assert.ok(names.has(name), `the manifests set ${name}`);
      const trainingUrl = new URL(config.data[K8S_ENV.TRAINING_URL]);
      assert.equal(trainingUrl.hostname, 'harden-training');
      assert.equal(Number(trainingUrl.port), DEFAULT_PORT);
    }
  });

  it('serve TLS from the harden-tls Secret, tokens from harden-auth, and call each other over https', () => {
    for (const { objects } of [cpu, gpu]) {
      const config = byKind<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap').find((m) => m.metadata.name.startsWith('harden-config'))!;
      for (const url of [config.data[K8S_ENV.TRAINING_URL], config.data[K8S_ENV.EVALUATION_URL]]) assert.equal(new URL(url!).protocol, 'https:', url);
      for (const d of byKind<Deployment>(objects, 'Deployment')) {
        const c = container(d);
        const pod = d.spec.template.spec;
        const secretAt = (file: string) => {
          const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
          const volume = pod.volumes?.find((v) => v.name === mount?.name) as { secret?: { secretName: string } } | undefined;
          return volume?.secret?.secretName;
        };
        for (const key of ['HARDEN_TLS_CERT', 'HARDEN_TLS_KEY', K8S_ENV.CA_FILE]) assert.equal(secretAt(config.data[key]!), 'harden-tls', `${d.metadata.name}: ${key} lies in the harden-tls Secret`);
        for (const key of ['HARDEN_AUTH_TOKENS', 'HARDEN_WORKER_KEY_FILE', 'HARDEN_EVALUATION_TOKEN_FILE']) assert.equal(secretAt(config.data[key]!), 'harden-auth', `${d.metadata.name}: ${key} lies in the harden-auth Secret`);
      }
    }
  });

  it('pass only flags that harden serve accepts', () => {
    const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const d of byKind<Deployment>(gpu.objects, 'Deployment')) {
      for (const flag of (container(d).args ?? []).filter((a) => a.startsWith('--'))) assert.ok(help.stdout.includes(flag), `harden serve --help lists ${flag}`);
    }
  });

  it('give scale-out workers (the component on the gpu overlay) a valid GPU Job from the training pod', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'harden-kustomize-'));
    writeFileSync(join(dir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${relative(dir, join(DEPLOY, 'k8s/overlays/gpu'))}\ncomponents:\n  - ${relative(dir, join(DEPLOY, 'k8s/components/scale-out'))}\n`);
    const { objects } = kustomize(dir);
    await validateAll(objects);
    const config = byKind<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap')[0];
    assert.equal(config.data[K8S_ENV.RUNNER], 'kubernetes');
    const training = byKind<Deployment>(objects, 'Deployment').find((d) => d.metadata.name === 'harden-training')!;
    assert.equal(training.spec.template.spec.serviceAccountName, 'harden-training');
    const role = byKind<K8sObject & { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }>(objects, 'Role')[0];
    for (const verb of ['create', 'get', 'delete']) assert.ok(role.rules.some((r) => r.apiGroups.includes('batch') && r.resources.includes('jobs') && r.verbs.includes(verb)), `the runner may ${verb} Jobs`);
    assert.ok(role.rules.some((r) => r.resources.includes('pods') && r.verbs.includes('get')), 'the runner may read its own pod');
    // The runner as the training pod would configure it: its env and its own pod from the API.
    const pod: PodObject = { metadata: { name: 'harden-training-0', namespace: 'harden' }, spec: training.spec.template.spec as PodObject['spec'] };
    const env: Record<string, string> = { ...config.data, POD_NAME: 'harden-training-0', POD_NAMESPACE: 'harden' };
    for (const e of container(training).env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const api = { readPod: async () => pod } as unknown as KubernetesApi;
    const options = await kubernetesRunnerOptionsFromEnv(env, api);
    const job = createKubernetesRunner(options).manifest('0b6c1f9e-3c2d-4a55-9a1e-2f0f5e3f7a10') as unknown as K8sObject & { spec: { template: { spec: PodSpec } } };
    await validateAll([job]);
    const worker = job.spec.template.spec.containers[0];
    assert.equal(worker.image, `harden-gpu:${VERSION}`);
    assert.equal(worker.resources?.limits?.['nvidia.com/gpu'], '1');
    assert.deepEqual(job.spec.template.spec.nodeSelector, training.spec.template.spec.nodeSelector);
    assert.ok(worker.envFrom?.some((e) => e.configMapRef?.name === config.metadata.name), 'workers get the same ConfigMap');
    assert.ok(worker.env?.some((e) => e.valueFrom?.secretKeyRef?.name === 'harden-s3'), 'and the S3 Secret');
    // The CA it reports over TLS with, and nothing else of the TLS Secret (the server's key stays out).
    const caFile = config.data[K8S_ENV.CA_FILE]!;
    const caMount = worker.volumeMounts?.find((m) => caFile.startsWith(`${m.mountPath}/`));
    assert.ok(caMount, 'workers mount the folder of HARDEN_CA_FILE');
    const caVolume = job.spec.template.spec.volumes?.find((v) => v.name === caMount.name) as { secret?: { secretName: string; items?: Array<{ key: string; path: string }> } };
    assert.equal(caVolume.secret?.secretName, 'harden-tls');
    assert.deepEqual(caVolume.secret?.items, [{ key: 'ca.crt', path: 'ca.crt' }], 'only ca.crt');
    assert.ok(!job.spec.template.spec.volumes?.some((v) => JSON.stringify(v).includes('harden-auth')), 'workers get no token file: their own token comes in the environment');
    const args = worker.args ?? [];
    assert.deepEqual(args.slice(0, 3), ['worker', '--job', '0b6c1f9e-3c2d-4a55-9a1e-2f0f5e3f7a10']);
    assert.equal(args[args.indexOf('--server') + 1], config.data[K8S_ENV.TRAINING_URL]);
    const help = spawnSync(process.execPath, [CLI, 'worker', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const flag of args.filter((a) => a.startsWith('--'))) assert.ok(help.stdout.includes(flag), `harden worker --help lists ${flag}`);

    // Evaluation shards: the evaluation pod's runner makes a valid Indexed Job on CPU nodes.
    const shards = Number(config.data[K8S_ENV.EVAL_SHARDS]);
    assert.ok(shards > 1, 'the scale-out component shards evaluations');
    assert.equal(evalShardsFromEnv(config.data), shards);
    const evaluation = byKind<Deployment>(objects, 'Deployment').find((d) => d.metadata.name === 'harden-evaluation')!;
    assert.equal(evaluation.spec.template.spec.serviceAccountName, 'harden-evaluation');
    const binding = byKind<K8sObject & { subjects: Array<{ name: string }>; roleRef: { name: string } }>(objects, 'RoleBinding')[0];
    assert.deepEqual(binding.subjects.map((x) => x.name).sort(), ['harden-evaluation', 'harden-training'], 'both runners may use the Role');
    const evalPod: PodObject = { metadata: { name: 'harden-evaluation-0', namespace: 'harden' }, spec: evaluation.spec.template.spec as PodObject['spec'] };
    const evalEnv: Record<string, string> = { ...config.data, POD_NAME: 'harden-evaluation-0', POD_NAMESPACE: 'harden' };
    const evalOptions = await kubernetesRunnerOptionsFromEnv(evalEnv, { readPod: async () => evalPod } as unknown as KubernetesApi, 'evaluation');
    const evalJob = createKubernetesRunner(evalOptions).manifest('7d1e', undefined, shards) as unknown as K8sObject & { spec: Record<string, unknown> & { template: { spec: PodSpec } } };
    await validateAll([evalJob]);
    assert.equal(evalJob.metadata.name, 'harden-eval-7d1e');
    assert.equal(evalJob.spec.completionMode, 'Indexed');
    assert.equal(evalJob.spec.completions, shards);
    const shardWorker = evalJob.spec.template.spec.containers[0];
    assert.equal(shardWorker.image, `harden:${VERSION}`, 'shards run the CPU image of the evaluation pod');
    assert.equal(shardWorker.resources?.limits?.['nvidia.com/gpu'], undefined);
    const shardArgs = shardWorker.args ?? [];
    assert.equal(shardArgs[shardArgs.indexOf('--server') + 1], config.data[K8S_ENV.EVALUATION_URL]);
    assert.equal(new URL(config.data[K8S_ENV.EVALUATION_URL]).hostname, 'harden-evaluation');
  });
});

describe('deploy/Dockerfile and Dockerfile.gpu', () => {
  const read = (name: string) => readFileSync(join(DEPLOY, name), 'utf8');
  /** Instructions with line continuations joined, comments dropped. */
  const instructions = (text: string) => text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  for (const name of ['Dockerfile', 'Dockerfile.gpu']) {
    it(`${name}: multi-stage, production dependencies only, non-root, the code's port, telemetry first`, () => {
      const lines = instructions(read(name));
      const froms = lines.filter((l) => /^FROM /i.test(l));
      assert.ok(froms.length >= 3, 'build, deps and runtime stages');
      const runtimeStart = lines.lastIndexOf(froms.at(-1)!);
      const runtime = lines.slice(runtimeStart);
      assert.ok(lines.some((l) => /npm ci .*--omit=dev/.test(l)), 'npm ci --omit=dev');
      assert.ok(!runtime.some((l) => /^RUN .*npm (ci|install)/.test(l)), 'no install in the runtime stage: node_modules come from the deps stage');
      const user = runtime.find((l) => /^USER /.test(l));
      assert.match(user ?? '', /^USER [1-9]\d*(:\d+)?$/, 'a numeric non-root USER (Kubernetes can verify runAsNonRoot)');
      assert.equal(runtime.find((l) => /^EXPOSE /.test(l)), `EXPOSE ${DEFAULT_PORT}`);
      const entry = JSON.parse(runtime.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length)) as string[];
      assert.deepEqual(entry.slice(0, 2), ['node', '--import']);
      for (const path of entry.slice(2)) assert.ok(existsSync(join(ROOT, path.replace('/app/', ''))), `${path} exists in the build output`);
      for (const l of lines.filter((x) => /^COPY /.test(x) && !x.includes('--from='))) {
        const parts = l.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1)) assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists`);
      }
      for (const l of runtime.filter((x) => x.includes('--from=build'))) {
        const src = l.split(/\s+/).filter((p) => !p.startsWith('--'))[1].replace('/src/', '');
        assert.ok(existsSync(join(ROOT, src)) && statSync(join(ROOT, src)).isDirectory(), `the build stage produces ${src}`);
      }
      assert.ok(existsSync(join(DEPLOY, `${name}.dockerignore`)), 'a .dockerignore keeps node_modules and dist out of the context');
    });
  }

  it('Dockerfile.gpu brings the Vulkan loader and asks the NVIDIA runtime for graphics', () => {
    const text = read('Dockerfile.gpu');
    assert.match(text, /apt-get install[^\n]*libvulkan1/);
    assert.match(text, /NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
    assert.match(text, /HARDEN_BACKEND=webgpu/);
    const icd = /printf '%s\\n' '([^']+)' > (\S+)/.exec(text);
    assert.ok(icd, 'writes an ICD file');
    assert.equal((JSON.parse(icd[1]) as { ICD: { library_path: string } }).ICD.library_path, 'libGLX_nvidia.so.0');
    assert.equal(icd[2], '/etc/vulkan/icd.d/nvidia_icd.json');
  });
});
