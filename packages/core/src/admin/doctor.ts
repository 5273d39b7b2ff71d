import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import { conditionOf, type RegistryConfig } from '../cluster/openshift-objects.js';
import { formatError, isRegistryPushError, type RegistryPushError } from '../errors.js';
import { discoverRegistryHost } from '../expose/discover.js';
import { IMAGE_REGISTRY_REMOVED_ADVICE, registryState } from '../expose/registry-state.js';
import { DEFAULT_USERNAME } from '../login/login.js';
import { preflightPush } from '../login/preflight.js';
import { checkRegistryLogin, type CredentialChecker } from '../registry/login-check.js';
import { resolveToken, type ResolvedToken } from '../login/token.js';
import { registryTrust, type RegistryTrust } from '../trust/registry-trust.js';
import { AdminResources, type PersistentVolumeClaim } from './admin-objects.js';
import { claimProblem } from './storage.js';
import { pullPermissionCheck } from './pull-permission.js';
import type { DoctorCheck } from './doctor-check.js';

export type { CheckStatus, DoctorCheck } from './doctor-check.js';

/** Everything {@link registryDoctor} found. */
export interface DoctorReport {
  user?: string;
  /** The registry host the network checks used. */
  host?: string;
  checks: DoctorCheck[];
  /** True when no check failed. */
  ok: boolean;
}

/** Options of {@link registryDoctor}. */
export interface DoctorOptions {
  /** The project to push to: push permission is checked there, and its image streams reveal the host. */
  namespace?: string;
  /** Also check what pruning needs (cluster-wide image and image stream rights). */
  prune?: boolean;
  /** Registry `host[:port]`; default discovered. */
  host?: string;
  /** The token pushes use; default the cluster client's. */
  token?: string;
  username?: string;
  /** CA for the registry host; default found from the cluster. */
  caPem?: string;
  /** Default true. */
  tlsVerify?: boolean;
  /** Dial this `ip:port` instead of resolving the host. */
  connectTo?: string;
  /** The `/v2/` login check; default the registry client's, as `registryLogin` uses. */
  checkCredentials?: CredentialChecker;
}

const ENABLE_FIX =
  'A cluster admin configures storage and sets Managed in one step: `registry-push enable --storage pvc` (a ReadWriteMany claim; `--storage pvc=CLAIM` for an existing one), `--storage s3|gcs|azure` with credentials, or `--storage emptydir` on a non-production cluster.';

function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Collects checks; a check that throws becomes a failure with the error's message and hint. */
class Checks {
  readonly list: DoctorCheck[] = [];

  add(check: DoctorCheck): DoctorCheck {
    this.list.push(check);
    return check;
  }

  async run(
    id: string,
    title: string,
    check: () => Promise<Omit<DoctorCheck, 'id' | 'title'>>,
  ): Promise<DoctorCheck> {
    try {
      return this.add({ id, title, ...(await check()) });
    } catch (error) {
      const hint = isRegistryPushError(error) && error.hint !== '' ? error.hint : undefined;
      const detail = isRegistryPushError(error) ? error.message : formatError(error);
      return this.add({
        id,
        title,
        status: 'fail',
        detail,
        ...(hint === undefined ? {} : { fix: hint }),
        ...(isRegistryPushError(error) ? { code: error.code } : {}),
      });
    }
  }
}

function tokenCheck(resolved: ResolvedToken): Omit<DoctorCheck, 'id' | 'title'> {
  if (resolved.expiresAt === undefined) {
    return {
      status: 'pass',
      detail: `token from ${resolved.source}; it carries no expiry (OpenShift OAuth tokens last 24 h by default)`,
    };
  }
  const left = resolved.expiresAt.getTime() - Date.now();
  // The same 15 minutes at which registryLogin warns.
  if (left < 15 * 60_000) {
    return {
      status: 'warn',
      detail: `token from ${resolved.source} expires in ${duration(left)} (${resolved.expiresAt.toISOString()}); a long push may fail half-way`,
      fix: 'Use a fresh token, e.g. `oc create token <serviceaccount> -n <project> --duration=1h`.',
    };
  }
  return {
    status: 'pass',
    detail: `token from ${resolved.source} expires in ${duration(left)} (${resolved.expiresAt.toISOString()})`,
  };
}

function configCheck(config: RegistryConfig): Omit<DoctorCheck, 'id' | 'title'> {
  const state = registryState(config);
  if (state.managementState === 'Removed') {
    return {
      status: 'fail',
      detail: `managementState is Removed. ${IMAGE_REGISTRY_REMOVED_ADVICE}`,
      fix: ENABLE_FIX,
    };
  }
  if (state.managementState === 'Unmanaged') {
    return {
      status: 'warn',
      detail: 'managementState is Unmanaged: the operator ignores configuration changes (routes, storage).',
      fix: 'A cluster admin sets it back: `oc patch configs.imageregistry.operator.openshift.io/cluster --type merge -p \'{"spec":{"managementState":"Managed"}}\'`.',
    };
  }
  return { status: 'pass', detail: 'managementState is Managed' };
}

