import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { DataObject, RegistryConfig, RegistryRouteSpec } from '../cluster/openshift-objects.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { discoverRegistryHost, type RegistryHostSource } from './discover.js';
import { assertExposable, registryState } from './registry-state.js';
import { routeAdmission, waitForAdmittedRoute, type ExposeProgress } from './route-admission.js';
import { DEFAULT_ROUTE_SECRET, validateCustomRoute, type CustomRouteOptions } from './custom-route.js';
import { preflightPush } from '../login/preflight.js';

/** How to make the registry reachable from outside the cluster. */
export type ExposeMode = 'auto' | 'default-route' | 'custom-route' | 'none';

/** Options of {@link exposeRegistry}. */
export interface ExposeOptions {
  /**
   * `default-route`: enable the operator's default route and wait for it. `custom-route`: add a route with
   * its own host (and TLS secret). `none`: only discover. `auto` (default): discover, and enable the
   * default route only when nothing is exposed and the user may change the operator config.
   */
  mode?: ExposeMode;
  /** The project that will be pushed to (discovery reads its image streams). */
  namespace?: string;
  /** The custom route, for `custom-route`. */
  route?: CustomRouteOptions;
  /** A route in `openshift-image-registry` to look for first when discovering. */
  routeName?: string;
  /** How long to wait for the operator and the router (default 180 s). */
  timeoutMs?: number;
  /** Polling interval while waiting (default 1 s). */
  intervalMs?: number;
  onProgress?: (progress: ExposeProgress) => void;
  /**
   * Told of each change the moment it is made, before waiting for the route: a caller that must be able to
   * undo them (a CI post step) records them here, so even a failed or interrupted expose can be reverted.
   */
  onChange?: (change: ExposeChange) => void;
  signal?: AbortSignal;
}

/** One change {@link exposeRegistry} made, so that {@link revertExpose} can undo exactly that. */
export type ExposeChange =
  | { kind: 'default-route-enabled' }
  | { kind: 'route-entry-set'; name: string; previous?: RegistryRouteSpec }
  | { kind: 'secret-created'; name: string; uid: string };

/** Where the registry can be reached, how that was found, and what was changed on the way. */
export interface ExposeResult {
  /** `host[:port]` of the registry route. */
  host: string;
  source: RegistryHostSource;
  /** Where exactly the host came from. */
  detail: string;
  /** What was changed in the cluster (empty when only discovered). */
  changes: ExposeChange[];
  /** Things the user should know (read-only registry, secret replaced, ...). */
  warnings: string[];
}

const READ_ONLY_WARNING = 'The registry is read-only (spec.readOnly): pulls work, pushes will be refused.';

const PATCH_ROLE_HINT =
  'Changing the registry operator config needs cluster-admin (patch on configs.imageregistry.operator.openshift.io). ' +
  'Ask an admin to run `oc patch configs.imageregistry.operator.openshift.io/cluster --type merge -p \'{"spec":{"defaultRoute":true}}\'` once, then use expose mode `none` (or `auto`).';

/**
 * What an admin runs for a custom route: its TLS secret and its `spec.routes` entry, both of which need
 * cluster-admin rights (secrets in openshift-image-registry, patch on the operator config). Nothing of the
 * default route: that is a different exposure than the one asked for.
 */
function customRouteHint(route: CustomRouteOptions | undefined): string {
  const name = route?.name ?? 'NAME';
  const hostname = route?.hostname ?? 'HOST';
  const secret = route?.secretName ?? DEFAULT_ROUTE_SECRET;
  const hasSecret = route?.certPem !== undefined || route?.secretName !== undefined;
  const entry = JSON.stringify({ name, hostname, ...(hasSecret ? { secretName: secret } : {}) });
  const secretStep =
    route?.certPem !== undefined
      ? `\`oc create secret tls ${secret} --cert=CERT.pem --key=KEY.pem -n ${RegistryNames.namespace}\`, then `
      : '';
  return (
    `A custom route needs create/update on secrets in ${RegistryNames.namespace} (for its TLS secret) and patch on configs.imageregistry.operator.openshift.io (for spec.routes), which cluster-admin has. ` +
    `Ask an admin to run ${secretStep}\`oc patch configs.imageregistry.operator.openshift.io/cluster --type json -p '[{"op":"add","path":"/spec/routes/-","value":${entry}}]'\` ` +
    `(if spec.routes does not exist yet, use --type merge -p '{"spec":{"routes":[${entry}]}}'), then use expose mode \`none\`.`
  );
}

