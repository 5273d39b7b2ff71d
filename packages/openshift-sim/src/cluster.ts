// startCluster: the API server, its controllers and the files a client needs, wired together.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  makeWorkDir,
  removeWorkDir,
  startRegistry,
} from '@registry-push/testkit';
import { Authorizer, ROLE_NAMES, type PolicyRule, type RoleName, type Subject } from './api/rbac.js';
import { bootstrapClusterRoles, StoredRbac } from './api/rbac-objects.js';
import { PodLogs } from './api/pod-logs.js';
import { ResourceCatalog } from './api/resources.js';
import { AccessReviews } from './api/reviews.js';
import { ApiServer } from './api/server.js';
import { ResourceService } from './api/service.js';
import { ObjectStore } from './api/store.js';
import { ServiceAccountTokens } from './api/tokens.js';
import type { ClusterFacts } from './api/types.js';
import { VirtualResources } from './api/virtual.js';
import { objectAt, stringAt } from './json.js';
import { kubeconfigFor } from './kubeconfig.js';
import { ImagePrunerController } from './operator/image-pruner.js';
import { bootstrapIngress } from './operator/ingress.js';
import { NamespaceBundles } from './operator/namespaces.js';
import { RegistryOperator, type RegistryBootstrap } from './operator/registry-operator.js';
import { RouterAdmission } from './operator/router-admission.js';
import { ServiceCaInjector } from './operator/service-ca-injector.js';
import { systemContext, type ControllerParts } from './operator/system.js';
import { PushNotifier } from './registry/push-notifications.js';
import { RegistryFront } from './registry/registry-front.js';
import { startRouter, type RouterMode } from './router/start-router.js';

/** A role for a user, cluster-wide or in one namespace. */
export interface UserRole {
  role: RoleName;
  namespace?: string;
}

/** A Role of the user's own rules (as an admin writes one), cluster-wide or in one namespace. */
export interface CustomRole {
  rules: readonly PolicyRule[];
  namespace?: string;
}

/** An extra user of the simulated cluster. */
export interface UserSpec {
  name: string;
  roles: readonly UserRole[];
  /** Roles with rules of their own, for rights no bootstrap role grants alone. */
  customRoles?: readonly CustomRole[];
  groups?: readonly string[];
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** Where to write kubeconfigs and CA files; a private temporary directory (removed on stop) by default. */
  dir?: string;
  /** The apps (ingress) domain. Default `apps.openshift-sim.test`. */
  appsDomain?: string;
  /** The registry's initial managementState. Default Managed. */
  managementState?: RegistryBootstrap['managementState'];
  /** Initial storage. Default emptyDir; `none` bootstraps Removed like a platform without default storage. */
  storage?: RegistryBootstrap['storage'];
  /** Start the registry read-only. */
  readOnly?: boolean;
  /**
   * The registry's legacy metrics secret (`REGISTRY_OPENSHIFT_METRICS_SECRET`, `openshift.metrics.secret`):
   * when set, `/extensions/v2/metrics` answers only a request whose Bearer token (or Basic password) is this
   * secret, and no user token. Unset by default: users with `get registry/metrics` may read them.
   */
  registryMetricsSecret?: string;
  /**
   * Who carries out the registry's link deletes: `upstream` (default) the distribution registry behind the
   * front; `storage` the front itself, on the same storage, as distribution's filesystem driver does (for
   * benchmarks: distribution spends more CPU per delete than the rest of the cluster together).
   */
  registryLinkDeletes?: 'upstream' | 'storage';
  /** Start with `spec.defaultRoute: true`. */
  defaultRoute?: boolean;
  /** Serve an admin-provided default certificate instead of the generated one. */
  customDefaultCertificate?: boolean;
  /**
   * How long new registry pods take to become ready, so clients see the operator progress (Available
   * False, then MinimumAvailability, then Ready). Default 0.
   */
  registryRolloutDelayMs?: number;
  /** How long the router takes to admit a route. Default 0 (as soon as it is seen). */
  routeAdmissionDelayMs?: number;
  /** Users besides kubeadmin, developer and viewer. */
  users?: readonly UserSpec[];
  /** Namespaces to create besides the system ones and `demo`. */
  namespaces?: readonly string[];
  /** API server port; 0 (default) picks a free one. */
  apiPort?: number;
  /**
   * How route hosts reach the router. `hosts`: /etc/hosts entries to a loopback address of its own, router on
   * :443, so hosts look exactly like OpenShift's (needs root). `port`: router on 127.0.0.1 and a free port;
   * clients connect to `routerAddress` and send the route host as TLS SNI and Host. `auto` (default): `hosts`
   * when possible, else `port`.
   */
  routerMode?: RouterMode | 'auto';
  /**
   * Further CustomResourceDefinitions to serve (`apiextensions.k8s.io/v1` manifests as YAML or JSON text),
   * e.g. Tekton's TaskRuns: listed in discovery, served with their schema, like the built-in ones.
   */
  customResourceDefinitions?: readonly string[];
}

