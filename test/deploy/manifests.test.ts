/**
 * deploy/: every YAML file parses, every kustomization renders with `kubectl kustomize`, and every
 * rendered object is valid for the Kubernetes schemas (kubernetes-models: types, enums, required
 * fields; plus TypeScript's excess-property check on the same models, which catches misspelt
 * fields the JSON schemas let through). Then what the manifests promise: hardened pods, a grace
 * period that covers Headway's shutdown, container args the CLI accepts, probes and ports that
 * match the flags, least-privilege RBAC, and discovery URIs that name Services of the example.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import { parseAll, resolveProxyConfig, type ProxyConfig } from '../../src/config/resolve.ts';
import { allOptions, type AnyOptionSpec } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { requireProgram } from '../helpers/required-programs.ts';

const execFileAsync = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEPLOY = join(REPO, 'deploy');
const PACKAGE = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
};

/**
 * Flags (and flag values) the examples use ahead of the features being built; deploy/README.md
 * marks those examples. Until a feature lands they are set aside; once the schema accepts them,
 * they are checked like every other flag.
 */
const AHEAD_OF_FEATURES: readonly { readonly flag: string; readonly value?: string }[] = [
  { flag: 'strategy', value: 'sticky' },
  { flag: 'per-pod-ports' },
  { flag: 'per-pod-max' },
];

/** Time past --shutdown-delay + --drain-timeout before the kubelet's SIGKILL: Headway's final
 * close gives peers 2 s, then the process exits. */
const GRACE_MARGIN_MS = 5_000;

const ZONE_FIELD = "metadata.labels['topology.kubernetes.io/zone']";

interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
}

interface Rendered {
  /** Kustomization directory, relative to deploy/. */
  readonly dir: string;
  readonly objects: readonly K8sObject[];
}

// ---------------------------------------------------------------------------------------------
// Reading deploy/

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(e.name) ? [path] : [];
  });
}

