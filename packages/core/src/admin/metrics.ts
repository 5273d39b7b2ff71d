import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryPushError } from '../errors.js';
import { resolveToken } from '../login/token.js';
import { httpsGet } from './https-get.js';

/** Where the registry serves its Prometheus metrics. */
export const METRICS_PATH = '/extensions/v2/metrics';

/** One Prometheus sample. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The `imageregistry_*` families `registry-push metrics` shows: requests, in-flight, digest cache, storage errors. */
export const METRICS_OF_INTEREST = [
  'imageregistry_http_requests_total',
  'imageregistry_http_in_flight_requests',
  'imageregistry_digest_cache_requests_total',
  'imageregistry_digest_cache_scoped_requests_total',
  'imageregistry_storage_errors_total',
] as const;

/** The series of interest, added up. */
export interface MetricsSummary {
  /** All requests served, and by status code. */
  requests: { total: number; byCode: Record<string, number> };
  /** Requests being served when read (absent when the registry did not report it). */
  inFlight?: number;
  /** Digest cache lookups (unscoped and scoped together). */
  digestCache: { hit: number; miss: number };
  /** Failed storage operations, and by `operation code`. */
  storageErrors: { total: number; byOperation: Record<string, number> };
}

/** What {@link registryMetrics} read. */
export interface RegistryMetrics {
  host: string;
  /** The samples of the families in {@link METRICS_OF_INTEREST}, in the order served. */
  samples: MetricSample[];
  summary: MetricsSummary;
}

/** Options of {@link registryMetrics}. */
export interface MetricsOptions {
  /** Registry `host[:port]` (the route host). */
  host: string;
  /** The caller's token; default the cluster client's. */
  token?: string;
  client?: ClusterApi;
  /** CA to trust for the host (from `registryTrust`). */
  caPem?: string;
  /** Default true. */
  tlsVerify?: boolean;
  /** Dial this `ip:port` instead of resolving the host. */
  connectTo?: string;
  timeoutMs?: number;
  /**
   * Send the token as the password of Basic auth with this user name, as the OpenShift docs' metrics query
   * does (`curl -u <user>:<token> …/extensions/v2/metrics`; the registry ignores the name). Default: Bearer.
   */
  basicUsername?: string;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, char: string) => (char === 'n' ? '\n' : char));
}

/** `a="1",b="x\"y"` → `{a: '1', b: 'x"y'}`. */
function parseLabels(text: string): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  const pattern = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let offset = 0;
  while (offset < text.length) {
    pattern.lastIndex = offset;
    const match = pattern.exec(text);
    if (match === null) return undefined;
    labels[match[1] ?? ''] = unescapeLabel(match[2] ?? '');
    offset = pattern.lastIndex;
  }
  return labels;
}

/**
 * Parse the Prometheus text exposition format (comments skipped, label values unescaped, timestamps
 * dropped). Lines that do not parse are skipped rather than failing the whole read.
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (match === null) continue;
    const labels = parseLabels(match[2] ?? '');
    const value = parseValue(match[3] ?? '');
    if (labels === undefined || Number.isNaN(value) !== (match[3] === 'NaN')) continue;
    samples.push({ name: match[1] ?? '', labels, value });
  }
  return samples;
}

/** Add up the series of interest (pure). */
export function summarizeMetrics(samples: readonly MetricSample[]): MetricsSummary {
  const summary: MetricsSummary = {
    requests: { total: 0, byCode: {} },
    digestCache: { hit: 0, miss: 0 },
    storageErrors: { total: 0, byOperation: {} },
  };
  const add = (record: Record<string, number>, key: string, value: number): void => {
    record[key] = (record[key] ?? 0) + value;
  };
  for (const sample of samples) {
    switch (sample.name) {
      case 'imageregistry_http_requests_total':
        summary.requests.total += sample.value;
        add(summary.requests.byCode, sample.labels['code'] ?? '?', sample.value);
        break;
      case 'imageregistry_http_in_flight_requests':
        summary.inFlight = (summary.inFlight ?? 0) + sample.value;
        break;
      case 'imageregistry_digest_cache_requests_total':
      case 'imageregistry_digest_cache_scoped_requests_total':
        if (sample.labels['type'] === 'Hit') summary.digestCache.hit += sample.value;
        else summary.digestCache.miss += sample.value;
        break;
      case 'imageregistry_storage_errors_total':
        summary.storageErrors.total += sample.value;
        add(
          summary.storageErrors.byOperation,
          `${sample.labels['operation'] ?? '?'} ${sample.labels['code'] ?? '?'}`,
          sample.value,
        );
        break;
    }
  }
  return summary;
}

