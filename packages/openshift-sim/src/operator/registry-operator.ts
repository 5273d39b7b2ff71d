// The Image Registry Operator's visible behaviour: it bootstraps `configs/cluster` and `imagepruners/cluster`,
// and reconciles the storage (registry-storage.ts), the registry Deployment, pods (registry-pods.ts) and
// Service, routes, conditions and the image config's registry hostnames from `spec.managementState`,
// `storage`, `replicas`, `defaultRoute` and `routes[]`.
import { createHash, randomBytes } from 'node:crypto';
import { isJsonObject, jsonEqual, objectAt, stringAt, type JsonObject } from '../json.js';
import { ApiError } from '../api/status.js';
import type { ResourceType } from '../api/types.js';
import { mergeConditions, type Condition } from './conditions.js';
import { RegistryPods, type PodCounts } from './registry-pods.js';
import {
  OWNER_ANNOTATION as CLAIM_OWNER_ANNOTATION,
  USER_CREDENTIALS_SECRET,
  checkStorage,
  type StorageOutcome,
} from './registry-storage.js';
import { coalesced, systemContext, type ControllerParts } from './system.js';

/** The namespace the registry lives in. */
export const REGISTRY_NAMESPACE = 'openshift-image-registry';
const OWNER_ANNOTATION = 'imageregistry.openshift.io';
const FINALIZER = 'imageregistry.operator.openshift.io/finalizer';
const IMAGEREGISTRY = 'imageregistry.operator.openshift.io';

/** How the simulated cluster's registry starts out. */
export interface RegistryBootstrap {
  managementState: 'Managed' | 'Removed' | 'Unmanaged';
  /** `emptyDir`, a PVC, or none (a platform without default storage). */
  storage: 'emptyDir' | 'pvc' | 'none';
  readOnly: boolean;
  replicas: number;
  defaultRoute: boolean;
  /** How long new registry pods take to become ready. */
  rolloutDelayMs: number;
}

function storageStanza(storage: RegistryBootstrap['storage']): JsonObject {
  if (storage === 'emptyDir') return { managementState: 'Managed', emptyDir: {} };
  // An empty claim: the operator creates image-registry-storage and writes its name back.
  if (storage === 'pvc') return { managementState: 'Managed', pvc: {} };
  return {};
}

/** A short hash of the storage stanza: a storage change rolls out new pods. */
function templateHash(storage: JsonObject): string {
  const { managementState: _managementState, ...backend } = storage;
  return createHash('sha256').update(JSON.stringify(backend)).digest('hex').slice(0, 9);
}

/** The host a route is admitted with by the default router, if it is admitted. */
export function admittedHost(route: JsonObject): string | undefined {
  const ingress = objectAt(route, 'status')?.['ingress'];
  if (!Array.isArray(ingress)) return undefined;
  const admitted = ingress.filter(isJsonObject).find((i) => {
    const conditions = Array.isArray(i['conditions']) ? i['conditions'].filter(isJsonObject) : [];
    return conditions.some((c) => c['type'] === 'Admitted' && c['status'] === 'True');
  });
  return stringAt(admitted, 'host');
}

interface DesiredRoute {
  name: string;
  host: string;
  secretName?: string;
}

/** The registry operator controller. */
export class RegistryOperator {
  private readonly trigger: () => void;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly ctx;
  private readonly pods: RegistryPods;

  constructor(
    private readonly parts: ControllerParts,
    private readonly bootstrap: RegistryBootstrap,
    private readonly onError: (err: unknown) => void,
  ) {
    this.ctx = systemContext(
      parts,
      'openshift-image-registry:cluster-image-registry-operator',
      REGISTRY_NAMESPACE,
    );
    this.trigger = coalesced(() => this.reconcile(), onError);
    this.pods = new RegistryPods(parts, this.ctx, bootstrap.rolloutDelayMs, this.trigger);
  }

  private type(group: string, plural: string): ResourceType {
    return this.parts.catalog.require(group, plural);
  }