/** Every document of a YAML text; duplicate keys, errors and warnings fail. */
function parseYaml(text: string, where: string): unknown[] {
  return parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).flatMap((doc) => {
    const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
    if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
    const value: unknown = doc.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}

const FILES = yamlFiles(DEPLOY).map((path) => relative(DEPLOY, path));
const KUSTOMIZATION_DIRS = FILES.filter((f) => /(^|\/)kustomization\.yaml$/.test(f)).map((f) =>
  dirname(f),
);

interface Kustomization {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly resources?: readonly string[];
  readonly patches?: readonly { readonly path?: string; readonly patch?: string }[];
  readonly [field: string]: unknown;
}

function readKustomization(dir: string): Kustomization {
  const [doc] = parseYaml(readFileSync(join(DEPLOY, dir, 'kustomization.yaml'), 'utf8'), dir);
  return doc as Kustomization;
}

async function render(dir: string): Promise<Rendered> {
  const { stdout } = await execFileAsync('kubectl', ['kustomize', join(DEPLOY, dir)], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return { dir, objects: parseYaml(stdout, `kubectl kustomize ${dir}`) as K8sObject[] };
}

function kubectlVersion(): string | undefined {
  try {
    return execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Schema validation

/** `apps/v1` + `Deployment` → `kubernetes-models/apps/v1/Deployment`; core `v1` has no group. */
function modelModule(o: K8sObject): string {
  const slash = o.apiVersion.indexOf('/');
  return slash < 0
    ? `kubernetes-models/${o.apiVersion}/${o.kind}`
    : `kubernetes-models/${o.apiVersion.slice(0, slash)}/${o.apiVersion.slice(slash + 1)}/${o.kind}`;
}

const GATEWAY_API = 'gateway.networking.k8s.io/';

function isGatewayApi(o: K8sObject): boolean {
  return o.apiVersion.startsWith(GATEWAY_API);
}

/**
 * kubernetes-models has no Gateway API kinds (@kubernetes-models/gateway-api would add them): the
 * fields Headway and the Gateway API require, checked by hand.
 */
function gatewayApiProblem(o: K8sObject): string | undefined {
  const spec = (o as { spec?: Record<string, unknown> }).spec ?? {};
  const isText = (v: unknown): boolean => typeof v === 'string' && v !== '';
  const isPort = (v: unknown): boolean =>
    Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536;
  switch (o.kind) {
    case 'GatewayClass':
      return isText(spec.controllerName) ? undefined : 'spec.controllerName is required';
    case 'Gateway': {
      const listeners = spec.listeners as Record<string, unknown>[] | undefined;
      if (!isText(spec.gatewayClassName)) return 'spec.gatewayClassName is required';
      if (!Array.isArray(listeners) || listeners.length === 0) return 'spec.listeners is required';
      const bad = listeners.find((l) => !isText(l.name) || !isPort(l.port) || !isText(l.protocol));
      return bad === undefined ? undefined : 'every listener needs name, port and protocol';
    }
    case 'TCPRoute':
    case 'TLSRoute': {
      const rules = spec.rules as { backendRefs?: Record<string, unknown>[] }[] | undefined;
      if (!Array.isArray(spec.parentRefs) || spec.parentRefs.length === 0)
        return 'spec.parentRefs is required';
      if (!Array.isArray(rules) || rules.length === 0) return 'spec.rules is required';
      const refs = rules.flatMap((r) => r.backendRefs ?? []);
      return refs.every((r) => isText(r.name) && isPort(r.port))
        ? undefined
        : 'every backendRef needs name and port';
    }
    default:
      return `no check for ${o.apiVersion} ${o.kind}`;
  }
}

/** The model's JSON-schema validation; a message, or undefined when valid. */
async function schemaProblem(o: K8sObject): Promise<string | undefined> {
  if (isGatewayApi(o)) return gatewayApiProblem(o);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModule(o))) as Record<string, unknown>;
  } catch {
    return `no schema for ${o.apiVersion} ${o.kind}`;
  }
  const Model = mod[o.kind] as new (data: unknown) => { validate(): void };
  try {
    new Model(o).validate();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * The JSON schemas accept unknown fields (a misspelt `enableServiceLink` would pass), so the same
 * objects are also typed against the models' interfaces in an in-memory TypeScript module:
 * object literals get TypeScript's excess-property check at every depth.
 */
function unknownFieldProblems(objects: readonly { label: string; object: K8sObject }[]): string[] {
  const file = join(REPO, 'test/deploy/__rendered-manifests__.ts');
  const lines: string[] = objects.map(
    ({ object }, i) => `import type { I${object.kind} as T${i} } from '${modelModule(object)}';`,
  );
  const spans: { label: string; from: number; to: number }[] = [];
  objects.forEach(({ label, object }, i) => {
    const from = lines.length;
    lines.push(...`export const m${i}: T${i} = ${JSON.stringify(object, null, 2)};`.split('\n'));
    spans.push({ label, from, to: lines.length });
  });
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file
      ? ts.createSourceFile(name, text, language)
      : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? text : readFile(name));
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file);
  if (source === undefined) return ['the generated module was not compiled'];
  const diagnostics = [
    ...program.getSyntacticDiagnostics(source),
    ...program.getSemanticDiagnostics(source),
  ];
  return diagnostics.map((d) => {
    const line = d.start === undefined ? -1 : source.getLineAndCharacterOfPosition(d.start).line;
    const label = spans.find((s) => line >= s.from && line < s.to)?.label ?? `line ${line + 1}`;
    return `${label}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Headway's container args

const SPECS = new Map<string, AnyOptionSpec>(allOptions().map(([, spec]) => [spec.flag, spec]));

interface HeadwayArgs {
  /** The configuration the CLI would build from the args and the container's environment. */
  readonly config: ProxyConfig;
  /** Flags as written, `--flag=value` split (a flag without `=` is a boolean). */
  readonly raw: ReadonlyMap<string, readonly string[]>;
  /** Flags or values set aside as ahead of their feature. */
  readonly ahead: readonly string[];
}

/**
 * Resolve a Headway container's args and HEADWAY_* environment with the CLI's own schema: an
 * unknown flag or a bad value fails, except those listed in AHEAD_OF_FEATURES.
 */
function resolveHeadwayArgs(container: IContainer): HeadwayArgs {
  const raw = new Map<string, string[]>();
  for (const arg of container.args ?? []) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (m === null) throw new Error(`"${arg}": write flags as --flag=value, one per list item`);
    const [, flag = '', value = 'true'] = m;
    raw.set(flag, [...(raw.get(flag) ?? []), value]);
  }
  const argv: Record<string, unknown> = {};
  const ahead: string[] = [];
  for (const [flag, values] of raw) {
    const spec = SPECS.get(flag);
    const aheadOf = AHEAD_OF_FEATURES.filter((a) => a.flag === flag);
    if (spec === undefined) {
      if (aheadOf.some((a) => a.value === undefined)) {
        ahead.push(`--${flag}`);
        continue;
      }
      throw new Error(`--${flag}: unknown flag`);
    }
    try {
      parseAll(spec, `--${flag}`, spec.boolean === true ? values.map((v) => v === 'true') : values);
    } catch (err) {
      if (err instanceof ConfigError && values.every((v) => aheadOf.some((a) => a.value === v))) {
        ahead.push(...values.map((v) => `--${flag}=${v}`));
        continue;
      }
      throw err;
    }
    argv[flag] = spec.boolean === true ? values.at(-1) === 'true' : values;
  }
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    // A downward-API value stands in as a typical one.
    env[e.name] = e.value ?? (e.valueFrom?.fieldRef !== undefined ? 'zone-a' : '');
  }
  return { config: resolveProxyConfig({ argv, env }), raw, ahead };
}

// ---------------------------------------------------------------------------------------------
// Helpers over rendered objects

function ofKind<T>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

interface Workload {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly template: IPodTemplateSpec;
}

function workloads(objects: readonly K8sObject[]): Workload[] {
  return [
    ...ofKind<IDeployment>(objects, 'Deployment'),
    ...ofKind<IStatefulSet>(objects, 'StatefulSet'),
  ].map((w) => ({
    kind: w.kind,
    name: w.metadata?.name ?? '',
    namespace: w.metadata?.namespace,
    template: w.spec?.template ?? {},
  }));
}

function headwayDeployments(objects: readonly K8sObject[]): IDeployment[] {
  return ofKind<IDeployment>(objects, 'Deployment').filter((d) =>
    (d.spec?.template.spec?.containers ?? []).some((c) => c.name === 'headway'),
  );
}

function headwayContainer(d: IDeployment): IContainer {
  const c = d.spec?.template.spec?.containers.find((x) => x.name === 'headway');
  if (c === undefined) throw new Error('no headway container');
  return c;
}

/** The container port a Service port's targetPort reaches (by name or number). */
function containerPortOf(
  containers: readonly IContainer[],
  target: string | number | undefined,
): number | undefined {
  const ports = containers.flatMap((c) => c.ports ?? []);
  if (typeof target === 'number') {
    return ports.some((p) => p.containerPort === target) ? target : undefined;
  }
  return ports.find((p) => p.name === target)?.containerPort;
}

function selects(selector: Readonly<Record<string, string>> | undefined, labels = {}): boolean {
  const have = labels as Record<string, string>;
  return (
    selector !== undefined &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([k, v]) => have[k] === v)
  );
}

function findService(objects: readonly K8sObject[], name: string, namespace: string | undefined) {
  return ofKind<IService>(objects, 'Service').find(
    (s) => s.metadata?.name === name && s.metadata.namespace === namespace,
  );
}

/** The pods behind a Service: the containers of the workloads its selector matches. */
function backendContainers(objects: readonly K8sObject[], service: IService): IContainer[] {
  return workloads(objects)
    .filter(
      (w) =>
        w.namespace === service.metadata?.namespace &&
        selects(service.spec?.selector, w.template.metadata?.labels),
    )
    .flatMap((w) => w.template.spec?.containers ?? []);
}

/** Target ports (container ports) of a Service, as EndpointSlices and DNS-discovered pods have them. */
function serviceTargetPorts(
  objects: readonly K8sObject[],
  service: IService,
): (number | undefined)[] {
  const containers = backendContainers(objects, service);
  return (service.spec?.ports ?? []).map((p) =>
    containerPortOf(containers, p.targetPort ?? p.port),
  );
}

// ---------------------------------------------------------------------------------------------

const KUBECTL = kubectlVersion();

/** The ClusterRole of --gateway: what it lists and watches, and the status it patches. */
const GATEWAY_RULES = [
  {
    apiGroups: ['gateway.networking.k8s.io'],
    resources: ['gateways', 'tcproutes', 'tlsroutes', 'referencegrants'],
    verbs: ['list', 'watch'],
  },
  {
    apiGroups: ['gateway.networking.k8s.io'],
    resources: ['gateways/status', 'tcproutes/status', 'tlsroutes/status'],
    verbs: ['patch'],
  },
  { apiGroups: [''], resources: ['services', 'namespaces'], verbs: ['list', 'watch'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
];

interface GatewayObject extends K8sObject {
  readonly spec: {
    readonly gatewayClassName: string;
    readonly listeners: readonly { readonly port: number }[];
  };
}

interface RouteObject extends K8sObject {
  readonly spec: {
    readonly parentRefs: readonly { readonly name: string; readonly namespace?: string }[];
    readonly rules: readonly {
      readonly backendRefs: readonly { readonly name: string; readonly port: number }[];
    }[];
  };
}

/**
 * --gateway names a Gateway of the overlay, of its class, whose class the examples define; its
 * routes' backendRefs name headless Services by one of their (Service) ports.
 */
function expectGatewayRoutes(
  r: Rendered,
  ref: { namespace: string; name: string },
  className: string,
): void {
  const gw = r.objects.find(
    (o): o is GatewayObject =>
      o.kind === 'Gateway' &&
      o.metadata?.name === ref.name &&
      o.metadata.namespace === ref.namespace,
  );
  expect(gw?.spec.gatewayClassName, `${r.dir}: Gateway ${ref.namespace}/${ref.name}`).toBe(
    className,
  );
  const routes = r.objects.filter(
    (o): o is RouteObject =>
      (o.kind === 'TCPRoute' || o.kind === 'TLSRoute') &&
      (o as RouteObject).spec.parentRefs.some(
        (p) => p.name === ref.name && (p.namespace ?? o.metadata?.namespace) === ref.namespace,
      ),
  );
  expect(routes.length, `${r.dir}: routes attached to ${ref.name}`).toBeGreaterThan(0);
  for (const route of routes) {
    for (const backend of route.spec.rules.flatMap((x) => x.backendRefs)) {
      const svc = findService(r.objects, backend.name, route.metadata?.namespace);
      expect(svc?.spec?.clusterIP, `${r.dir}: backendRef ${backend.name}`).toBe('None');
      expect(
        (svc?.spec?.ports ?? []).map((p) => p.port),
        r.dir,
      ).toContain(backend.port);
    }
  }
}

describe('deploy/ files', () => {
  it('every YAML file parses (no duplicate keys, no warnings)', () => {
    expect(FILES.length).toBeGreaterThan(10);
    for (const f of FILES)
      expect(() => parseYaml(readFileSync(join(DEPLOY, f), 'utf8'), f)).not.toThrow();
  });

  it('kustomizations use kustomize v5 syntax', () => {
    expect(KUSTOMIZATION_DIRS).toEqual(expect.arrayContaining(['base', 'examples/redis']));
    expect(
      KUSTOMIZATION_DIRS.filter((d) => d.startsWith('overlays/')).length,
    ).toBeGreaterThanOrEqual(3);
    const deprecated = [
      'bases',
      'commonLabels',
      'patchesStrategicMerge',
      'patchesJson6902',
      'vars',
    ];
    for (const dir of KUSTOMIZATION_DIRS) {
      const k = readKustomization(dir);
      expect(k.apiVersion, dir).toBe('kustomize.config.k8s.io/v1beta1');
      expect(k.kind, dir).toBe('Kustomization');
      expect(
        Object.keys(k).filter((key) => deprecated.includes(key)),
        dir,
      ).toEqual([]);
    }
  });

  it('every other YAML file is a resource or a patch of some kustomization', () => {
    const used = new Set<string>();
    for (const dir of KUSTOMIZATION_DIRS) {
      const k = readKustomization(dir);
      for (const r of k.resources ?? []) used.add(relative(DEPLOY, resolve(DEPLOY, dir, r)));
      for (const p of k.patches ?? []) {
        if (p.path !== undefined) used.add(relative(DEPLOY, resolve(DEPLOY, dir, p.path)));
      }
    }
    const orphans = FILES.filter((f) => !f.endsWith('kustomization.yaml') && !used.has(f));
    expect(orphans).toEqual([]);
  });
});

describe('rendered kustomizations', () => {
  let rendered: Rendered[] = [];
  const renderedOf = (dir: string): Rendered => {
    const r = rendered.find((x) => x.dir === dir);
    if (r === undefined) throw new Error(`${dir} was not rendered`);
    return r;
  };

  beforeAll(async () => {
    requireProgram('kubectl');
    rendered = await Promise.all(KUSTOMIZATION_DIRS.map(render));
  });

  it('kubectl kustomize renders the base, the Redis example and each overlay', () => {
    for (const r of rendered) expect(r.objects.length, r.dir).toBeGreaterThan(0);
    expect(
      renderedOf('base')
        .objects.map((o) => o.kind)
        .sort(),
    ).toEqual([
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
  });

  it('every rendered object is valid for its Kubernetes schema', async () => {
    const problems: string[] = [];
    for (const r of rendered) {
      for (const o of r.objects) {
        const problem = await schemaProblem(o);
        if (problem !== undefined)
          problems.push(`${r.dir} ${o.kind}/${o.metadata?.name ?? '?'}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the schema check rejects a bad object (control)', async () => {
    const bad = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: { replicas: 'two' },
    };
    expect(await schemaProblem(bad)).toMatch(/replicas/);
  });

  it('no rendered object has a field its Kubernetes type lacks', () => {
    const seen = new Set<string>();
    const objects: { label: string; object: K8sObject }[] = [];
    for (const r of rendered) {
      for (const o of r.objects) {
        const key = JSON.stringify(o);
        if (seen.has(key) || isGatewayApi(o)) continue;
        seen.add(key);
        objects.push({ label: `${r.dir} ${o.kind}/${o.metadata?.name ?? '?'}`, object: o });
      }
    }
    const misspelt = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'control' },
      spec: { ports: [{ port: 1 }], externalTraficPolicy: 'Local' },
    };
    const problems = unknownFieldProblems([...objects, { label: 'control', object: misspelt }]);
    expect(problems).toEqual([expect.stringMatching(/^control: .*externalTraficPolicy/)]);
  });

  it('every pod runs non-root, read-only, without capabilities, under RuntimeDefault seccomp', () => {
    for (const r of rendered) {
      for (const w of workloads(r.objects)) {
        const where = `${r.dir} ${w.kind}/${w.name}`;
        const pod = w.template.spec;
        expect(pod, where).toBeDefined();
        if (pod === undefined) continue;
        expect(pod.enableServiceLinks, where).toBe(false);
        expect(pod.securityContext?.runAsNonRoot, where).toBe(true);
        expect(pod.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault');
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          const sc = c.securityContext;
          expect(sc?.allowPrivilegeEscalation, `${where} ${c.name}`).toBe(false);
          expect(sc?.readOnlyRootFilesystem, `${where} ${c.name}`).toBe(true);
          expect(sc?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, `${where} ${c.name}`).toBe(
            true,
          );
          expect(sc?.capabilities?.drop, `${where} ${c.name}`).toContain('ALL');
          expect(sc?.capabilities?.add ?? [], `${where} ${c.name}`).toEqual([]);
          expect(sc?.privileged ?? false, `${where} ${c.name}`).toBe(false);
          expect(c.resources?.requests?.cpu, `${where} ${c.name}`).toBeDefined();
          expect(c.resources?.requests?.memory, `${where} ${c.name}`).toBeDefined();
          expect(c.resources?.limits?.memory, `${where} ${c.name}`).toBeDefined();
        }
      }
    }
  });

  it('each overlay has its own namespace, enforcing the restricted Pod Security Standard', () => {
    const overlays = rendered.filter((r) => r.dir.startsWith('overlays/'));
    const names = overlays.map((r) => {
      const [ns, ...more] = r.objects.filter((o) => o.kind === 'Namespace');
      expect(more, r.dir).toEqual([]);
      expect(ns?.metadata?.labels?.['pod-security.kubernetes.io/enforce'], r.dir).toBe(
        'restricted',
      );
      const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding'];
      for (const o of r.objects.filter((x) => !clusterScoped.includes(x.kind))) {
        expect(o.metadata?.namespace, `${r.dir} ${o.kind}`).toBe(ns?.metadata?.name);
      }
      return ns?.metadata?.name;
    });
    expect(new Set(names).size).toBe(overlays.length);
  });

  it('Headway runs as the Dockerfile user, from the image tagged with the package version', () => {
    const user = /^USER\s+(\d+)(?::(\d+))?\s*$/m.exec(
      readFileSync(join(REPO, 'Dockerfile'), 'utf8'),
    );
    expect(user).not.toBeNull();
    for (const r of rendered) {
      for (const d of headwayDeployments(r.objects)) {
        const pod = d.spec?.template.spec;
        expect(String(pod?.securityContext?.runAsUser), r.dir).toBe(user?.[1]);
        expect(String(pod?.securityContext?.runAsGroup), r.dir).toBe(user?.[2] ?? user?.[1]);
        expect(headwayContainer(d).image, r.dir).toBe(
          `ghcr.io/headway-proxy/headway:${PACKAGE.version}`,
        );
      }
    }
  });

  it('container args are flags the CLI accepts (features being built set aside)', () => {
    const ahead = new Set<string>();
    for (const r of rendered) {
      for (const d of headwayDeployments(r.objects)) {
        const args = resolveHeadwayArgs(headwayContainer(d));
        for (const a of args.ahead) ahead.add(`${r.dir}: ${a}`);
      }
    }
    // Only the examples that deploy/README.md marks as depending on those features.
    for (const a of ahead) expect(a).toMatch(/^overlays\/(redis-k8s-sticky|per-pod-ports): /);
  });

  it('terminationGracePeriodSeconds covers --shutdown-delay + --drain-timeout + a margin', () => {
    for (const r of rendered) {
      for (const d of headwayDeployments(r.objects)) {
        const { config } = resolveHeadwayArgs(headwayContainer(d));
        const { shutdownDelay, drainTimeout } = config.process;
        expect(shutdownDelay, `${r.dir}: --shutdown-delay`).toBeGreaterThan(0);
        const graceMs = (d.spec?.template.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
        expect(graceMs, r.dir).toBeGreaterThanOrEqual(
          shutdownDelay + drainTimeout + GRACE_MARGIN_MS,
        );
      }
    }
  });

  it('probes, ports, scrape annotations and the zone follow the flags', () => {
    for (const r of rendered) {
      for (const d of headwayDeployments(r.objects)) {
        const c = headwayContainer(d);
        const { config, raw } = resolveHeadwayArgs(c);
        const ports = new Map((c.ports ?? []).map((p) => [p.name ?? '', p.containerPort]));
        const admin = config.process.admin?.port;
        expect(admin, r.dir).toBeDefined();
        expect(ports.get('admin'), r.dir).toBe(admin);
        // With --gateway the listeners come from the Gateway; --listen's port names the one it has.
        const proxyListener = config.listeners[0] ?? config.template;
        expect(ports.get('proxy'), r.dir).toBe(proxyListener?.listen[0]?.port);
        expect(c.livenessProbe?.httpGet, r.dir).toMatchObject({ path: '/healthz', port: 'admin' });
        expect(c.readinessProbe?.httpGet, r.dir).toMatchObject({ path: '/readyz', port: 'admin' });
        expect(d.spec?.template.metadata?.annotations, r.dir).toMatchObject({
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(admin),
          'prometheus.io/path': '/metrics',
        });
        const zone = c.env?.find((e) => e.name === 'HEADWAY_ZONE');
        expect(zone?.valueFrom?.fieldRef?.fieldPath, r.dir).toBe(ZONE_FIELD);

        // The Service in front reaches the proxy port, and each per-pod port when there are any.
        const svc = findService(r.objects, 'headway', d.metadata?.namespace);
        expect(svc, r.dir).toBeDefined();
        if (svc === undefined) continue;
        expect(selects(svc.spec?.selector, d.spec?.template.metadata?.labels), r.dir).toBe(true);
        const reached = serviceTargetPorts(r.objects, svc);
        expect(reached, r.dir).not.toContain(undefined);
        expect(reached, r.dir).toContain(ports.get('proxy'));
        const first = Number(raw.get('per-pod-ports')?.[0] ?? NaN);
        const count = Number(raw.get('per-pod-max')?.[0] ?? NaN);
        if (Number.isInteger(first) && Number.isInteger(count)) {
          for (let p = first; p < first + count; p++) {
            expect([...ports.values()], `${r.dir}: container port ${p}`).toContain(p);
            expect(reached, `${r.dir}: Service port for ${p}`).toContain(p);
          }
        }
      }
    }
  });

  it('RBAC grants only get/list/watch on EndpointSlices, and only where k8s:// needs it', () => {
    for (const r of rendered) {
      const gateway = headwayDeployments(r.objects).some(
        (d) => resolveHeadwayArgs(headwayContainer(d)).config.process.gateway !== null,
      );
      // --gateway reads routes, Services and EndpointSlices wherever routes attach from: exactly
      // the reads and status writes it makes, bound to Headway's ServiceAccount.
      const clusterRoles = ofKind<IClusterRole>(r.objects, 'ClusterRole');
      expect(
        r.objects.filter(
          (o) => o.kind.startsWith('Cluster') && !(gateway && o.kind.startsWith('ClusterRole')),
        ),
        r.dir,
      ).toEqual([]);
      for (const role of clusterRoles) expect(role.rules, r.dir).toEqual(GATEWAY_RULES);
      if (gateway) {
        expect(clusterRoles.length, r.dir).toBe(1);
        const bindings = ofKind<IClusterRoleBinding>(r.objects, 'ClusterRoleBinding');
        expect(
          bindings.map((b) => [
            b.roleRef.name,
            b.subjects?.map((s) => `${s.kind}/${s.namespace ?? ''}/${s.name}`),
          ]),
          r.dir,
        ).toEqual([
          [
            clusterRoles[0]?.metadata?.name,
            headwayDeployments(r.objects).map(
              (d) =>
                `ServiceAccount/${d.metadata?.namespace ?? ''}/${d.spec?.template.spec?.serviceAccountName ?? ''}`,
            ),
          ],
        ]);
      }
      for (const role of ofKind<IRole>(r.objects, 'Role')) {
        expect(role.rules, r.dir).toEqual([
          {
            apiGroups: ['discovery.k8s.io'],
            resources: ['endpointslices'],
            verbs: ['get', 'list', 'watch'],
          },
        ]);
      }
      for (const d of headwayDeployments(r.objects)) {
        const backends = resolveHeadwayArgs(headwayContainer(d)).config.listeners[0]?.backends;
        if (backends?.scheme !== 'k8s') continue;
        const ns = d.metadata?.namespace;
        const sa = d.spec?.template.spec?.serviceAccountName;
        expect(d.spec?.template.spec?.automountServiceAccountToken ?? true, r.dir).toBe(true);
        const bound = ofKind<IRoleBinding>(r.objects, 'RoleBinding').some(
          (b) =>
            b.metadata?.namespace === (backends.namespace ?? ns) &&
            b.roleRef.kind === 'Role' &&
            ofKind<IRole>(r.objects, 'Role').some(
              (role) =>
                role.metadata?.name === b.roleRef.name &&
                role.metadata.namespace === b.metadata?.namespace,
            ) &&
            (b.subjects ?? []).some(
              (s) =>
                s.kind === 'ServiceAccount' &&
                s.name === sa &&
                (s.namespace ?? b.metadata?.namespace) === ns,
            ),
        );
        expect(bound, `${r.dir}: a RoleBinding for ServiceAccount ${sa ?? '?'}`).toBe(true);
      }
    }
  });

  it("the examples' backends URIs name their headless Service and its target port", () => {
    for (const r of rendered.filter((x) => x.dir.startsWith('overlays/'))) {
      for (const d of headwayDeployments(r.objects)) {
        const { config } = resolveHeadwayArgs(headwayContainer(d));
        const backends = config.listeners[0]?.backends;
        const ns = d.metadata?.namespace;
        if (config.process.gateway !== null) {
          expectGatewayRoutes(r, config.process.gateway, config.process.gatewayClass);
        } else if (backends?.scheme === 'k8s') {
          const svc = findService(r.objects, backends.service, backends.namespace ?? ns);
          expect(svc?.spec?.clusterIP, `${r.dir}: ${backends.uri}`).toBe('None');
          if (svc === undefined) continue;
          if (typeof backends.port === 'number') {
            expect(serviceTargetPorts(r.objects, svc), r.dir).toContain(backends.port);
          } else if (typeof backends.port === 'string') {
            expect(
              (svc.spec?.ports ?? []).map((p) => p.name),
              r.dir,
            ).toContain(backends.port);
          } else {
            expect(svc.spec?.ports?.length, r.dir).toBe(1);
          }
        } else if (backends?.scheme === 'dns') {
          const m = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local\.$/.exec(backends.name);
          expect(m, `${r.dir}: ${backends.uri}`).not.toBeNull();
          const svc = findService(r.objects, m?.[1] ?? '', m?.[2]);
          expect(m?.[2], `${r.dir}: the name's namespace`).toBe(ns);
          expect(svc?.spec?.clusterIP, `${r.dir}: ${backends.uri}`).toBe('None');
          if (svc === undefined) continue;
          // DNS gives pod addresses: the port is the pods' own (target) port.
          expect(serviceTargetPorts(r.objects, svc), r.dir).toContain(backends.port);
        } else {
          throw new Error(`${r.dir}: an example should discover its backends (k8s:// or dns://)`);
        }
      }
    }
  });

  it('the PodDisruptionBudget and the autoscaler cover the Headway Deployment', () => {
    for (const r of rendered) {
      for (const d of headwayDeployments(r.objects)) {
        const ns = d.metadata?.namespace;
        const labels = d.spec?.template.metadata?.labels;
        const pdb = ofKind<IPodDisruptionBudget>(r.objects, 'PodDisruptionBudget').find(
          (p) => p.metadata?.namespace === ns && selects(p.spec?.selector?.matchLabels, labels),
        );
        expect(pdb?.spec?.maxUnavailable, r.dir).toBe(1);
        const hpa = ofKind<IHorizontalPodAutoscaler>(r.objects, 'HorizontalPodAutoscaler').find(
          (h) => h.metadata?.namespace === ns && h.spec.scaleTargetRef.name === d.metadata?.name,
        );
        expect(hpa?.spec.scaleTargetRef.kind, r.dir).toBe('Deployment');
        expect(hpa?.spec.minReplicas, r.dir).toBeGreaterThanOrEqual(2);
        expect(d.spec?.replicas, r.dir).toBe(2);
        expect(
          headwayContainer(d).resources?.requests?.cpu,
          `${r.dir}: CPU utilization needs a request`,
        ).toBeDefined();
      }
    }
  });
});

describe('kubectl', () => {
  it('is installed (kustomize v5), so the rendering tests above ran', () => {
    expect(KUBECTL, 'kubectl not found: the kustomize rendering tests were skipped').toBeDefined();
    expect(KUBECTL).toMatch(/Kustomize Version: v5\./);
  });
});
