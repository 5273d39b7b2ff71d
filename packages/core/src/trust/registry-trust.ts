import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { DataObject, IngressController, RegistryConfig, Route } from '../cluster/openshift-objects.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { checkServedCertificate, type HandshakeResult } from './handshake.js';
import { parseCertificateBundle } from './pem.js';

/** Where the trusted CA came from. */
export type TrustSource =
  | 'explicit'
  | 'route'
  | 'route-secret'
  | 'default-ingress-cert'
  | 'ingress-default-certificate'
  | 'router-certs-default'
  | 'system';

/** Options of {@link registryTrust}. */
export interface TrustOptions {
  /** The registry `host[:port]`. */
  host: string;
  /** A CA given by the user (PEM); used alone when set. */
  caPem?: string;
  /** Cluster access, to read the CA from the cluster when none is given. */
  client?: ClusterApi;
  /** A custom registry route: its own certificate is the first candidate. */
  routeName?: string;
  /** Check the CA against the host's served chain with a real TLS handshake (default true). */
  verify?: boolean;
  /** Dial this `ip:port` instead of resolving the host. */
  connectTo?: string;
  timeoutMs?: number;
}

/** The CA to trust for one registry host, and what is known about it. */
export interface RegistryTrust {
  host: string;
  /** PEM bundle to trust; undefined when the system roots already verify the host. */
  caPem?: string;
  source: TrustSource;
  /** Where exactly, e.g. `configmap openshift-config-managed/default-ingress-cert`. */
  detail: string;
  /** Whether a TLS handshake with the host verified against it. */
  verified: boolean;
  /** Expiry of the certificate the host serves, when a handshake was made. */
  servedNotAfter?: Date;
  /** Earliest expiry among the CA bundle's certificates. */
  caNotAfter?: Date;
  warnings: string[];
  /** One line per source looked at before this one. */
  tried: string[];
}

interface Candidate {
  source: TrustSource;
  detail: string;
  pem: string;
}

const EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000;

function decode(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Read something from the cluster; a refusal or absence is noted and skipped, not fatal. */
async function readOrSkip<T>(
  read: () => Promise<T | undefined>,
  tried: string[],
  what: string,
): Promise<T | undefined> {
  try {
    const value = await read();
    if (value === undefined) tried.push(`${what}: not found`);
    return value;
  } catch (error) {
    if (isRegistryPushError(error, 'FORBIDDEN')) {
      tried.push(`${what}: not allowed to read`);
      return undefined;
    }
    throw error;
  }
}

/** The PEM a route itself carries: its CA certificate, else its certificate chain. */
function routeCertificate(route: Route | undefined, where: string): Candidate | undefined {
  const tls = route?.spec.tls;
  if (tls?.caCertificate !== undefined && tls.caCertificate !== '') {
    return { source: 'route', detail: `${where} caCertificate`, pem: tls.caCertificate };
  }
  if (tls?.certificate !== undefined && tls.certificate !== '') {
    return { source: 'route', detail: `${where} certificate`, pem: tls.certificate };
  }
  return undefined;
}

async function routeSecretCandidate(
  client: ClusterApi,
  routeName: string,
  tried: string[],
): Promise<Candidate | undefined> {
  const config = await readOrSkip(
    () => client.find<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig),
    tried,
    'configs.imageregistry.operator.openshift.io/cluster',
  );
  const secretName = config?.spec.routes?.find((entry) => entry.name === routeName)?.secretName;
  if (secretName === undefined) return undefined;
  const where = `secret ${RegistryNames.namespace}/${secretName}`;
  const secret = await readOrSkip(
    () => client.find<DataObject>(Resources.secret, secretName, RegistryNames.namespace),
    tried,
    where,
  );
  const pem = decode(secret?.data?.['tls.cacrt']) ?? decode(secret?.data?.['tls.crt']);
  return pem === undefined ? undefined : { source: 'route-secret', detail: where, pem };
}