async function storageCheck(
  client: ClusterApi,
  config: RegistryConfig,
): Promise<Omit<DoctorCheck, 'id' | 'title'>> {
  const state = registryState(config);
  if (state.storage === undefined) {
    return {
      status: 'fail',
      detail:
        'No storage is configured, so the operator cannot run the registry (the reason platforms such as bare metal and vSphere start Removed).',
      fix: ENABLE_FIX,
    };
  }
  const exists = conditionOf(config.status?.conditions, 'StorageExists');
  if (exists !== undefined && exists.status !== 'True') {
    return {
      status: 'fail',
      detail: `${state.storage} storage: ${said(exists)}`,
      fix: 'Fix the storage, or reconfigure it with `registry-push enable --storage …`; `registry-push status` shows the operator conditions.',
    };
  }
  if (state.storage === 'emptyDir') {
    return {
      status: 'warn',
      detail:
        'emptyDir storage: for non-production clusters only; every image is lost when the registry pod restarts.',
      fix: 'For a cluster that keeps its images: `registry-push enable --storage pvc` (ReadWriteMany claim) or object storage.',
    };
  }
  if (state.storage !== 'pvc') return { status: 'pass', detail: `${state.storage} storage` };
  return claimCheck(client, config);
}

async function claimCheck(
  client: ClusterApi,
  config: RegistryConfig,
): Promise<Omit<DoctorCheck, 'id' | 'title'>> {
  const name = (config.spec.storage?.['pvc'] as { claim?: string } | undefined)?.claim;
  if (name === undefined || name === '')
    return { status: 'pass', detail: 'pvc storage (the operator’s claim)' };
  const claim = await client.find<PersistentVolumeClaim>(
    AdminResources.persistentVolumeClaim,
    name,
    RegistryNames.namespace,
  );
  if (claim === undefined) {
    return {
      status: 'fail',
      detail: `pvc storage: claim ${name} does not exist in ${RegistryNames.namespace}`,
      fix: `Create claim ${name} (ReadWriteMany) in ${RegistryNames.namespace}.`,
    };
  }
  const problem = claimProblem(
    claim,
    config.spec.replicas ?? 1,
    config.spec.rolloutStrategy ?? 'RollingUpdate',
  );
  if (problem !== undefined) return { status: 'fail', detail: problem.message, fix: problem.fix };
  return {
    status: 'pass',
    detail: `pvc storage: claim ${name} [${(claim.spec.accessModes ?? []).join(', ')}]`,
  };
}

function said(condition: { reason?: string; message?: string } | undefined): string {
  return [condition?.reason, condition?.message].filter(Boolean).join(': ');
}

/** Why the registry is not available: the Available condition's words, and the rollout's if one is under way. */
function notAvailableReason(
  available: { reason?: string; message?: string } | undefined,
  progressing: { status?: string; message?: string } | undefined,
): string {
  return [said(available), progressing?.status === 'True' ? progressing.message : undefined]
    .filter(Boolean)
    .join(': ');
}

function availableCheck(config: RegistryConfig): Omit<DoctorCheck, 'id' | 'title'> {
  const available = conditionOf(config.status?.conditions, 'Available');
  const degraded = conditionOf(config.status?.conditions, 'Degraded');
  const progressing = conditionOf(config.status?.conditions, 'Progressing');
  const ready = `${config.status?.readyReplicas ?? 0}/${config.spec.replicas ?? 1} replicas ready`;
  if (available?.status !== 'True' || available.reason === 'Removed') {
    const why = notAvailableReason(available, progressing);
    return {
      status: 'fail',
      detail: `The registry is not available (${why || 'no Available condition yet'}); ${ready}.`,
      fix: 'Follow the operator with `registry-push status` (or `oc get co image-registry`); the registry pods are in openshift-image-registry.',
    };
  }
  if (degraded?.status === 'True') {
    return {
      status: 'warn',
      detail: `Available, but Degraded: ${said(degraded)}; ${ready}.`,
      fix: 'See `registry-push status` for the operator conditions.',
    };
  }
  return { status: 'pass', detail: `Available (${available.reason ?? 'ready'}); ${ready}` };
}

function readOnlyCheck(config: RegistryConfig): Omit<DoctorCheck, 'id' | 'title'> {
  if (config.spec.readOnly !== true) return { status: 'pass', detail: 'pushes and deletes allowed' };
  return {
    status: 'fail',
    detail: 'The registry is read-only (spec.readOnly): pulls work, pushes and prune deletes are refused.',
    fix: 'When the maintenance that set it is over, a cluster admin runs `oc patch configs.imageregistry.operator.openshift.io/cluster --type merge -p \'{"spec":{"readOnly":false}}\'`.',
  };
}