interface Context {
  client: ClusterApi;
  /** The hint of EXPOSE_FORBIDDEN: what an admin does instead for the exposure that was asked for. */
  forbiddenHint: string;
  timeoutMs: number;
  intervalMs: number;
  progress: (step: ExposeProgress['step'], message: string) => void;
  /** Record a change (and report it at once). */
  changed: (changes: ExposeChange[], change: ExposeChange) => void;
  signal?: AbortSignal;
}

function forbiddenToExpose(context: Context): (error: unknown) => never {
  return (error) => {
    if (isRegistryPushError(error, 'FORBIDDEN')) {
      throw new RegistryPushError('EXPOSE_FORBIDDEN', error.message, {
        hint: context.forbiddenHint,
        cause: error,
      });
    }
    throw error;
  };
}

/** Read the operator config; "not found" right after install means wait for the operator, within the timeout. */
async function readOperatorConfig(context: Context): Promise<RegistryConfig> {
  const deadline = Date.now() + context.timeoutMs;
  for (;;) {
    try {
      return await context.client.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
    } catch (error) {
      if (!isRegistryPushError(error, 'NOT_FOUND')) forbiddenToExpose(context)(error);
      if (Date.now() + context.intervalMs > deadline) {
        throw new RegistryPushError(
          'OPERATOR_CONFIG_MISSING',
          'configs.imageregistry.operator.openshift.io "cluster" not found: the image registry operator has not created its config.',
          {
            hint: 'Check that the image-registry cluster operator is installed and running (`oc get co image-registry`).',
            retryable: true,
          },
        );
      }
      context.progress(
        'config',
        'waiting for the registry operator to create configs.imageregistry.operator.openshift.io/cluster',
      );
      await sleep(context.intervalMs, undefined, { signal: context.signal });
    }
  }
}

async function usableConfig(context: Context, warnings: string[]): Promise<RegistryConfig> {
  const config = await readOperatorConfig(context);
  const state = registryState(config);
  assertExposable(state);
  if (state.readOnly) warnings.push(READ_ONLY_WARNING);
  return config;
}

async function enableDefaultRoute(context: Context, warnings: string[]): Promise<ExposeResult> {
  const config = await usableConfig(context, warnings);
  const changes: ExposeChange[] = [];
  if (config.spec.defaultRoute === true) {
    context.progress('patch', 'spec.defaultRoute is already true');
  } else {
    context.progress(
      'patch',
      'setting spec.defaultRoute: true on configs.imageregistry.operator.openshift.io/cluster',
    );
    await context.client
      .mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, { spec: { defaultRoute: true } })
      .catch(forbiddenToExpose(context));
    context.changed(changes, { kind: 'default-route-enabled' });
  }
  const route = await waitForAdmittedRoute(context.client, RegistryNames.defaultRoute, {
    timeoutMs: context.timeoutMs,
    intervalMs: context.intervalMs,
    onProgress: (progress) => context.progress(progress.step, progress.message),
    ...(context.signal === undefined ? {} : { signal: context.signal }),
  });
  return {
    host: routeAdmission(route).host as string,
    source: 'default-route',
    detail: `route ${RegistryNames.defaultRoute} in ${RegistryNames.namespace}`,
    changes,
    warnings,
  };
}

async function ensureRouteSecret(
  context: Context,
  route: CustomRouteOptions,
  secretName: string,
  warnings: string[],
): Promise<ExposeChange | undefined> {
  if (route.certPem === undefined || route.keyPem === undefined) return undefined;
  const data: Record<string, string> = {
    'tls.crt': Buffer.from(route.certPem).toString('base64'),
    'tls.key': Buffer.from(route.keyPem).toString('base64'),
    ...(route.caPem === undefined ? {} : { 'tls.cacrt': Buffer.from(route.caPem).toString('base64') }),
  };
  const existing = await context.client
    .find<DataObject>(Resources.secret, secretName, RegistryNames.namespace)
    .catch(forbiddenToExpose(context));
  if (existing === undefined) {
    context.progress('secret', `creating TLS secret ${secretName} in ${RegistryNames.namespace}`);
    const created = await context.client
      .create<DataObject>(Resources.secret, {
        metadata: { name: secretName, namespace: RegistryNames.namespace },
        type: 'kubernetes.io/tls',
        data,
      })
      .catch(forbiddenToExpose(context));
    return { kind: 'secret-created', name: secretName, uid: created.metadata.uid ?? '' };
  }
  const same = Object.entries(data).every(([key, value]) => existing.data?.[key] === value);
  if (same) {
    context.progress('secret', `TLS secret ${secretName} already holds this certificate`);
    return undefined;
  }
  context.progress('secret', `updating TLS secret ${secretName}`);
  await context.client
    .replace<DataObject>(Resources.secret, { ...existing, data: { ...existing.data, ...data } })
    .catch(forbiddenToExpose(context));
  warnings.push(
    `The existing secret ${secretName} was updated with the new certificate; reverting will not restore the old one.`,
  );
  return undefined;
}

