import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { httpRequest, type HttpResponse } from '@registry-push/testkit';
import type { RunningCluster } from '../src/index.js';

/** A client-node KubeConfig for one of the cluster's users. */
export function kubeConfigFor(cluster: RunningCluster, user = 'kubeadmin'): KubeConfig {
  const kc = new KubeConfig();
  const credentials = cluster.users[user];
  if (!credentials) throw new Error(`no user ${user}`);
  kc.loadFromFile(credentials.kubeconfig);
  return kc;
}

/** The HTTP status and parsed Status body of a client-node failure. */
export async function failure(
  promise: Promise<unknown>,
): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApiException) {
      const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      return { code: err.code, status: body as Record<string, unknown> };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** A raw request to the API server as a user (or anonymously when `user` is null). */
export async function raw(
  cluster: RunningCluster,
  method: string,
  path: string,
  options: { user?: string | null; body?: unknown; contentType?: string; token?: string } = {},
): Promise<HttpResponse & { json: Record<string, unknown> }> {
  const user = options.user === undefined ? 'kubeadmin' : options.user;
  const token = options.token ?? (user === null ? undefined : cluster.users[user]?.token);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== undefined) headers['Authorization'] = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['Content-Type'] = options.contentType ?? 'application/json';
  }
  const response = await httpRequest(`${cluster.apiServer}${path}`, {
    method,
    headers,
    caPem: cluster.apiCaPem,
    ...(body !== undefined ? { body } : {}),
  });
  const text = response.body.toString('utf8');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { ...response, json };
}

/** Polls until `check` returns a value (not undefined) or the time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** How {@link registryRouteCall} asks. */
export interface RegistryCall {
  method?: string;
  /** Whose API token goes as Bearer (default developer); `null` sends no Authorization. */
  user?: string | null;
  authorization?: string;
  body?: Buffer | string;
  headers?: Record<string, string>;
}

/** The registry's default route host of the cluster. */
export function registryRouteHost(cluster: RunningCluster): string {
  return `default-route-openshift-image-registry.${cluster.appsDomain}`;
}

/** One request to the registry's default route, through the router (port mode). */
export async function registryRouteCall(
  cluster: RunningCluster,
  path: string,
  options: RegistryCall = {},
): Promise<HttpResponse> {
  const host = registryRouteHost(cluster);
  const headers: Record<string, string> = { Host: host, ...options.headers };
  const user = options.user === undefined ? 'developer' : options.user;
  if (options.authorization !== undefined) headers['Authorization'] = options.authorization;
  else if (user !== null) headers['Authorization'] = `Bearer ${cluster.users[user]?.token ?? ''}`;
  return httpRequest(`https://${cluster.routerAddress}${path}`, {
    method: options.method ?? 'GET',
    headers,
    caPem: cluster.ingressCaPem,
    servername: host,
    timeoutMs: 60_000,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
}