const PRUNE_ACCESS = [
  { verb: 'list', resource: 'images', group: 'image.openshift.io' },
  { verb: 'delete', resource: 'images', group: 'image.openshift.io' },
  { verb: 'list', resource: 'imagestreams', group: 'image.openshift.io' },
  { verb: 'update', resource: 'imagestreams', subresource: 'status', group: 'image.openshift.io' },
] as const;

async function pruneCheck(
  client: ClusterApi,
  user: string | undefined,
): Promise<Omit<DoctorCheck, 'id' | 'title'>> {
  const missing: string[] = [];
  for (const access of PRUNE_ACCESS) {
    if (!(await client.canI(access))) {
      missing.push(
        `${access.verb} ${access.resource}${'subresource' in access ? `/${access.subresource}` : ''}`,
      );
    }
  }
  if (missing.length === 0)
    return {
      status: 'pass',
      detail: 'may list and delete images and update image stream status cluster-wide',
    };
  return {
    status: 'fail',
    detail: `Pruning needs cluster-wide rights this user lacks: ${missing.join(', ')}.`,
    fix: `A cluster admin grants the pruner role: \`oc adm policy add-cluster-role-to-user system:image-pruner ${user ?? '<user>'}\`.`,
  };
}

/** The registry's CA as `registryTrust` finds and proves it, or the typed error why not. */
async function findTrust(
  client: ClusterApi,
  host: string,
  options: DoctorOptions,
): Promise<{ trust?: RegistryTrust; error?: RegistryPushError }> {
  try {
    const trust = await registryTrust({
      host,
      client,
      ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
      ...(options.tlsVerify === false ? { verify: false } : {}),
      ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
    });
    return { trust };
  } catch (error) {
    if (!isRegistryPushError(error)) throw error;
    return { error };
  }
}

/** The route answered no handshake: reachability fails, and what depends on it is skipped. */
function unreachableChecks(checks: Checks, error: RegistryPushError): void {
  checks.add({
    id: 'route-reachable',
    title: 'registry route reachable',
    status: 'fail',
    detail: error.message,
    fix: error.hint,
  });
  for (const [id, title] of [
    ['certificate', 'certificate trusted'],
    ['registry-login', '/v2/ login'],
  ] as const) {
    checks.add({ id, title, status: 'skip', detail: 'the route is not reachable' });
  }
}

/** The network checks: reachable, trusted, logged in. */
async function registryChecks(
  checks: Checks,
  client: ClusterApi,
  host: string,
  token: string | undefined,
  options: DoctorOptions,
): Promise<void> {
  const { trust, error } = await findTrust(client, host, options);
  if (error?.code === 'REGISTRY_UNREACHABLE') {
    unreachableChecks(checks, error);
    return;
  }
  checks.add({
    id: 'route-reachable',
    title: 'registry route reachable',
    status: 'pass',
    detail: `TLS handshake with ${host}`,
  });
  if (trust !== undefined) {
    checks.add({ id: 'certificate', title: 'certificate trusted', ...certificateCheck(trust) });
    await loginCheck(checks, host, token, trust.caPem, options);
    return;
  }
  if (options.tlsVerify === false) {
    // Nothing is verified anyway: a CA nobody can read is worth a warning, not a failed check.
    checks.add({
      id: 'certificate',
      title: 'certificate trusted',
      status: 'warn',
      detail: `not verified (tls-verify off); no CA found: ${error?.message ?? 'no CA source was readable'}`,
    });
    await loginCheck(checks, host, token, undefined, options);
    return;
  }
  checks.add({
    id: 'certificate',
    title: 'certificate trusted',
    status: 'fail',
    detail: error?.message ?? 'not trusted',
    ...(error?.hint ? { fix: error.hint } : {}),
  });
  checks.add({
    id: 'registry-login',
    title: '/v2/ login',
    status: 'skip',
    detail: 'the certificate is not trusted',
  });
}

function certificateCheck(trust: RegistryTrust): Omit<DoctorCheck, 'id' | 'title'> {
  const verified = trust.verified
    ? `trusted via ${trust.detail}`
    : `not verified (tls-verify off); CA from ${trust.detail}`;
  const expiry =
    trust.servedNotAfter === undefined
      ? ''
      : `; served certificate valid until ${trust.servedNotAfter.toISOString()}`;
  if (trust.warnings.length > 0) {
    return {
      status: 'warn',
      detail: `${verified}${expiry}. ${trust.warnings.join(' ')}`,
      fix: 'Renew the route certificate (or the ingress CA) before it expires.',
    };
  }
  return { status: trust.verified ? 'pass' : 'warn', detail: `${verified}${expiry}` };
}