async function routeCandidates(client: ClusterApi, routeName: string, tried: string[]): Promise<Candidate[]> {
  const where = `route ${routeName} in ${RegistryNames.namespace}`;
  const route = await readOrSkip(
    () => client.find<Route>(Resources.route, routeName, RegistryNames.namespace),
    tried,
    where,
  );
  const fromRoute = routeCertificate(route, where);
  const fromSecret = await routeSecretCandidate(client, routeName, tried);
  return [fromRoute, fromSecret].filter((candidate): candidate is Candidate => candidate !== undefined);
}

async function ingressCandidates(client: ClusterApi, tried: string[]): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  const published = `configmap ${RegistryNames.publishedIngressCaNamespace}/${RegistryNames.publishedIngressCaConfigMap}`;
  const configMap = await readOrSkip(
    () =>
      client.find<DataObject>(
        Resources.configMap,
        RegistryNames.publishedIngressCaConfigMap,
        RegistryNames.publishedIngressCaNamespace,
      ),
    tried,
    published,
  );
  const bundle = configMap?.data?.['ca-bundle.crt'];
  if (bundle !== undefined)
    candidates.push({ source: 'default-ingress-cert', detail: published, pem: bundle });

  // The secret the default IngressController serves: its custom defaultCertificate, else the generated one.
  const controller = await readOrSkip(
    () =>
      client.find<IngressController>(
        Resources.ingressController,
        RegistryNames.defaultIngressController,
        RegistryNames.ingressOperatorNamespace,
      ),
    tried,
    `ingresscontroller ${RegistryNames.ingressOperatorNamespace}/${RegistryNames.defaultIngressController}`,
  );
  const custom = controller?.spec.defaultCertificate?.name;
  const secretName = custom ?? RegistryNames.defaultRouterCertSecret;
  const where = `secret ${RegistryNames.ingressNamespace}/${secretName}`;
  const secret = await readOrSkip(
    () => client.find<DataObject>(Resources.secret, secretName, RegistryNames.ingressNamespace),
    tried,
    where,
  );
  const pem = decode(secret?.data?.['tls.crt']);
  if (pem !== undefined) {
    candidates.push({
      source: custom === undefined ? 'router-certs-default' : 'ingress-default-certificate',
      detail: where,
      pem,
    });
  }
  return candidates;
}

function unreachable(host: string, result: HandshakeResult & { verified: false }): RegistryPushError {
  return new RegistryPushError(
    'REGISTRY_UNREACHABLE',
    `Could not make a TLS connection to ${host} (${result.reason}).`,
    {
      hint: 'Check that the registry route host resolves and is reachable from this machine.',
      details: { host },
      retryable: true,
    },
  );
}

function describeResult(trust: Omit<RegistryTrust, 'warnings'>, warnings: string[]): RegistryTrust {
  const now = Date.now();
  if (trust.servedNotAfter !== undefined && trust.servedNotAfter.getTime() - now < EXPIRY_WARNING_MS) {
    warnings.push(
      `The certificate served by ${trust.host} expires on ${trust.servedNotAfter.toISOString()}.`,
    );
  }
  if (trust.caNotAfter !== undefined && trust.caNotAfter.getTime() - now < EXPIRY_WARNING_MS) {
    warnings.push(`The CA trusted for ${trust.host} expires on ${trust.caNotAfter.toISOString()}.`);
  }
  return { ...trust, warnings };
}

function earliestExpiry(pem: string, what: string): Date {
  const { certificates } = parseCertificateBundle(pem, what);
  return new Date(Math.min(...certificates.map((certificate) => certificate.notAfter.getTime())));
}