/** Credentials of one user. */
export interface ClusterUser {
  token: string;
  /** Path of a kubeconfig that logs in as this user. */
  kubeconfig: string;
}

/** A running simulated cluster. */
export interface RunningCluster {
  /** `https://127.0.0.1:<port>` */
  apiServer: string;
  /** kubeadmin's kubeconfig path. */
  kubeconfig: string;
  users: Record<string, ClusterUser>;
  appsDomain: string;
  /** Where the router listens: `<loopback ip>:443` in `hosts` mode, `127.0.0.1:<port>` in `port` mode. */
  routerAddress: string;
  /** How route hosts reach the router. */
  routerMode: RouterMode;
  /** The registry behind the routes (TLS with the service CA), for in-cluster style access. */
  registryServiceAddress: string;
  /** PEM of the service CA that signed the registry's certificate. */
  serviceCaPem: string;
  /** The distribution registry's storage root (`docker/registry/v2/...`). */
  registryStorageDir: string;
  /** The distribution registry's own log: a `response completed` line for each request it served. */
  registryUpstreamLog: string;
  /** The registry's in-cluster host, `image-registry.openshift-image-registry.svc:5000`. */
  internalRegistry: string;
  /** Path of the PEM bundle that makes the router's default certificate trusted. */
  ingressCA: string;
  /** PEM of the API server's CA. */
  apiCaPem: string;
  /** PEM of the ingress trust bundle. */
  ingressCaPem: string;
  /** The directory holding the files above. */
  dir: string;
  /** Adds a user (or more roles for an existing one) and returns its credentials. */
  addUser(spec: UserSpec): Promise<ClusterUser>;
  /** Compacts history: outstanding list continue tokens and old watch resourceVersions get 410 Gone. */
  compact(): void;
  /**
   * Expires a user's API token, as an OAuth token reaching its end of life: the API and the registry
   * answer 401 to it from now on (the registry's tokens are the API token echoed back, so they stop too).
   */
  expireToken(user: string): void;
  /** The simulated containers' log lines (`pods/<name>/log`); tests write lines into a pod's log here. */
  podLogs: PodLogs;
  /** The ready line the CLI prints. */
  describe(): ClusterDescription;
  stop(): Promise<void>;
}

/** The JSON the CLI prints when ready. */
export interface ClusterDescription {
  apiServer: string;
  kubeconfig: string;
  users: Record<string, ClusterUser>;
  appsDomain: string;
  routerAddress: string;
  routerMode: RouterMode;
  internalRegistry: string;
  ingressCA: string;
}

const SYSTEM_NAMESPACES = [
  'default',
  'kube-system',
  'openshift',
  'openshift-config',
  'openshift-config-managed',
  'openshift-image-registry',
  'openshift-ingress',
  'openshift-ingress-operator',
];

const SEED_USERS: UserSpec[] = [
  { name: 'kubeadmin', roles: [{ role: 'cluster-admin' }], groups: ['system:cluster-admins'] },
  { name: 'developer', roles: [{ role: 'admin', namespace: 'demo' }] },
  { name: 'viewer', roles: [{ role: 'view', namespace: 'demo' }] },
];