  /** Creates the singletons and starts watching. */
  start(): void {
    this.createBootstrapObjects();
    const watched = [
      `configs.${IMAGEREGISTRY}`,
      'routes.route.openshift.io',
      'secrets',
      'persistentvolumeclaims',
      'pods',
    ];
    for (const key of watched)
      this.unsubscribers.push(this.parts.store.subscribe(key, undefined, this.trigger));
    this.reconcile();
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.pods.stop();
  }

  private createBootstrapObjects(): void {
    const { service } = this.parts;
    const configType = this.type(IMAGEREGISTRY, 'configs');
    if (!service.find(configType, '', 'cluster', this.ctx)) this.createConfig();
    const prunerType = this.type(IMAGEREGISTRY, 'imagepruners');
    if (!service.find(prunerType, '', 'cluster', this.ctx)) {
      service.create(
        prunerType,
        '',
        {
          metadata: { name: 'cluster' },
          spec: {
            schedule: '',
            suspend: false,
            keepTagRevisions: 3,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            ignoreInvalidImageReferences: true,
          },
        },
        {},
        this.ctx,
      );
    }
    const imageConfig = this.type('config.openshift.io', 'images');
    if (!service.find(imageConfig, '', 'cluster', this.ctx)) {
      service.create(
        imageConfig,
        '',
        { metadata: { name: 'cluster' }, spec: { additionalTrustedCA: { name: '' }, registrySources: {} } },
        {},
        this.ctx,
      );
    }
  }

  private createConfig(): void {
    const b = this.bootstrap;
    const hasStorage = b.storage !== 'none';
    this.parts.service.create(
      this.type(IMAGEREGISTRY, 'configs'),
      '',
      {
        metadata: { name: 'cluster', finalizers: [FINALIZER] },
        spec: {
          // A platform without default storage bootstraps Removed, as the real operator does.
          managementState: hasStorage ? b.managementState : 'Removed',
          httpSecret: randomBytes(64).toString('hex'),
          proxy: {},
          storage: storageStanza(b.storage),
          requests: { read: { maxWaitInQueue: '0s' }, write: { maxWaitInQueue: '0s' } },
          replicas: b.replicas,
          rolloutStrategy: b.storage === 'pvc' ? 'Recreate' : 'RollingUpdate',
          unsupportedConfigOverrides: null,
          observedConfig: null,
          ...(b.readOnly ? { readOnly: true } : {}),
          ...(b.defaultRoute ? { defaultRoute: true } : {}),
        },
      },
      {},
      this.ctx,
    );
  }

  /** One pass: bring routes, workloads, conditions and the image config in line with `configs/cluster`. */
  reconcile(): void {
    const { service } = this.parts;
    const configType = this.type(IMAGEREGISTRY, 'configs');
    const config = service.find(configType, '', 'cluster', this.ctx);
    if (!config) {
      this.createConfig();
      return;
    }
    const meta = objectAt(config, 'metadata') ?? {};
    if (meta['deletionTimestamp'] !== undefined) {
      this.tearDown();
      const finalizers = Array.isArray(meta['finalizers'])
        ? meta['finalizers'].filter((f) => f !== FINALIZER)
        : [];
      service.update(
        { type: configType, namespace: '', name: 'cluster' },
        { ...config, metadata: { ...meta, finalizers } },
        this.ctx,
      );
      return;
    }
    const spec = objectAt(config, 'spec') ?? {};
    const state = stringAt(spec, 'managementState') ?? 'Managed';
    if (state === 'Unmanaged') {
      this.writeStatus(config, this.unmanagedConditions(), undefined);
      return;
    }
    if (state === 'Removed') {
      this.tearDown();
      this.writeStatus(config, this.removedConditions(), 0);
      this.publishHostnames();
      return;
    }
    const outcome = checkStorage(spec, {
      claim: (name) => this.parts.store.get('persistentvolumeclaims', REGISTRY_NAMESPACE, name),
      credentials: () => this.parts.store.get('secrets', REGISTRY_NAMESPACE, USER_CREDENTIALS_SECRET),
    });
    if (outcome === undefined || !outcome.ok) {
      this.tearDown();
      const conditions =
        outcome === undefined ? this.noStorageConditions() : this.storageErrorConditions(outcome);
      this.writeStatus(config, conditions, 0);
      this.publishHostnames();
      return;
    }
    if (outcome.createClaim !== undefined) this.createClaim(outcome.createClaim);
    if (!jsonEqual(outcome.storage, objectAt(spec, 'storage'))) {
      // The operator records what it filled in (claim name, storage managementState); the write triggers
      // the next pass.
      service.update(
        { type: configType, namespace: '', name: 'cluster' },
        { ...config, spec: { ...spec, storage: outcome.storage } },
        this.ctx,
      );
      return;
    }
    const replicas = Number(spec['replicas'] ?? 1);
    this.ensureService();
    const counts = this.pods.reconcile(replicas, templateHash(outcome.storage));
    const routeProblems = this.ensureRoutes(spec);
    this.writeStatus(
      config,
      this.managedConditions(routeProblems, counts, replicas, outcome.storageExists),
      counts.ready,
    );
    this.publishHostnames();
  }