const READER_HINT =
  'Reading registry metrics needs `get` on `registry/metrics` in API group image.openshift.io, cluster-wide (cluster-admin has it). ' +
  'A cluster admin can grant it: `oc create clusterrole registry-metrics-reader --verb=get --resource=registry.image.openshift.io/metrics` ' +
  'then `oc adm policy add-cluster-role-to-user registry-metrics-reader <user>`.';

/** Turn a metrics answer that is not 200 into the error that says why. */
export function metricsError(host: string, status: number): RegistryPushError {
  if (status === 401 || status === 403) {
    return new RegistryPushError(
      'METRICS_FORBIDDEN',
      `The registry at ${host} refused to show its metrics to this token (HTTP ${status}).`,
      { hint: READER_HINT, details: { host, status } },
    );
  }
  if (status === 503) {
    return new RegistryPushError(
      'METRICS_UNAVAILABLE',
      `The registry at ${host} is not serving (HTTP 503): it is Removed or has no ready pod.`,
      { hint: 'Run `registry-push status` to see why.', details: { host, status }, retryable: true },
    );
  }
  return new RegistryPushError(
    'METRICS_UNAVAILABLE',
    `The registry at ${host} answered HTTP ${status} for ${METRICS_PATH}.`,
    {
      hint:
        status === 404
          ? 'Metrics are off in this registry (REGISTRY_OPENSHIFT_METRICS_ENABLED); the operator normally turns them on.'
          : 'Try again; if it persists, check the registry pods in openshift-image-registry.',
      details: { host, status },
      retryable: status >= 500,
    },
  );
}

/**
 * Read the registry's Prometheus metrics with the caller's token, as Bearer or, with `basicUsername`, as the
 * Basic password the OpenShift docs' metrics query uses (the registry checks `get registry/metrics` for it) and keep the `imageregistry_*` series of interest. The token is sent only over a verified TLS
 * connection unless `tlsVerify` is false, and never appears in an error.
 */
export async function registryMetrics(options: MetricsOptions): Promise<RegistryMetrics> {
  const user = options.basicUsername;
  if (user !== undefined && (user === '' || user.includes(':'))) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `The Basic auth user name for the metrics must be non-empty and without ":", not "${user.slice(0, 40)}".`,
      { hint: 'Any name will do (the registry checks the token): pass one such as prometheus.' },
    );
  }
  const { token } = await resolveToken(options);
  const authorization =
    user === undefined ? `Bearer ${token}` : `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  // Failures name the host and the network or TLS reason only; the token is in no message.
  const answer = await httpsGet({
    host: options.host,
    path: METRICS_PATH,
    action: 'read the metrics of',
    headers: { Authorization: authorization, Accept: 'text/plain' },
    ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
    ...(options.tlsVerify === undefined ? {} : { tlsVerify: options.tlsVerify }),
    ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  if (answer.status !== 200) throw metricsError(options.host, answer.status);
  const interesting = new Set<string>(METRICS_OF_INTEREST);
  const samples = parsePrometheusText(answer.body).filter((sample) => interesting.has(sample.name));
  return { host: options.host, samples, summary: summarizeMetrics(samples) };
}