/** An OpenShift-style API token: `sha256~` and 43 base64url characters. */
function newToken(): string {
  return `sha256~${randomBytes(32).toString('base64url')}`;
}

/** The registry operator's starting state: the options given, the defaults of a fresh cluster otherwise. */
function registryBootstrap(options: ClusterOptions): RegistryBootstrap {
  return {
    managementState: options.managementState ?? 'Managed',
    storage: options.storage ?? 'emptyDir',
    readOnly: options.readOnly ?? false,
    replicas: 1,
    defaultRoute: options.defaultRoute ?? false,
    rolloutDelayMs: options.registryRolloutDelayMs ?? 0,
  };
}

function ingressBootstrap(
  options: ClusterOptions,
  appsDomain: string,
): Parameters<typeof bootstrapIngress>[1] {
  return {
    appsDomain,
    ...(options.customDefaultCertificate !== undefined
      ? { customDefaultCertificate: options.customDefaultCertificate }
      : {}),
  };
}

/**
 * The registry front writes each request's access line into the log of one running registry pod, taking
 * them in turn, as the Service spreads connections over the pods.
 */
function registryAccessLog(store: ObjectStore, podLogs: PodLogs): (line: string) => void {
  let turn = 0;
  // The running registry pods, worked out again only after a pod of the registry's namespace changed:
  // listing the pods on every request cost a pass over every pod of the cluster per registry request (at
  // 50k pods, most of the simulator's time in a confirmed prune).
  let running: string[] | undefined;
  store.subscribe('pods', 'openshift-image-registry', () => {
    running = undefined;
  });
  return (line) => {
    running ??= store
      .list('pods', 'openshift-image-registry')
      .filter(
        (pod) =>
          stringAt(objectAt(objectAt(pod, 'metadata'), 'labels'), 'docker-registry') === 'default' &&
          stringAt(objectAt(pod, 'status'), 'phase') === 'Running',
      )
      .map((pod) => stringAt(objectAt(pod, 'metadata'), 'name'))
      .filter((name): name is string => name !== undefined);
    const name = running[turn++ % Math.max(running.length, 1)];
    if (name !== undefined) podLogs.append('openshift-image-registry', name, line);
  };
}

/** Creates each namespace once: a name given with --namespace may be a system one or `demo` already. */
function createNamespaces(
  parts: ControllerParts,
  names: readonly string[],
  ctx: ReturnType<typeof systemContext>,
): void {
  const namespaces = parts.catalog.require('', 'namespaces');
  for (const name of names) {
    if (!parts.store.get('namespaces', '', name))
      parts.service.create(namespaces, '', { metadata: { name } }, {}, ctx);
  }
}