/** Check one candidate; returns the trust when it verifies, or the reason it did not. */
async function tryCandidate(
  candidate: Candidate,
  options: TrustOptions,
): Promise<{ trust?: Omit<RegistryTrust, 'warnings' | 'tried'>; reason?: string }> {
  const { pem } = parseCertificateBundle(candidate.pem, candidate.detail);
  const caNotAfter = earliestExpiry(pem, candidate.detail);
  const base = {
    host: options.host,
    caPem: pem,
    source: candidate.source,
    detail: candidate.detail,
    caNotAfter,
  };
  if (options.verify === false) return { trust: { ...base, verified: false } };
  const result = await checkServedCertificate({
    host: options.host,
    caPem: pem,
    ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  if (!result.verified) {
    if (result.unreachable === true) throw unreachable(options.host, result);
    return { reason: result.reason };
  }
  return { trust: { ...base, verified: true, servedNotAfter: result.leafNotAfter } };
}

async function explicitTrust(options: TrustOptions & { caPem: string }): Promise<RegistryTrust> {
  const candidate: Candidate = { source: 'explicit', detail: 'the given CA', pem: options.caPem };
  const outcome = await tryCandidate(candidate, options);
  if (outcome.trust === undefined) {
    throw new RegistryPushError(
      'CA_MISMATCH',
      `The given CA does not verify the certificate served by ${options.host} (${outcome.reason ?? 'unknown'}).`,
      {
        hint: 'Give the CA that signed the route certificate (for the default route: `oc get configmap -n openshift-config-managed default-ingress-cert -o jsonpath="{.data.ca-bundle\\.crt}"`).',
        details: { host: options.host },
      },
    );
  }
  return describeResult({ ...outcome.trust, tried: [] }, []);
}

/** Whether the system roots alone verify the host (a publicly trusted route certificate). */
async function systemTrust(options: TrustOptions, tried: string[]): Promise<RegistryTrust | undefined> {
  const system = await checkServedCertificate({
    host: options.host,
    ...(options.connectTo === undefined ? {} : { connectTo: options.connectTo }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  if (system.verified) {
    const trust = {
      host: options.host,
      source: 'system',
      detail: 'the system trust store',
      verified: true,
    } as const;
    return describeResult({ ...trust, servedNotAfter: system.leafNotAfter, tried }, []);
  }
  if (system.unreachable === true) throw unreachable(options.host, system);
  tried.push(`the system trust store: ${system.reason}`);
  return undefined;
}

/**
 * Find the CA to trust for a registry route and prove it with a TLS handshake: the given PEM; else, for a
 * custom route, that route's certificate and secret; then the published ingress CA
 * (`openshift-config-managed/default-ingress-cert`), the IngressController's custom default certificate
 * secret, and `openshift-ingress/router-certs-default`; finally the system roots (public certificates).
 * Sources the user may not read are skipped and listed in `tried`.
 */
export async function registryTrust(options: TrustOptions): Promise<RegistryTrust> {
  if (options.caPem !== undefined) return explicitTrust({ ...options, caPem: options.caPem });
  const tried: string[] = [];
  const client = options.client;
  const candidates: Candidate[] = [];
  if (client !== undefined) {
    if (options.routeName !== undefined && options.routeName !== RegistryNames.defaultRoute) {
      candidates.push(...(await routeCandidates(client, options.routeName, tried)));
    }
    candidates.push(...(await ingressCandidates(client, tried)));
  }
  for (const candidate of candidates) {
    let outcome: Awaited<ReturnType<typeof tryCandidate>>;
    try {
      outcome = await tryCandidate(candidate, options);
    } catch (error) {
      if (!isRegistryPushError(error, 'CA_INVALID')) throw error;
      tried.push(`${candidate.detail}: ${error.message}`);
      continue;
    }
    if (outcome.trust !== undefined) return describeResult({ ...outcome.trust, tried }, []);
    tried.push(`${candidate.detail}: does not verify ${options.host} (${outcome.reason ?? 'unknown'})`);
  }
  if (options.verify !== false) {
    const system = await systemTrust(options, tried);
    if (system !== undefined) return system;
  }
  throw new RegistryPushError(
    candidates.length === 0 ? 'CA_NOT_FOUND' : 'CA_MISMATCH',
    `No CA that verifies ${options.host} could be found (tried: ${tried.join('; ')}).`,
    {
      hint: 'Give the CA with the ca-file option; a cluster admin can read it with `oc get configmap -n openshift-config-managed default-ingress-cert -o jsonpath="{.data.ca-bundle\\.crt}"`.',
      details: { host: options.host },
    },
  );
}
