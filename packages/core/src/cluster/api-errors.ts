import { ApiException } from '@kubernetes/client-node';
import { TLS_ERROR_CODES, systemErrorCode } from '../system-errors.js';
import { RegistryPushError, type ErrorCode } from '../errors.js';

/** What we were doing when the API refused: enough to name it in a message. */
export interface ApiRequest {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  /** `configs.imageregistry.operator.openshift.io`, `secrets`, `imagestreams/status`, ... */
  resource: string;
  name?: string;
  namespace?: string;
  /** The API server, for connection errors. */
  server?: string;
}

/** The few fields of a Kubernetes `Status` body we read; everything else in it is ignored. */
interface StatusBody {
  message?: string;
  reason?: string;
  details?: { causes?: { field?: string; message?: string }[]; retryAfterSeconds?: number };
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
]);

function parseStatus(body: unknown): StatusBody {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return {};
    }
  }
  if (typeof value !== 'object' || value === null) return {};
  return value;
}

function describeTarget(request: ApiRequest): string {
  const name = request.name === undefined ? request.resource : `${request.resource} "${request.name}"`;
  return request.namespace === undefined ? name : `${name} in namespace "${request.namespace}"`;
}

function describeScope(request: ApiRequest): string {
  return request.namespace === undefined ? 'at the cluster scope' : `in namespace "${request.namespace}"`;
}

/** `User "x"` from kube's forbidden message, so our own message can name who was refused. */
function deniedUser(message: string | undefined): string | undefined {
  return /User "([^"]+)"/.exec(message ?? '')?.[1];
}

type ErrorParts = [code: ErrorCode, message: string, hint: string, retryable?: boolean];

function forbidden(status: StatusBody, request: ApiRequest): ErrorParts {
  const user = deniedUser(status.message);
  const who = user === undefined ? 'The current user' : `User "${user}"`;
  const name = request.name === undefined ? '' : ` "${request.name}"`;
  return [
    'FORBIDDEN',
    `${who} may not ${request.verb} ${request.resource}${name} ${describeScope(request)}.`,
    'Ask a cluster administrator for a role that grants it.',
  ];
}

function invalid(status: StatusBody, request: ApiRequest): ErrorParts {
  const causes = (status.details?.causes ?? [])
    .map((cause) => `${cause.field ?? ''}: ${cause.message ?? ''}`.trim())
    .filter((text) => text !== ':')
    .join('; ');
  const because = causes === '' ? '' : ` (${causes})`;
  return [
    'INVALID',
    `The cluster refused the ${request.verb} of ${describeTarget(request)} as invalid${because}.`,
    'Check the values given for it.',
  ];
}

function unavailable(code: number, request: ApiRequest): ErrorParts {
  return [
    'API_ERROR',
    `The API server could not ${request.verb} ${describeTarget(request)} right now (HTTP ${code}).`,
    'Try again in a moment; if it persists, check the cluster health.',
    true,
  ];
}

const STATUS_ERRORS: Record<number, (status: StatusBody, request: ApiRequest) => ErrorParts> = {
  401: () => [
    'TOKEN_INVALID',
    'The cluster rejected the credentials (401 Unauthorized): the token is wrong or has expired.',
    'Get a fresh token (`oc whoami -t`, or `oc create token <serviceaccount> --duration=2h`) and try again.',
  ],
  403: forbidden,
  404: (_, request) => ['NOT_FOUND', `${describeTarget(request)} was not found.`, ''],
  409: (_, request) => [
    'CONFLICT',
    `${describeTarget(request)} was changed by someone else while we were updating it (409 Conflict).`,
    'Run the command again; it reads the current state first.',
    true,
  ],
  410: (_, request) => [
    'GONE',
    `The list of ${request.resource} expired while it was being read (410 Gone).`,
    'Run the command again.',
    true,
  ],
  422: invalid,
  429: (_, request) => unavailable(429, request),
};

