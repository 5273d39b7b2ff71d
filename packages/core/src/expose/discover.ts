import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { ImageConfig, ImageStreamSummary, Route } from '../cluster/openshift-objects.js';
import { isRegistryPushError } from '../errors.js';
import { routeAdmission, type ExposeProgress } from './route-admission.js';

/** How the registry host was found. */
export type RegistryHostSource =
  'explicit' | 'default-route' | 'custom-route' | 'route' | 'image-config' | 'imagestream';

/** A registry host and where it came from. */
export interface DiscoveredHost {
  host: string;
  source: RegistryHostSource;
  /** Where exactly, e.g. `route default-route in openshift-image-registry`. */
  detail: string;
}

/** Options of {@link discoverRegistryHost}. */
export interface DiscoverOptions {
  /** The project that will be pushed to; its image streams reveal the public host. */
  namespace?: string;
  /** A route in `openshift-image-registry` to look at first (default `default-route`). */
  routeName?: string;
  onProgress?: (progress: ExposeProgress) => void;
}

/** The result of discovery: the host if found, and one line per source tried. */
export interface Discovery {
  found?: DiscoveredHost;
  tried: string[];
}

/** A name for the throwaway dry-run image stream: never stored, only used to learn the public host. */
const PROBE_STREAM = 'registry-push-probe';

/** `host` of `host[:port]/ns/name`. */
function hostOf(repository: string | undefined): string | undefined {
  if (repository === undefined || repository === '') return undefined;
  const host = repository.split('/')[0];
  return host === '' ? undefined : host;
}

async function allowed<T>(read: () => Promise<T>, tried: string[], what: string): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isRegistryPushError(error, 'FORBIDDEN', 'NOT_FOUND')) {
      tried.push(`${what}: ${error.code === 'FORBIDDEN' ? 'not allowed to read' : 'not found'}`);
      return undefined;
    }
    throw error;
  }
}

async function fromRoute(
  client: ClusterApi,
  name: string,
  tried: string[],
): Promise<DiscoveredHost | undefined> {
  const what = `route ${name} in ${RegistryNames.namespace}`;
  const route = await allowed(
    () => client.get<Route>(Resources.route, name, RegistryNames.namespace),
    tried,
    what,
  );
  if (route === undefined) return undefined;
  const admission = routeAdmission(route);
  if (!admission.admitted || admission.host === undefined) {
    tried.push(`${what}: not admitted (${admission.summary})`);
    return undefined;
  }
  return { host: admission.host, source: 'route', detail: what };
}

async function fromImageConfig(client: ClusterApi, tried: string[]): Promise<DiscoveredHost | undefined> {
  const what = 'images.config.openshift.io/cluster';
  const config = await allowed(() => client.get<ImageConfig>(Resources.imageConfig, 'cluster'), tried, what);
  if (config === undefined) return undefined;
  const host = config.status?.externalRegistryHostnames?.[0] ?? config.spec.externalRegistryHostnames?.[0];
  if (host === undefined) {
    tried.push(`${what}: no external registry hostnames`);
    return undefined;
  }
  return { host, source: 'image-config', detail: `${what} externalRegistryHostnames` };
}

async function fromImageStreams(
  client: ClusterApi,
  namespace: string,
  tried: string[],
): Promise<DiscoveredHost | undefined> {
  const what = `image streams in ${namespace}`;
  const streams = await allowed(
    () => client.list<ImageStreamSummary>(Resources.imageStream, { namespace, pageSize: 50 }),
    tried,
    what,
  );
  const existing = streams?.find(
    (stream) => hostOf(stream.status?.publicDockerImageRepository) !== undefined,
  );
  if (existing !== undefined) {
    return {
      host: hostOf(existing.status?.publicDockerImageRepository) as string,
      source: 'imagestream',
      detail: `imagestream ${namespace}/${existing.metadata.name} publicDockerImageRepository`,
    };
  }
  // No stream to read: a dry-run create returns the decorated object without storing anything.
  const probe = await allowed(
    () =>
      client.create<ImageStreamSummary>(
        Resources.imageStream,
        { metadata: { name: PROBE_STREAM, namespace } },
        { dryRun: true },
      ),
    tried,
    `dry-run image stream in ${namespace}`,
  );
  const host = hostOf(probe?.status?.publicDockerImageRepository);
  if (host === undefined) {
    tried.push(`${what}: no publicDockerImageRepository (the registry has no external host)`);
    return undefined;
  }
  return {
    host,
    source: 'imagestream',
    detail: `publicDockerImageRepository of a dry-run image stream in ${namespace}`,
  };
}

/**
 * Find the registry's external host without changing anything: an admitted route, then the image
 * config's external hostnames, then an image stream's `publicDockerImageRepository` in the target project
 * (readable by anyone who may push there). Sources the user may not read are skipped and noted.
 */
export async function discoverRegistryHost(
  client: ClusterApi,
  options: DiscoverOptions = {},
): Promise<Discovery> {
  const tried: string[] = [];
  const progress = (message: string): void => options.onProgress?.({ step: 'discover', message });
  const routeName = options.routeName ?? RegistryNames.defaultRoute;
  progress(`looking for route ${routeName}`);
  let found = await fromRoute(client, routeName, tried);
  if (found === undefined) {
    progress('looking at the image config');
    found = await fromImageConfig(client, tried);
  }
  if (found === undefined && options.namespace !== undefined) {
    progress(`looking at image streams in ${options.namespace}`);
    found = await fromImageStreams(client, options.namespace, tried);
  }
  return found === undefined ? { tried } : { found, tried };
}
