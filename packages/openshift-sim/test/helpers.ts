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