function sameEntry(a: RegistryRouteSpec | undefined, b: RegistryRouteSpec): boolean {
  return a !== undefined && a.hostname === b.hostname && (a.secretName ?? '') === (b.secretName ?? '');
}

/** Put `entry` into `spec.routes` (replacing one of the same name), guarded by resourceVersion. */
async function setRouteEntry(context: Context, entry: RegistryRouteSpec): Promise<ExposeChange | undefined> {
  for (let attempt = 0; ; attempt++) {
    const config = await readOperatorConfig(context);
    const routes = config.spec.routes ?? [];
    const previous = routes.find((route) => route.name === entry.name);
    if (sameEntry(previous, entry)) {
      context.progress('patch', `spec.routes already has ${entry.name} for ${entry.hostname ?? ''}`);
      return undefined;
    }
    const next = [...routes.filter((route) => route.name !== entry.name), entry];
    context.progress('patch', `setting route ${entry.name} (${entry.hostname ?? ''}) in spec.routes`);
    try {
      await context.client.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
        metadata: { resourceVersion: config.metadata.resourceVersion },
        spec: { routes: next },
      });
      return previous === undefined
        ? { kind: 'route-entry-set', name: entry.name }
        : { kind: 'route-entry-set', name: entry.name, previous };
    } catch (error) {
      if (isRegistryPushError(error, 'CONFLICT') && attempt < 3) continue;
      forbiddenToExpose(context)(error);
    }
  }
}

async function exposeCustomRoute(
  context: Context,
  route: CustomRouteOptions,
  warnings: string[],
): Promise<ExposeResult> {
  const validated = validateCustomRoute(route, warnings);
  await usableConfig(context, warnings);
  const changes: ExposeChange[] = [];
  const secretChange = await ensureRouteSecret(context, route, validated.secretName, warnings);
  if (secretChange !== undefined) context.changed(changes, secretChange);
  const hasSecret = route.certPem !== undefined || route.secretName !== undefined;
  const entry: RegistryRouteSpec = {
    name: route.name,
    hostname: route.hostname,
    ...(hasSecret ? { secretName: validated.secretName } : {}),
  };
  const entryChange = await setRouteEntry(context, entry);
  if (entryChange !== undefined) context.changed(changes, entryChange);
  const admitted = await waitForAdmittedRoute(context.client, route.name, {
    timeoutMs: context.timeoutMs,
    intervalMs: context.intervalMs,
    onProgress: (progress) => context.progress(progress.step, progress.message),
    ...(context.signal === undefined ? {} : { signal: context.signal }),
  });
  return {
    host: routeAdmission(admitted).host ?? route.hostname,
    source: 'custom-route',
    detail: `route ${route.name} in ${RegistryNames.namespace}`,
    changes,
    warnings,
  };
}

/** When nothing could be discovered, say the most precise thing we can: Removed, no storage, or not exposed. */
async function notExposed(context: Context, tried: string[]): Promise<never> {
  let config: RegistryConfig | undefined;
  try {
    config = await context.client.find<RegistryConfig>(
      Resources.registryConfig,
      RegistryNames.operatorConfig,
    );
  } catch {
    config = undefined; // not readable: fall through to the general message
  }
  if (config !== undefined) assertExposable(registryState(config));
  throw new RegistryPushError(
    'REGISTRY_NOT_EXPOSED',
    `The integrated registry has no external host that this user can find (tried: ${tried.join('; ')}).`,
    {
      hint: `Give the registry host explicitly, or have a cluster admin expose it. ${PATCH_ROLE_HINT}`,
    },
  );
}

/** Discovery changes nothing, but a read-only registry is worth saying before a push is refused. */
async function warnIfReadOnly(context: Context, warnings: string[]): Promise<void> {
  // Most users may not read the operator config; then the push itself reports REGISTRY_READ_ONLY.
  const config = await context.client
    .find<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig)
    .catch(() => undefined);
  if (config !== undefined && registryState(config).readOnly) warnings.push(READ_ONLY_WARNING);
}

