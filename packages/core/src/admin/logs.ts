// `registry-push logs`: the registry pods' logs through the API server's `pods/<name>/log` subresource, as
// `oc logs` reads them (one pod or all, --follow, --since, --tail, --timestamps). Read with the same cluster
// access as the ClusterClient (its kubeconfig's TLS and credentials), line by line as they arrive.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { ClusterClient, KubeObject } from '../cluster/client.js';
import { fromStatusCode, toClusterError, type ApiRequest } from '../cluster/api-errors.js';
import { loadClusterAccess, type ClusterAccessOptions } from '../cluster/kubeconfig.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { AdminNames } from './admin-objects.js';

/** Options of {@link registryLogs}. */
export interface RegistryLogsOptions {
  /** Lists the registry pods. */
  client: ClusterClient;
  /** The same cluster access the client was made from: the log requests use its TLS and credentials. */
  access: ClusterAccessOptions;
  /** One pod by name; default every registry pod (lines prefixed with the pod when there are several). */
  pod?: string;
  /** Keep streaming new lines until the pods are gone or `signal` aborts. */
  follow?: boolean;
  /** Only lines newer than this many seconds (kubectl --since). */
  sinceSeconds?: number;
  /** Only lines since this RFC 3339 time (kubectl --since-time). */
  sinceTime?: string;
  /** The last N lines of each pod (kubectl --tail). */
  tailLines?: number;
  /** Prefix each line with the time the registry wrote it. */
  timestamps?: boolean;
  /** Called once with the pods about to be read, before any line. */
  onPods?: (pods: readonly string[]) => void;
  /** Called with each line (no newline) as it arrives. */
  onLine: (line: { pod: string; text: string }) => void;
  signal?: AbortSignal;
}

/** What {@link registryLogs} read. */
export interface RegistryLogsResult {
  pods: string[];
  lines: number;
}

const LOGS_ROLE_HINT =
  'Reading registry logs needs get on pods/log in openshift-image-registry (cluster-admin, or a role with it).';

interface PodObject extends KubeObject {
  status?: { phase?: string };
}

async function registryPods(client: ClusterClient): Promise<string[]> {
  try {
    const pods = await client.list<PodObject>(Resources.pod, {
      namespace: RegistryNames.namespace,
      labelSelector: AdminNames.podSelector,
    });
    return pods.map((pod) => pod.metadata.name).sort();
  } catch (error) {
    if (isRegistryPushError(error, 'FORBIDDEN')) {
      throw new RegistryPushError('FORBIDDEN', error.message, { hint: LOGS_ROLE_HINT, cause: error });
    }
    throw error;
  }
}

function logQuery(options: RegistryLogsOptions): URLSearchParams {
  const query = new URLSearchParams();
  if (options.follow === true) query.set('follow', 'true');
  if (options.sinceSeconds !== undefined) query.set('sinceSeconds', String(options.sinceSeconds));
  if (options.sinceTime !== undefined) query.set('sinceTime', options.sinceTime);
  if (options.tailLines !== undefined) query.set('tailLines', String(options.tailLines));
  if (options.timestamps === true) query.set('timestamps', 'true');
  return query;
}

/** Reads a whole error body and turns the Status into the core's error (the message is the server's). */
async function failure(response: IncomingMessage, request: ApiRequest): Promise<RegistryPushError> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  let status: { message?: string; reason?: string } = {};
  try {
    status = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof status;
  } catch {
    status = {};
  }
  const code = response.statusCode ?? 0;
  if (code === 400 || code === 422) {
    return new RegistryPushError(
      'OPTION_INVALID',
      `The API server refused the log request for pod ${request.name ?? ''}: ${status.message ?? `HTTP ${code}`}.`,
      { hint: 'Check --since, --since-time and --tail.', details: { status: code } },
    );
  }
  const error = fromStatusCode(code, status, request);
  if (error.code === 'FORBIDDEN') {
    return new RegistryPushError('FORBIDDEN', error.message, { hint: LOGS_ROLE_HINT, cause: error });
  }
  return error;
}

/** Streams one pod's log, calling `onLine` per complete line; resolves with the count when it ends. */
async function streamPod(
  access: { server: string; https: RequestOptions },
  pod: string,
  options: RegistryLogsOptions,
): Promise<number> {
  const request: ApiRequest = {
    verb: 'get',
    resource: 'pods/log',
    name: pod,
    namespace: RegistryNames.namespace,
    server: access.server,
  };
  const url = new URL(access.server);
  const prefix = url.pathname.replace(/\/$/, '');
  const path = `${prefix}/api/v1/namespaces/${RegistryNames.namespace}/pods/${encodeURIComponent(pod)}/log?${logQuery(options).toString()}`;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpsRequest({
      ...access.https,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? 443 : Number(url.port),
      method: 'GET',
      path,
      headers: { ...(access.https.headers ?? {}), Accept: 'text/plain', 'User-Agent': 'registry-push' },
      agent: false,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    req.once('error', (error) => reject(toClusterError(error, request)));
    req.once('response', resolve);
    req.end();
  });
  if ((response.statusCode ?? 0) >= 300) throw await failure(response, request);
  let pending = '';
  let count = 0;
  try {
    for await (const chunk of response) {
      pending += (chunk as Buffer).toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const text of lines) {
        options.onLine({ pod, text });
        count++;
      }
    }
  } catch (error) {
    // An abort (the user's ^C while following) ends the stream; anything else is a broken connection.
    if (options.signal?.aborted !== true) throw toClusterError(error, request);
  }
  if (pending !== '') {
    options.onLine({ pod, text: pending });
    count++;
  }
  return count;
}

/**
 * The logs of the registry pods (`openshift-image-registry`, label `docker-registry=default`): one pod or
 * all of them, optionally following. Errors: `NOT_FOUND` naming the registry pods when `pod` is not one of
 * them (or there are none), `FORBIDDEN` without rights on pods/log, `OPTION_INVALID` with the API server's
 * words for options it refuses.
 */
export async function registryLogs(options: RegistryLogsOptions): Promise<RegistryLogsResult> {
  const pods = await registryPods(options.client);
  if (pods.length === 0) {
    throw new RegistryPushError(
      'NOT_FOUND',
      `There are no registry pods in ${RegistryNames.namespace} (label ${AdminNames.podSelector}).`,
      {
        hint: 'Check the registry with `registry-push status`: a Removed registry or unusable storage has no pods.',
      },
    );
  }
  if (options.pod !== undefined && !pods.includes(options.pod)) {
    throw new RegistryPushError(
      'NOT_FOUND',
      `Pod ${options.pod} is not a registry pod in ${RegistryNames.namespace}; the registry pods are ${pods.join(', ')}.`,
      { hint: 'Pass one of them with --pod, or leave --pod out for all of them.' },
    );
  }
  const loaded = loadClusterAccess(options.access);
  const https: RequestOptions = {};
  try {
    await loaded.kubeConfig.applyToHTTPSOptions(https);
  } catch (error) {
    throw toClusterError(error, { verb: 'get', resource: 'pods/log', server: loaded.server });
  }
  const chosen = options.pod === undefined ? pods : [options.pod];
  options.onPods?.(chosen);
  const counts = await Promise.all(
    chosen.map((pod) => streamPod({ server: loaded.server, https }, pod, options)),
  );
  return { pods: chosen, lines: counts.reduce((sum, count) => sum + count, 0) };
}
