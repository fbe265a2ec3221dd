import fs from 'node:fs';
import path from 'node:path';
import type { IContainer, IPodSpec, IProbe } from 'kubernetes-models/v1';
import { beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../vitest.shared.js';
import {
  OVERLAYS,
  parseManifests,
  REPO_ROOT,
  renderKustomization,
  validateObject,
  type K8sObject,
  type Overlay,
} from './kustomize.js';

/** The rendered overlays, once for the whole file (each render is one kubectl run). */
const rendered = new Map<Overlay, K8sObject[]>();

/** Rendering needs kubectl; without it every test of this file is skipped (with the reason, once). */
const noKubectl = lacks('kubectl');

beforeAll(() => {
  if (noKubectl) return;
  for (const overlay of OVERLAYS) rendered.set(overlay, renderKustomization(`deploy/k8s/overlays/${overlay}`));
});

function objectsOf(overlay: Overlay): K8sObject[] {
  const objects = rendered.get(overlay);
  if (!objects) throw new Error(`overlay ${overlay} was not rendered`);
  return objects;
}

function find<T = Record<string, unknown>>(overlay: Overlay, kind: string, name: string): K8sObject & T {
  const object = objectsOf(overlay).find((o) => o.kind === kind && o.metadata.name === name);
  if (!object) throw new Error(`${overlay}: no ${kind} ${name}`);
  return object as K8sObject & T;
}

interface Workload {
  spec: {
    replicas?: number;
    serviceName?: string;
    strategy?: { type?: string };
    template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: IPodSpec };
  };
}

const coordinatorOf = (overlay: Overlay) => find<Workload>(overlay, 'Deployment', 'supwalsh-coordinator');
const workersOf = (overlay: Overlay) => find<Workload>(overlay, 'StatefulSet', 'supwalsh-worker');
const podSpecs = (overlay: Overlay): Array<[string, IPodSpec]> => [
  ['coordinator', coordinatorOf(overlay).spec.template.spec],
  ['worker', workersOf(overlay).spec.template.spec],
];
const containersOf = (overlay: Overlay): Array<[string, IContainer]> =>
  podSpecs(overlay).flatMap(([who, spec]) =>
    [...(spec.initContainers ?? []), ...spec.containers].map((c): [string, IContainer] => [`${who}/${c.name}`, c])
  );
const envOf = (container: IContainer) => new Map((container.env ?? []).map((e) => [e.name, e] as const));

const HEALTH_PORT = 8081;
const SECRET_KEYS = /TOKEN|PASSWORD|SECRET|_KEY$|CREDENTIAL/i;