async function loginCheck(
  checks: Checks,
  host: string,
  token: string | undefined,
  caPem: string | undefined,
  options: DoctorOptions,
): Promise<void> {
  if (token === undefined) {
    checks.add({
      id: 'registry-login',
      title: '/v2/ login',
      status: 'skip',
      detail: 'no token to log in with',
    });
    return;
  }
  const checker = options.checkCredentials ?? checkRegistryLogin;
  await checks.run('registry-login', '/v2/ login', async () => {
    await checker({
      host,
      username: options.username ?? DEFAULT_USERNAME,
      token,
      tlsVerify: options.tlsVerify !== false,
      ...(caPem === undefined ? {} : { caPem }),
      ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
    });
    return { status: 'pass', detail: `the registry at ${host} accepted the token` };
  });
}

async function readConfig(checks: Checks, client: ClusterApi): Promise<RegistryConfig | undefined> {
  try {
    const config = await client.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
    checks.add({ id: 'registry-config', title: 'registry operator config', ...configCheck(config) });
    return config;
  } catch (error) {
    if (!isRegistryPushError(error, 'FORBIDDEN')) throw error;
    checks.add({
      id: 'registry-config',
      title: 'registry operator config',
      status: 'skip',
      detail:
        'not allowed to read configs.imageregistry.operator.openshift.io; storage and availability were not checked',
      fix: 'A cluster admin can run `registry-push status` (or this doctor) to check the registry itself.',
    });
    return undefined;
  }
}

/**
 * Run every check a push or prune depends on, from the caller's point of view: API access and identity,
 * token lifetime, the registry's management state, storage, availability and read-only mode (when the
 * caller may read them), push and pull permission in the project, prune permissions, the registry host, the route's
 * reachability and certificate, and a `/v2/` login. Each problem comes with the exact fix. Never throws for
 * a failed check; `ok` is false when any check failed.
 */
export async function registryDoctor(client: ClusterApi, options: DoctorOptions = {}): Promise<DoctorReport> {
  const checks = new Checks();
  let user: string | undefined;
  const access = await checks.run('api-access', 'cluster API access', async () => {
    user = (await client.whoami()).username;
    return { status: 'pass', detail: `${client.server} as ${user}` };
  });
  if (access.status === 'fail') return { checks: checks.list, ok: false };
  let token: string | undefined;
  await checks.run('token', 'token lifetime', async () => {
    const resolved = await resolveToken({
      client,
      ...(options.token === undefined ? {} : { token: options.token }),
    });
    token = resolved.token;
    return tokenCheck(resolved);
  });
  const config = await readConfig(checks, client);
  if (config !== undefined) {
    await checks.run('storage', 'registry storage', () => storageCheck(client, config));
    checks.add({ id: 'registry-available', title: 'registry available', ...availableCheck(config) });
    checks.add({ id: 'read-only', title: 'registry writable', ...readOnlyCheck(config) });
  }
  const namespace = options.namespace;
  if (namespace === undefined) {
    checks.add({
      id: 'push-permission',
      title: 'push permission',
      status: 'skip',
      detail: 'no project given (--namespace)',
    });
  } else {
    await checks.run('push-permission', `push permission in ${namespace}`, async () => {
      await preflightPush(client, namespace);
      return { status: 'pass', detail: `may push to ${namespace} (update imagestreams/layers)` };
    });
  }
  if (namespace === undefined) {
    checks.add({
      id: 'pull-permission',
      title: 'pull permission',
      status: 'skip',
      detail: 'no project given (--namespace)',
    });
  } else {
    await checks.run('pull-permission', `pull permission in ${namespace}`, () =>
      pullPermissionCheck(client, namespace, user),
    );
  }
  if (options.prune === true)
    await checks.run('prune-permission', 'prune permission', () => pruneCheck(client, user));
  let host = options.host;
  await checks.run('registry-host', 'registry host', async () => {
    if (host !== undefined) return { status: 'pass', detail: `${host} (given)` };
    const discovery = await discoverRegistryHost(client, {
      ...(namespace === undefined ? {} : { namespace }),
    });
    host = discovery.found?.host;
    if (discovery.found !== undefined)
      return { status: 'pass', detail: `${discovery.found.host} from ${discovery.found.detail}` };
    return {
      status: 'fail',
      detail: `No external registry host found (tried: ${discovery.tried.join('; ') || 'nothing readable'}).`,
      fix: 'A cluster admin exposes the registry: `registry-push expose --expose default-route`; or pass the host with --registry.',
    };
  });
  if (host !== undefined) await registryChecks(checks, client, host, token, options);
  return {
    ...(user === undefined ? {} : { user }),
    ...(host === undefined ? {} : { host }),
    checks: checks.list,
    ok: checks.list.every((check) => check.status !== 'fail'),
  };
}