export function fromStatusCode(code: number, status: StatusBody, request: ApiRequest): RegistryPushError {
  const build = STATUS_ERRORS[code];
  const reason = status.reason === undefined ? '' : ` (${status.reason})`;
  const [errorCode, message, hint, retryable] =
    build !== undefined
      ? build(status, request)
      : code >= 500
        ? unavailable(code, request)
        : ([
            'API_ERROR',
            `The API server answered HTTP ${code} to the ${request.verb} of ${describeTarget(request)}${reason}.`,
            '',
          ] satisfies ErrorParts);
  return new RegistryPushError(errorCode, message, {
    hint,
    retryable: retryable ?? false,
    details: { status: code, resource: request.resource, namespace: request.namespace, name: request.name },
  });
}

/**
 * Certificate verification failures beyond the shared list: what OpenSSL reports for a chain it cannot
 * check. All of them mean "this certificate is not one we trust", which the CA option fixes.
 */
const MORE_CERTIFICATE_CODES = new Set([
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERR_TLS_CERT_SIGNATURE_ALGORITHM_UNSUPPORTED',
]);

function isCertificateFailure(code: string): boolean {
  return TLS_ERROR_CODES.has(code) || MORE_CERTIFICATE_CODES.has(code);
}

/**
 * Whether the request never got an HTTP answer. undici's fetch throws `TypeError: fetch failed` with the
 * socket or TLS error as its `cause`, but client-node's generic object API (every get, create, replace,
 * patch and delete) rewrites that message in place to "Failed to fetch resource metadata for <kind>: fetch
 * failed" when its discovery request fails. So match the ending, and look along the cause chain too.
 */
function isFetchFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof TypeError && /(^|: )fetch failed$/.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}

/** Why the connection failed, in words a user can act on; the code or the innermost cause otherwise. */
function unreachableReason(error: unknown, code: string | undefined): string {
  if (code === 'ECONNREFUSED') return 'connection refused, nothing listens on that port (ECONNREFUSED)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `the host name does not resolve (${code})`;
  if (code !== undefined && (code.startsWith('ERR_SSL_') || code === 'EPROTO')) {
    return `what answered there does not speak TLS, so it is not the API server (${code})`;
  }
  if (code !== undefined) return code;
  let innermost: unknown = error;
  while (innermost instanceof Error && innermost.cause instanceof Error) innermost = innermost.cause;
  return innermost instanceof Error
    ? (innermost.message.split('\n')[0] ?? 'connection failed')
    : 'connection failed';
}

function unreachable(
  error: unknown,
  code: string | undefined,
  server: string,
  request: ApiRequest,
): RegistryPushError {
  return new RegistryPushError(
    'CLUSTER_UNREACHABLE',
    `Could not reach ${server}: ${unreachableReason(error, code)}.`,
    {
      hint: 'Check the server URL (OpenShift API servers listen on https://api.<cluster>:6443), and that this machine can reach it (VPN, proxy, firewall).',
      cause: error,
      details: { server: request.server, reason: code },
      retryable: true,
    },
  );
}

/**
 * Translate anything the Kubernetes client throws into a {@link RegistryPushError}. The raw exception
 * message of client-node holds the whole response body and headers, so it is never passed on.
 */
export function toClusterError(error: unknown, request: ApiRequest): RegistryPushError {
  if (error instanceof RegistryPushError) return error;
  if (error instanceof ApiException) {
    return fromStatusCode(error.code, parseStatus(error.body), request);
  }
  const code = systemErrorCode(error);
  const server = request.server ?? 'the API server';
  if (code !== undefined && isCertificateFailure(code)) {
    return new RegistryPushError(
      'CLUSTER_TLS_UNTRUSTED',
      `The certificate of ${server} is not trusted (${code}).`,
      {
        hint: 'Give the cluster CA (kubeconfig certificate-authority-data, or the CA option), or for a throwaway cluster only, skip TLS verification.',
        cause: error,
        details: { server: request.server, reason: code },
      },
    );
  }
  if ((code !== undefined && NETWORK_ERROR_CODES.has(code)) || isFetchFailure(error)) {
    return unreachable(error, code, server, request);
  }
  return new RegistryPushError(
    'API_ERROR',
    `The ${request.verb} of ${describeTarget(request)} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    { cause: error, details: { server: request.server } },
  );
}