describe.skipIf(noKubectl).each(OVERLAYS)('the %s overlay', (overlay) => {
  it('renders with kubectl kustomize, every object in one namespace', () => {
    const objects = objectsOf(overlay);
    expect(objects.length).toBeGreaterThan(5);
    const namespaced = objects.filter((o) => o.kind !== 'Namespace');
    const namespaces = new Set(namespaced.map((o) => o.metadata.namespace));
    expect([...namespaces]).toEqual([overlay === 'dev' ? 'supwalsh-dev' : 'supwalsh']);
  });

  it('validates every rendered object against the Kubernetes API schemas', async () => {
    for (const object of objectsOf(overlay)) await validateObject(object);
  });

  it('runs one coordinator replica, recreated on upgrade, with its data on a ReadWriteOnce claim', () => {
    const coordinator = coordinatorOf(overlay);
    expect(coordinator.spec.replicas).toBe(1);
    expect(coordinator.spec.strategy?.type).toBe('Recreate');
    const pod = coordinator.spec.template.spec;
    const claim = pod.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
    expect(claim).toBe('supwalsh-coordinator-data');
    const pvc = find<{ spec: { accessModes: string[]; resources: { requests: { storage: string } } } }>(
      overlay,
      'PersistentVolumeClaim',
      claim!
    );
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
    const dataMount = pod.containers[0]!.volumeMounts?.find((m) => m.name === 'data');
    expect(dataMount?.mountPath).toBe(envOf(pod.containers[0]!).get('SUPWALSH_DATA_DIR')?.value);
    const service = find<{ spec: { selector: Record<string, string>; ports: Array<{ port: number }> } }>(
      overlay,
      'Service',
      'supwalsh-coordinator'
    );
    expect(service.spec.ports.map((p) => p.port)).toEqual([50051, 8080]);
    expect(coordinator.spec.template.metadata?.labels).toMatchObject(service.spec.selector);
  });

  it('gives the workers a headless Service that the StatefulSet names and that publishes unready pods', () => {
    const workers = workersOf(overlay);
    const service = find<{ spec: { clusterIP: string; publishNotReadyAddresses: boolean; selector: object } }>(
      overlay,
      'Service',
      workers.spec.serviceName!
    );
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.publishNotReadyAddresses).toBe(true);
    expect(workers.spec.template.metadata?.labels).toMatchObject(service.spec.selector);
    expect(workers.spec.replicas).toBeGreaterThanOrEqual(1);
  });

  it('makes each worker register under its pod name and advertise its headless-Service DNS name', () => {
    const container = workersOf(overlay).spec.template.spec.containers[0]!;
    const env = envOf(container);
    expect(env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env.get('POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(env.get('SUPWALSH_WORKER_ID')?.value).toBe('$(POD_NAME)');
    const serviceName = workersOf(overlay).spec.serviceName;
    expect(env.get('SUPWALSH_ADVERTISE')?.value).toBe(
      `$(POD_NAME).${serviceName}.$(POD_NAMESPACE).svc.cluster.local:50061`
    );
    expect(env.get('SUPWALSH_LISTEN')?.value).toBe('0.0.0.0:50061');
    // $(VAR) only expands variables defined earlier in the list.
    const names = (container.env ?? []).map((e) => e.name);
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('SUPWALSH_ADVERTISE'));
    expect(names.indexOf('POD_NAMESPACE')).toBeLessThan(names.indexOf('SUPWALSH_ADVERTISE'));
    const config = find<{ data: Record<string, string> }>(
      overlay,
      'ConfigMap',
      container.envFrom![0]!.configMapRef!.name!
    );
    expect(config.data['SUPWALSH_COORDINATOR']).toBe('supwalsh-coordinator:50051');
  });

  it('serves the dashboard on the port the ConfigMap, the container and the Service name', () => {
    const container = coordinatorOf(overlay).spec.template.spec.containers[0]!;
    const config = find<{ data: Record<string, string> }>(
      overlay,
      'ConfigMap',
      container.envFrom![0]!.configMapRef!.name!
    );
    expect(config.data['SUPWALSH_HTTP_LISTEN']).toBe('0.0.0.0:8080');
    expect(container.ports?.find((p) => p.name === 'dashboard')?.containerPort).toBe(8080);
    const service = find<{ spec: { ports: Array<{ name: string; port: number; targetPort: string }> } }>(
      overlay,
      'Service',
      'supwalsh-coordinator'
    );
    expect(service.spec.ports.find((p) => p.name === 'dashboard')).toMatchObject({
      port: 8080,
      targetPort: 'dashboard',
    });
  });

  it('lets workers drain on SIGTERM (termination grace of at least 60 s)', () => {
    expect(workersOf(overlay).spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });

  it('probes every container with gRPC health on the plaintext health port, served on every interface', () => {
    for (const [who, container] of containersOf(overlay)) {
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
        const probe: IProbe | undefined = container[kind];
        expect(probe?.grpc?.port, `${who} ${kind}`).toBe(HEALTH_PORT);
        expect(probe?.httpGet ?? probe?.tcpSocket ?? probe?.exec, `${who} ${kind}`).toBeUndefined();
      }
      expect(envOf(container).get('SUPWALSH_HEALTH_LISTEN')?.value, who).toBe(`0.0.0.0:${HEALTH_PORT}`);
      expect(container.ports?.find((p) => p.name === 'health')?.containerPort, who).toBe(HEALTH_PORT);
    }
  });

  it("gives workers a strict liveness probe on the health thread's liveness service", () => {
    const [worker] = workersOf(overlay).spec.template.spec.containers;
    const probe = worker!.livenessProbe!;
    // The health thread answers within milliseconds however long a training step runs (services/worker
    // health-thread.ts): a short timeout and ~30 s to a restart; `liveness` stays SERVING while the worker drains.
    expect(probe.grpc?.service).toBe('liveness');
    expect(probe.timeoutSeconds).toBeLessThanOrEqual(3);
    expect((probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3)).toBeLessThanOrEqual(60);
    // Readiness asks for the whole server, which a draining worker reports NOT_SERVING.
    expect(worker!.readinessProbe?.grpc?.service ?? '').toBe('');
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities', () => {
    for (const [who, spec] of podSpecs(overlay)) {
      expect(spec.securityContext?.runAsNonRoot, who).toBe(true);
      expect(spec.securityContext?.runAsUser, who).toBeGreaterThan(0);
      expect(spec.securityContext?.seccompProfile?.type, who).toBe('RuntimeDefault');
      expect(spec.automountServiceAccountToken, who).toBe(false);
    }
    for (const [who, container] of containersOf(overlay)) {
      const context = container.securityContext;
      expect(context?.runAsNonRoot, who).toBe(true);
      expect(context?.allowPrivilegeEscalation, who).toBe(false);
      expect(context?.readOnlyRootFilesystem, who).toBe(true);
      expect(context?.capabilities?.drop, who).toEqual(['ALL']);
      expect(context?.capabilities?.add ?? [], who).toEqual([]);
      expect(context?.privileged ?? false, who).toBe(false);
      expect(context?.seccompProfile?.type, who).toBe('RuntimeDefault');
    }
  });

  it('gives every directory a process writes a volume (the root filesystem is read-only)', () => {
    for (const [who, container] of containersOf(overlay)) {
      const env = envOf(container);
      const mounts = (container.volumeMounts ?? []).filter((m) => !m.readOnly).map((m) => m.mountPath);
      const writable = ['SUPWALSH_DATA_DIR', 'SUPWALSH_CACHE_DIR']
        .map((name) => env.get(name)?.value)
        .filter((dir): dir is string => dir !== undefined);
      for (const dir of [...writable, '/tmp']) {
        expect(
          mounts.some((m) => dir === m || dir.startsWith(`${m}/`)),
          `${who}: ${dir} on a volume`
        ).toBe(true);
      }
    }
  });

  it('sets CPU and memory requests and limits on every container', () => {
    for (const [who, container] of containersOf(overlay)) {
      for (const side of ['requests', 'limits'] as const) {
        expect(container.resources?.[side]?.['cpu'], `${who} ${side}.cpu`).toBeDefined();
        expect(container.resources?.[side]?.['memory'], `${who} ${side}.memory`).toBeDefined();
      }
    }
  });

  it('references the TLS and token Secrets as read-only files and never inlines a secret', () => {
    expect(objectsOf(overlay).filter((o) => o.kind === 'Secret')).toEqual([]);
    const secretVolumes = (spec: IPodSpec) =>
      new Map((spec.volumes ?? []).filter((v) => v.secret).map((v) => [v.name, v.secret!.secretName] as const));
    const coordinator = coordinatorOf(overlay).spec.template.spec;
    const worker = workersOf(overlay).spec.template.spec;
    expect([...secretVolumes(coordinator).values()].sort()).toEqual(['supwalsh-tls', 'supwalsh-token']);
    expect([...secretVolumes(worker).values()]).toEqual(['supwalsh-tls']);
    for (const [who, spec] of podSpecs(overlay)) {
      const volumes = secretVolumes(spec);
      const container = spec.containers[0]!;
      for (const mount of container.volumeMounts ?? []) {
        if (volumes.has(mount.name)) expect(mount.readOnly, `${who} mount ${mount.name}`).toBe(true);
      }
      const tlsDir = container.volumeMounts?.find((m) => volumes.get(m.name) === 'supwalsh-tls')?.mountPath;
      const env = envOf(container);
      expect(env.get('SUPWALSH_TLS_CERT')?.value, who).toBe(`${tlsDir}/tls.crt`);
      expect(env.get('SUPWALSH_TLS_KEY')?.value, who).toBe(`${tlsDir}/tls.key`);
      expect(env.get('SUPWALSH_TLS_CA')?.value, who).toBe(`${tlsDir}/ca.crt`);
      for (const [name, variable] of env) {
        if (SECRET_KEYS.test(name)) expect(variable.value ?? '', `${who} ${name} must be a path`).toMatch(/^\//);
      }
    }
    const tokenDir = coordinator.containers[0]!.volumeMounts?.find(
      (m) => secretVolumes(coordinator).get(m.name) === 'supwalsh-token'
    )?.mountPath;
    expect(envOf(coordinator.containers[0]!).get('SUPWALSH_TOKEN_FILE')?.value).toBe(`${tokenDir}/tokens`);
    for (const config of objectsOf(overlay).filter((o) => o.kind === 'ConfigMap')) {
      for (const key of Object.keys((config as { data?: object }).data ?? {})) {
        expect(SECRET_KEYS.test(key), `ConfigMap ${config.metadata.name} key ${key}`).toBe(false);
      }
    }
  });

  it('names each service for telemetry and exposes a scrape-annotated metrics port', () => {
    for (const [who, workload] of [
      ['coordinator', coordinatorOf(overlay)],
      ['worker', workersOf(overlay)],
    ] as const) {
      const template = workload.spec.template;
      const container = workload.spec.template.spec.containers[0]!;
      expect(envOf(container).get('OTEL_SERVICE_NAME')?.value).toBe(`supwalsh-${who}`);
      expect(template.metadata?.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9464',
        'prometheus.io/path': '/metrics',
      });
      expect(container.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(9464);
    }
  });

  it('lets only coordinator and workers reach the workers, clients the coordinator, monitoring the metrics', () => {
    interface Policy {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: Array<{
          from?: Array<{ podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: object }>;
          ports: Array<{ port: number }>;
        }>;
      };
    }
    const policies = objectsOf(overlay).filter((o) => o.kind === 'NetworkPolicy') as Array<K8sObject & Policy>;
    const selecting = (component: string) =>
      policies.filter((p) =>
        Object.entries(p.spec.podSelector.matchLabels).every(
          ([k, v]) => ({ 'app.kubernetes.io/name': 'supwalsh', 'app.kubernetes.io/component': component })[k] === v
        )
      );
    const rules = (component: string) => selecting(component).flatMap((p) => p.spec.ingress);
    for (const policy of policies) expect(policy.spec.policyTypes).toEqual(['Ingress']);

    // Worker gRPC: from coordinator and worker pods only; metrics: from a namespace selector only.
    const workerRules = rules('worker');
    expect(workerRules.length).toBeGreaterThan(0);
    for (const rule of workerRules) {
      expect(rule.from, 'every worker rule names its sources').toBeDefined();
      const ports = rule.ports.map((p) => p.port);
      if (ports.includes(50061)) {
        const components = rule.from!.map((f) => f.podSelector?.matchLabels['app.kubernetes.io/component']).sort();
        expect(components).toEqual(['coordinator', 'worker']);
      } else {
        expect(ports).toEqual([9464]);
        expect(rule.from!.every((f) => f.namespaceSelector && !f.podSelector)).toBe(true);
      }
    }
    // Coordinator gRPC: open to clients; nothing else open except metrics from monitoring.
    const coordinatorRules = rules('coordinator');
    expect(coordinatorRules.find((r) => r.from === undefined)?.ports.map((p) => p.port)).toEqual([50051, 8080]);
    for (const rule of coordinatorRules.filter((r) => r.from !== undefined)) {
      expect(rule.ports.map((p) => p.port)).toEqual([9464]);
    }
  });

  it('has a disruption budget that evicts one worker at a time', () => {
    const budget = find<{ spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } } }>(
      overlay,
      'PodDisruptionBudget',
      'supwalsh-worker'
    );
    expect(budget.spec.maxUnavailable).toBe(1);
    expect(budget.spec.selector.matchLabels).toEqual(workersOf(overlay).spec.template.metadata?.labels);
  });
});