async function discoverOrExpose(
  context: Context,
  options: ExposeOptions,
  mode: 'auto' | 'none',
  warnings: string[],
): Promise<ExposeResult> {
  const discovery = await discoverRegistryHost(context.client, {
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.routeName === undefined ? {} : { routeName: options.routeName }),
    onProgress: (progress) => context.progress(progress.step, progress.message),
  });
  if (discovery.found !== undefined) {
    await warnIfReadOnly(context, warnings);
    return { ...discovery.found, changes: [], warnings };
  }
  // A project that does not exist (or that this user may not push to) also hides the registry host from a
  // developer: the image-stream probe in it is refused, and without cluster rights it was the last source.
  // Say that, not "not exposed", and before an admin's auto mode changes the cluster for a push that
  // cannot happen. PROJECT_NOT_FOUND or PUSH_FORBIDDEN, as the push's own preflight would say.
  if (options.namespace !== undefined) await preflightPush(context.client, options.namespace);
  if (mode === 'auto') {
    const mayPatch = await context.client.canI({
      verb: 'patch',
      resource: 'configs',
      group: 'imageregistry.operator.openshift.io',
      name: RegistryNames.operatorConfig,
    });
    if (mayPatch) {
      context.progress(
        'discover',
        'nothing exposed yet and this user may change the operator config: enabling the default route',
      );
      return enableDefaultRoute(context, warnings);
    }
  }
  return notExposed(context, discovery.tried);
}

/**
 * Make the integrated registry reachable from outside the cluster, or find how it already is. Idempotent:
 * running it again changes nothing and returns the same host. The `changes` of the result feed
 * {@link revertExpose}.
 */
export async function exposeRegistry(client: ClusterApi, options: ExposeOptions = {}): Promise<ExposeResult> {
  const context: Context = {
    client,
    forbiddenHint: options.mode === 'custom-route' ? customRouteHint(options.route) : PATCH_ROLE_HINT,
    timeoutMs: options.timeoutMs ?? 180_000,
    intervalMs: options.intervalMs ?? 1000,
    progress: (step, message) => options.onProgress?.({ step, message }),
    changed: (changes, change) => {
      changes.push(change);
      options.onChange?.(change);
    },
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const warnings: string[] = [];
  const mode = options.mode ?? 'auto';
  switch (mode) {
    case 'default-route':
      return enableDefaultRoute(context, warnings);
    case 'custom-route':
      if (options.route === undefined) {
        throw new RegistryPushError(
          'OPTION_INVALID',
          'The custom-route mode needs a route name and hostname.',
          {
            hint: 'Pass the route name and hostname (and optionally its certificate and key).',
          },
        );
      }
      return exposeCustomRoute(context, options.route, warnings);
    case 'auto':
    case 'none':
      return discoverOrExpose(context, options, mode, warnings);
  }
}

async function revertChange(client: ClusterApi, change: ExposeChange): Promise<string> {
  switch (change.kind) {
    case 'default-route-enabled':
      await client.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
        spec: { defaultRoute: false },
      });
      return 'set spec.defaultRoute back to false';
    case 'route-entry-set': {
      const config = await client.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
      const routes = (config.spec.routes ?? []).filter((route) => route.name !== change.name);
      if (change.previous !== undefined) routes.push(change.previous);
      await client.mergePatch(Resources.registryConfig, RegistryNames.operatorConfig, {
        metadata: { resourceVersion: config.metadata.resourceVersion },
        spec: { routes },
      });
      return change.previous === undefined
        ? `removed route ${change.name} from spec.routes`
        : `restored route ${change.name} in spec.routes`;
    }
    case 'secret-created': {
      const deleted = await client.delete(
        Resources.secret,
        change.name,
        RegistryNames.namespace,
        change.uid === '' ? undefined : { uid: change.uid },
      );
      return deleted ? `deleted secret ${change.name}` : `secret ${change.name} was already gone`;
    }
  }
}

/**
 * Undo exactly the changes an {@link exposeRegistry} call made, newest first. Every change is tried even
 * if one fails; the failures are returned, not thrown, because cleanup must not hide the real result.
 */
export async function revertExpose(
  client: ClusterApi,
  changes: readonly ExposeChange[],
  onProgress?: (progress: ExposeProgress) => void,
): Promise<{ done: string[]; failed: RegistryPushError[] }> {
  const done: string[] = [];
  const failed: RegistryPushError[] = [];
  for (const change of [...changes].reverse()) {
    try {
      const message = await revertChange(client, change);
      done.push(message);
      onProgress?.({ step: 'revert', message });
    } catch (error) {
      failed.push(
        isRegistryPushError(error)
          ? error
          : new RegistryPushError('API_ERROR', `Could not revert ${change.kind}.`, { cause: error }),
      );
    }
  }
  return { done, failed };
}