/**
 * Starts a simulated OpenShift: an HTTPS API server on 127.0.0.1 with its own CA and bearer tokens,
 * the registry and ingress operators' behaviour, and kubeconfig files for the seed users (kubeadmin,
 * developer, viewer) and any extra ones.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<RunningCluster> {
  // First: a CRD that does not parse stops the start before anything is made.
  const catalog = new ResourceCatalog(options.customResourceDefinitions);
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await makeWorkDir('openshift-sim'));
  await mkdir(join(dir, 'users'), { recursive: true, mode: 0o700 });
  // A domain of its own per simulator, so several can map their hosts on one machine.
  const appsDomain = options.appsDomain ?? `apps.sim-${randomBytes(3).toString('hex')}.test`;
  const facts: ClusterFacts = {
    appsDomain,
    internalRegistryHostname: 'image-registry.openshift-image-registry.svc:5000',
  };
  const errors: unknown[] = [];
  const onError = (err: unknown): void => {
    errors.push(err);
    process.stderr.write(
      `openshift-sim: controller error: ${err instanceof Error ? err.message : String(err)}\n`,
    );
  };

  const apiCa = await createCertificateAuthority('openshift-sim kube-apiserver CA');
  const serviceCa = await createCertificateAuthority(
    `openshift-service-serving-signer@${Math.floor(Date.now() / 1000)}`,
  );
  const apiCert = await apiCa.issue({
    commonName: '127.0.0.1',
    altNames: ['127.0.0.1', 'localhost', 'api.openshift-sim.test'],
  });

  const store = new ObjectStore();
  const service = new ResourceService(store);
  // Bindings made in code (seed users, --user) and the RBAC objects stored through the API.
  const storedRbac = new StoredRbac(store);
  const authorizer = new Authorizer(
    (subject, namespace) => storedRbac.ruleSets(subject, namespace),
    (subject, namespace) => storedRbac.grants(subject, namespace),
  );
  const serviceAccountTokens = new ServiceAccountTokens(store);
  const virtual = new VirtualResources(catalog, service);
  const podLogs = new PodLogs();
  const parts: ControllerParts = { catalog, service, store, authorizer, facts, podLogs };
  // Controllers authenticate as members of system:masters, which kube binds to cluster-admin.
  authorizer.bind({ role: 'cluster-admin', group: 'system:masters' });
  authorizer.bind({ role: 'cluster-admin', group: 'system:cluster-admins' });
  const tokens = new Map<string, Subject>();
  // User tokens from the map; anything JWT-shaped is a service-account token, checked by its issuer.
  const authenticate = (token: string): Subject | undefined =>
    tokens.get(token) ?? serviceAccountTokens.authenticate(token);
  // A TokenReview sees the same tokens; only service-account tokens are bound to the API's audience.
  const reviews = new AccessReviews((token) => {
    const user = tokens.get(token);
    if (user !== undefined) return { subject: user, audienceBound: false };
    const account = serviceAccountTokens.authenticate(token);
    return account === undefined ? undefined : { subject: account, audienceBound: true };
  }, authorizer);
  const server = new ApiServer({
    podLogs,
    reviews,
    catalog,
    store,
    service,
    virtual,
    authorizer,
    facts,
    authenticate,
    tokens: serviceAccountTokens,
    tls: apiCert,
  });
  const apiServer = await server.listen(options.apiPort ?? 0);

  const bootstrapCtx = systemContext(parts, 'kube-system:bootstrap');
  createNamespaces(parts, [...SYSTEM_NAMESPACES, 'demo', ...(options.namespaces ?? [])], bootstrapCtx);
  bootstrapClusterRoles(service, catalog.require('rbac.authorization.k8s.io', 'clusterroles'), bootstrapCtx);
  const namespaceBundles = new NamespaceBundles(
    parts,
    { apiCa: apiCa.certPem, serviceCa: serviceCa.certPem },
    onError,
  );
  namespaceBundles.start();
  const serviceCaInjector = new ServiceCaInjector(parts, serviceCa.certPem, onError);
  serviceCaInjector.start();
  const ingress = await bootstrapIngress(parts, ingressBootstrap(options, appsDomain));
  const admission = new RouterAdmission(parts, options.routeAdmissionDelayMs ?? 0, onError);
  admission.start();
  const operator = new RegistryOperator(parts, registryBootstrap(options), onError);
  operator.start();
  const pruner = new ImagePrunerController(parts, onError);
  pruner.start();

  const storage = await startRegistry();
  const registryCert = await serviceCa.issue({
    commonName: 'image-registry.openshift-image-registry.svc',
    altNames: [
      'image-registry.openshift-image-registry.svc',
      'image-registry.openshift-image-registry.svc.cluster.local',
      '127.0.0.1',
    ],
  });
  const front = new RegistryFront({
    authenticate,
    authorizer,
    store,
    notifier: new PushNotifier(catalog, service, virtual, facts.internalRegistryHostname),
    systemContext: () => systemContext(parts, 'openshift-image-registry:registry'),
    userContext: (user) => ({ store, authorizer, user, facts, namespace: '' }),
    upstream: { url: storage.url, storageDir: storage.storageDir },
    ...(options.registryLinkDeletes === undefined ? {} : { linkDeletes: options.registryLinkDeletes }),
    tls: registryCert,
    accessLog: registryAccessLog(store, podLogs),
    ...(options.registryMetricsSecret === undefined ? {} : { metricsSecret: options.registryMetricsSecret }),
  });
  const registryServiceAddress = await front.listen();
  const router = await startRouter({
    mode: options.routerMode ?? 'auto',
    store,
    id: appsDomain,
    defaultCertificate: ingress.serving,
    registry: {
      address: registryServiceAddress,
      caPem: serviceCa.certPem,
      serverName: 'image-registry.openshift-image-registry.svc',
    },
    onError,
  });

  const ingressCA = join(dir, 'ingress-ca.crt');
  await writeFile(ingressCA, ingress.trustBundle, { mode: 0o644 });
  await writeFile(join(dir, 'api-ca.crt'), apiCa.certPem, { mode: 0o644 });

  const users: Record<string, ClusterUser> = {};
  const addUser = async (spec: UserSpec): Promise<ClusterUser> => {
    for (const role of spec.roles) {
      if (!ROLE_NAMES.includes(role.role)) throw new Error(`unknown role "${role.role}"`);
      authorizer.bind({
        role: role.role,
        user: spec.name,
        ...(role.namespace !== undefined ? { namespace: role.namespace } : {}),
      });
    }
    for (const custom of spec.customRoles ?? []) {
      authorizer.bind({
        role: 'view',
        rules: custom.rules,
        user: spec.name,
        ...(custom.namespace !== undefined ? { namespace: custom.namespace } : {}),
      });
    }
    const existing = users[spec.name];
    if (existing) return existing;
    const token = newToken();
    tokens.set(token, {
      name: spec.name,
      // An OpenShift user's uid is its User object's; the simulator has none, so one per user here.
      uid: randomUUID(),
      groups: ['system:authenticated', 'system:authenticated:oauth', ...(spec.groups ?? [])],
    });
    const kubeconfig = join(dir, 'users', `${spec.name}.kubeconfig`);
    const namespace = spec.roles.find((r) => r.namespace !== undefined)?.namespace;
    await writeFile(
      kubeconfig,
      kubeconfigFor({
        server: apiServer,
        caPem: apiCa.certPem,
        user: spec.name,
        token,
        ...(namespace !== undefined ? { namespace } : {}),
      }),
      { mode: 0o600 },
    );
    const created: ClusterUser = { token, kubeconfig };
    users[spec.name] = created;
    return created;
  };
  for (const spec of [...SEED_USERS, ...(options.users ?? [])]) await addUser(spec);
  const adminKubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    adminKubeconfig,
    kubeconfigFor({
      server: apiServer,
      caPem: apiCa.certPem,
      user: 'kubeadmin',
      token: users['kubeadmin']?.token ?? '',
    }),
    { mode: 0o600 },
  );

  const describe = (): ClusterDescription => ({
    apiServer,
    kubeconfig: adminKubeconfig,
    users: { ...users },
    appsDomain,
    routerAddress: router.address,
    routerMode: router.mode,
    internalRegistry: facts.internalRegistryHostname,
    ingressCA,
  });
  await writeFile(join(dir, 'cluster.json'), JSON.stringify(describe(), null, 2), { mode: 0o600 });

  let stopped = false;
  return {
    apiServer,
    kubeconfig: adminKubeconfig,
    users,
    appsDomain,
    routerAddress: router.address,
    routerMode: router.mode,
    registryServiceAddress,
    serviceCaPem: serviceCa.certPem,
    registryStorageDir: storage.storageDir,
    registryUpstreamLog: storage.logFile,
    internalRegistry: facts.internalRegistryHostname,
    ingressCA,
    apiCaPem: apiCa.certPem,
    ingressCaPem: ingress.trustBundle,
    dir,
    addUser,
    podLogs,
    compact: () => store.compact(),
    expireToken: (user: string): void => {
      const token = users[user]?.token;
      if (token === undefined) throw new Error(`unknown user "${user}"`);
      tokens.delete(token);
    },
    describe,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      operator.stop();
      pruner.stop();
      admission.stop();
      namespaceBundles.stop();
      serviceCaInjector.stop();
      storedRbac.stop();
      await router.stop();
      await front.close();
      await storage.stop();
      await server.close();
      if (ownsDir) await removeWorkDir(dir);
    },
  };
}