describe.skipIf(noKubectl)('the overlays differ where they should', () => {
  const gpuLimit = (overlay: Overlay) =>
    workersOf(overlay).spec.template.spec.containers[0]!.resources?.limits?.['nvidia.com/gpu'];
  const workerConfig = (overlay: Overlay) =>
    find<{ data: Record<string, string> }>(
      overlay,
      'ConfigMap',
      workersOf(overlay).spec.template.spec.containers[0]!.envFrom![0]!.configMapRef!.name!
    ).data;

  it('gpu: one GPU per worker, GPU nodes only, the tensorflow backend and the GPU image', () => {
    expect(gpuLimit('gpu')).toBe(1);
    const spec = workersOf('gpu').spec.template.spec;
    expect(spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
    expect(spec.tolerations).toContainEqual({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(workerConfig('gpu')['SUPWALSH_BACKEND']).toBe('tensorflow');
    expect(spec.containers[0]!.image).toBe('supwalsh/worker-gpu:0.1.0');
  });

  it('cpu and dev: no GPUs, the wasm backend on the CPU image; cpu: one worker per node with its cores', () => {
    for (const overlay of ['cpu', 'dev'] as const) {
      expect(gpuLimit(overlay)).toBeUndefined();
      const spec = workersOf(overlay).spec.template.spec;
      expect(spec.nodeSelector).toBeUndefined();
      expect(workerConfig(overlay)['SUPWALSH_BACKEND']).toBe('wasm');
      expect(spec.containers[0]!.image).toBe('supwalsh/worker-cpu:0.1.0');
    }
    expect(workersOf('dev').spec.template.spec.containers[0]!.resources?.limits?.['cpu']).toBe('1');
    const spec: IPodSpec = workersOf('cpu').spec.template.spec;
    // The CPU limit is the worker's thread count (initEngine reads the cgroup quota): all of an 8-core node.
    expect(spec.containers[0]!.resources?.limits?.['cpu']).toBe('8');
    expect(spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      {
        topologyKey: 'kubernetes.io/hostname',
        labelSelector: {
          matchLabels: { 'app.kubernetes.io/name': 'supwalsh', 'app.kubernetes.io/component': 'worker' },
        },
      },
    ]);
    expect(workerConfig('cpu')['SUPWALSH_THREADS']).toBeUndefined();
  });

  it('every overlay runs the coordinator image and takes its worker count from worker-replicas.yaml alone', () => {
    for (const overlay of OVERLAYS) {
      expect(coordinatorOf(overlay).spec.template.spec.containers[0]!.image).toBe('supwalsh/coordinator:0.1.0');
      const file = path.join(REPO_ROOT, 'deploy/k8s/overlays', overlay, 'worker-replicas.yaml');
      const patch = parseManifests(fs.readFileSync(file, 'utf8'));
      expect(patch).toEqual([
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name: 'supwalsh-worker' },
          spec: { replicas: workersOf(overlay).spec.replicas },
        },
      ]);
    }
    expect(new Set(OVERLAYS.map((o) => workersOf(o).spec.replicas)).size).toBe(OVERLAYS.length);
  });

  it('dev lives in its own namespace, created by the overlay', () => {
    expect(find('dev', 'Namespace', 'supwalsh-dev')).toBeDefined();
    expect(objectsOf('gpu').some((o) => o.kind === 'Namespace')).toBe(false);
  });
});