  /** The default claim: ReadWriteMany, 100Gi, annotated as the operator's own. */
  private createClaim(name: string): void {
    this.parts.service.create(
      this.type('', 'persistentvolumeclaims'),
      REGISTRY_NAMESPACE,
      {
        metadata: { name, annotations: { [CLAIM_OWNER_ANNOTATION]: 'true' } },
        spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '100Gi' } } },
      },
      {},
      this.ctx,
    );
  }

  private desiredRoutes(spec: JsonObject): { routes: DesiredRoute[]; problems: string[] } {
    const routes: DesiredRoute[] = [];
    const problems: string[] = [];
    if (spec['defaultRoute'] === true) {
      routes.push({ name: 'default-route', host: '' });
    }
    const extra = Array.isArray(spec['routes']) ? spec['routes'].filter(isJsonObject) : [];
    for (const entry of extra) {
      const name = stringAt(entry, 'name') ?? '';
      if (name === 'default-route' || routes.some((r) => r.name === name)) {
        problems.push(`route name "${name}" is reserved or duplicated`);
        continue;
      }
      const secretName = stringAt(entry, 'secretName');
      routes.push({ name, host: stringAt(entry, 'hostname') ?? '', ...(secretName ? { secretName } : {}) });
    }
    return { routes, problems };
  }

  private routeTls(route: DesiredRoute): { tls: JsonObject; problem?: string } {
    const tls: JsonObject = { termination: 'reencrypt' };
    if (route.secretName === undefined) return { tls };
    const secret = this.parts.store.get('secrets', REGISTRY_NAMESPACE, route.secretName);
    const data = objectAt(secret, 'data');
    if (!data) return { tls, problem: `secret ${REGISTRY_NAMESPACE}/${route.secretName} not found` };
    const decode = (key: string): string | undefined => {
      const value = stringAt(data, key);
      return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
    };
    const certificate = decode('tls.crt');
    const key = decode('tls.key');
    const ca = decode('tls.cacrt');
    if (certificate !== undefined) tls['certificate'] = certificate;
    if (key !== undefined) tls['key'] = key;
    if (ca !== undefined) tls['caCertificate'] = ca;
    return { tls };
  }

  private ensureRoutes(spec: JsonObject): string[] {
    const { service } = this.parts;
    const routeType = this.type('route.openshift.io', 'routes');
    const { routes, problems } = this.desiredRoutes(spec);
    for (const route of routes) {
      const { tls, problem } = this.routeTls(route);
      if (problem !== undefined) problems.push(problem);
      const existing = service.find(routeType, REGISTRY_NAMESPACE, route.name, this.ctx);
      const desiredSpec: JsonObject = {
        ...(route.host !== '' ? { host: route.host } : {}),
        to: { kind: 'Service', name: 'image-registry', weight: 100 },
        tls,
        wildcardPolicy: 'None',
      };
      if (!existing) {
        service.create(
          routeType,
          REGISTRY_NAMESPACE,
          { metadata: { name: route.name, annotations: { [OWNER_ANNOTATION]: 'true' } }, spec: desiredSpec },
          {},
          this.ctx,
        );
        continue;
      }
      const currentSpec = objectAt(existing, 'spec') ?? {};
      const merged: JsonObject = { ...currentSpec, ...desiredSpec };
      if (route.host === '') merged['host'] = currentSpec['host'] ?? '';
      if (!jsonEqual(merged, currentSpec)) {
        service.update(
          { type: routeType, namespace: REGISTRY_NAMESPACE, name: route.name },
          { ...existing, spec: merged },
          this.ctx,
        );
      }
    }
    for (const owned of this.ownedRoutes()) {
      const name = stringAt(objectAt(owned, 'metadata'), 'name') ?? '';
      if (!routes.some((r) => r.name === name)) this.deleteQuietly(routeType, REGISTRY_NAMESPACE, name);
    }
    return problems;
  }

  private ownedRoutes(): JsonObject[] {
    return this.parts.store
      .list('routes.route.openshift.io', REGISTRY_NAMESPACE)
      .filter((r) => stringAt(objectAt(objectAt(r, 'metadata'), 'annotations'), OWNER_ANNOTATION) === 'true');
  }

  private deleteQuietly(type: ResourceType, namespace: string, name: string): void {
    try {
      this.parts.service.delete({ type, namespace, name }, this.ctx);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }

  private ensureService(): void {
    const { service } = this.parts;
    const labels = { 'docker-registry': 'default' };
    const services = this.type('', 'services');
    if (service.find(services, REGISTRY_NAMESPACE, 'image-registry', this.ctx)) return;
    service.create(
      services,
      REGISTRY_NAMESPACE,
      {
        metadata: {
          name: 'image-registry',
          labels,
          annotations: { 'service.alpha.openshift.io/serving-cert-secret-name': 'image-registry-tls' },
        },
        spec: {
          type: 'ClusterIP',
          selector: labels,
          ports: [{ name: '5000-tcp', port: 5000, targetPort: 5000, protocol: 'TCP' }],
        },
      },
      {},
      this.ctx,
    );
  }

  private tearDown(): void {
    const routeType = this.type('route.openshift.io', 'routes');
    for (const owned of this.ownedRoutes()) {
      this.deleteQuietly(routeType, REGISTRY_NAMESPACE, stringAt(objectAt(owned, 'metadata'), 'name') ?? '');
    }
    this.pods.removeAll();
    this.deleteQuietly(this.type('', 'services'), REGISTRY_NAMESPACE, 'image-registry');
  }

  private managedConditions(
    problems: string[],
    counts: PodCounts,
    replicas: number,
    storageExists: Condition,
  ): Condition[] {
    const degraded = problems.length > 0;
    const complete = counts.ready >= replicas && counts.total === replicas;
    const available: Condition =
      counts.ready === 0
        ? {
            type: 'Available',
            status: 'False',
            reason: 'NoReplicasAvailable',
            message: 'The deployment does not have available replicas',
          }
        : complete
          ? { type: 'Available', status: 'True', reason: 'Ready', message: 'The registry is ready' }
          : {
              type: 'Available',
              status: 'True',
              reason: 'MinimumAvailability',
              message: 'The registry has minimum availability',
            };
    return [
      available,
      complete
        ? { type: 'Progressing', status: 'False', reason: 'Ready', message: 'The registry is ready' }
        : {
            type: 'Progressing',
            status: 'True',
            reason: 'DeploymentNotCompleted',
            message: 'The deployment has not completed',
          },
      degraded
        ? { type: 'Degraded', status: 'True', reason: 'RouteDegraded', message: problems.join('; ') }
        : { type: 'Degraded', status: 'False' },
      { type: 'Removed', status: 'False' },
      storageExists,
    ];
  }

  /**
   * Storage the operator cannot use: nothing is deployed. The real operator reports Degraded only after
   * five minutes without a deployment; the simulator says so at once.
   */
  private storageErrorConditions(outcome: StorageOutcome & { ok: false }): Condition[] {
    const notFound = 'The deployment does not exist';
    return [
      { type: 'Available', status: 'False', reason: 'DeploymentNotFound', message: notFound },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'Error',
        message: `Unable to apply resources: unable to sync storage configuration: ${outcome.error}`,
      },
      { type: 'Degraded', status: 'True', reason: 'Unavailable', message: notFound },
      { type: 'Removed', status: 'False' },
      ...(outcome.storageExists !== undefined ? [outcome.storageExists] : []),
    ];
  }

  private removedConditions(): Condition[] {
    return [
      { type: 'Available', status: 'True', reason: 'Removed', message: 'The registry is removed' },
      {
        type: 'Progressing',
        status: 'False',
        reason: 'Removed',
        message: 'All registry resources are removed',
      },
      { type: 'Degraded', status: 'False', reason: 'Removed' },
      { type: 'Removed', status: 'True', reason: 'Removed', message: 'The registry is removed' },
    ];
  }

  private unmanagedConditions(): Condition[] {
    return [
      { type: 'Available', status: 'True', reason: 'Unmanaged' },
      { type: 'Progressing', status: 'False', reason: 'Unmanaged' },
      { type: 'Degraded', status: 'False', reason: 'Unmanaged' },
      { type: 'Removed', status: 'False' },
    ];
  }

  private noStorageConditions(): Condition[] {
    const message = 'storage backend not configured';
    return [
      { type: 'Available', status: 'False', reason: 'StorageNotConfigured', message },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'Error',
        message: `Unable to apply resources: ${message}`,
      },
      { type: 'Degraded', status: 'True', reason: 'StorageNotConfigured', message },
      { type: 'Removed', status: 'False' },
    ];
  }

  private writeStatus(config: JsonObject, conditions: Condition[], readyReplicas: number | undefined): void {
    const spec = objectAt(config, 'spec') ?? {};
    const old = objectAt(config, 'status') ?? {};
    const storage = objectAt(spec, 'storage') ?? {};
    const status: JsonObject = {
      ...old,
      observedGeneration: objectAt(config, 'metadata')?.['generation'] ?? 1,
      conditions: mergeConditions(old['conditions'], conditions),
      readyReplicas: readyReplicas ?? old['readyReplicas'] ?? 0,
      storageManaged: storage['managementState'] === 'Managed',
      storage,
    };
    if (jsonEqual(status, old)) return;
    this.parts.service.update(
      { type: this.type(IMAGEREGISTRY, 'configs'), namespace: '', name: 'cluster' },
      { ...config, status },
      this.ctx,
      { subresource: 'status' },
    );
  }

  /** `images.config.openshift.io/cluster` status: internal host and the admitted operator routes' hosts. */
  private publishHostnames(): void {
    const { service } = this.parts;
    const type = this.type('config.openshift.io', 'images');
    const config = service.find(type, '', 'cluster', this.ctx);
    if (!config) return;
    let defaultHost: string | undefined;
    const others = new Set<string>();
    for (const route of this.ownedRoutes()) {
      const host = admittedHost(route);
      if (host === undefined) continue;
      if (stringAt(objectAt(route, 'metadata'), 'name') === 'default-route') defaultHost = host;
      else others.add(host);
    }
    // The default route's host comes first; the rest sorted, as the operator publishes them.
    const ordered = [...(defaultHost !== undefined ? [defaultHost] : []), ...[...others].sort()];
    // The internal host is published only while the registry Service exists (Removed deletes it).
    const serviceExists =
      this.parts.store.get('services', REGISTRY_NAMESPACE, 'image-registry') !== undefined;
    const status: JsonObject = { ...(objectAt(config, 'status') ?? {}) };
    if (serviceExists) status['internalRegistryHostname'] = this.parts.facts.internalRegistryHostname;
    else delete status['internalRegistryHostname'];
    if (ordered.length > 0) status['externalRegistryHostnames'] = ordered;
    else delete status['externalRegistryHostnames'];
    if (jsonEqual(status, objectAt(config, 'status'))) return;
    service.update({ type, namespace: '', name: 'cluster' }, { ...config, status }, this.ctx, {
      subresource: 'status',
    });
  }
}
