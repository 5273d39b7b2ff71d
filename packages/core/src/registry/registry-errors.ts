import { RegistryPushError, type ErrorCode } from '../errors.js';
import { TLS_ERROR_CODES, systemErrorCode } from '../system-errors.js';

/** What the client was doing when the registry answered, to say so in the message. */
export interface RegistryOperation {
  /** e.g. `push the manifest of`, `upload a blob to`, `read tags of`. */
  action: string;
  host: string;
  repository?: string;
  /** Whether the operation writes (a 405 then means a read-only registry). */
  write?: boolean;
  /** Whether the operation deletes (a 405 has more possible causes then). */
  delete?: boolean;
}

/** One entry of the registry's `{"errors":[...]}` body. */
interface RegistryErrorEntry {
  code: string;
  message: string;
}

const MAX_MESSAGE = 300;

/** Read the distribution error body; anything else (HTML from a proxy, empty) yields nothing. */
export function parseErrorBody(text: string): RegistryErrorEntry[] {
  try {
    const parsed = JSON.parse(text) as { errors?: unknown };
    if (!Array.isArray(parsed.errors)) return [];
    return parsed.errors.flatMap((entry: unknown) => {
      if (typeof entry !== 'object' || entry === null) return [];
      const { code, message } = entry as { code?: unknown; message?: unknown };
      return typeof code === 'string'
        ? [{ code, message: typeof message === 'string' ? message.slice(0, MAX_MESSAGE) : '' }]
        : [];
    });
  } catch {
    return [];
  }
}

/** Seconds or an HTTP date, as `Retry-After` allows; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function target(operation: RegistryOperation): string {
  return operation.repository === undefined ? operation.host : `${operation.host}/${operation.repository}`;
}

interface Classified {
  code: ErrorCode;
  hint: string;
  retryable: boolean;
}

/** Registry error codes whose advice does not depend on the operation. */
const BY_CODE: Readonly<Record<string, Classified>> = {
  UNAUTHORIZED: {
    code: 'REGISTRY_UNAUTHORIZED',
    hint: 'Log in with a valid token (registry-push login), and check that you may push to or pull from this project.',
    retryable: false,
  },
  NAME_UNKNOWN: {
    code: 'REGISTRY_NAME_UNKNOWN',
    hint: 'Check the project and image name; on OpenShift the project must exist.',
    retryable: false,
  },
  NAME_INVALID: {
    code: 'REGISTRY_NAME_INVALID',
    hint: 'Use HOST/PROJECT/NAME with lowercase letters, digits, ".", "_" and "-".',
    retryable: false,
  },
  MANIFEST_UNKNOWN: { code: 'REGISTRY_MANIFEST_UNKNOWN', hint: 'Check the tag or digest.', retryable: false },
  MANIFEST_INVALID: {
    code: 'REGISTRY_MANIFEST_INVALID',
    hint: 'The registry does not accept this manifest; check the image was built for an OCI or Docker v2 registry.',
    retryable: false,
  },
  MANIFEST_UNVERIFIED: {
    code: 'REGISTRY_MANIFEST_INVALID',
    hint: 'The registry does not accept this manifest; check the image was built for an OCI or Docker v2 registry.',
    retryable: false,
  },
  TAG_INVALID: {
    code: 'REGISTRY_MANIFEST_INVALID',
    hint: 'The registry does not accept this manifest; check the image was built for an OCI or Docker v2 registry.',
    retryable: false,
  },
  MANIFEST_BLOB_UNKNOWN: {
    code: 'REGISTRY_BLOB_UNKNOWN',
    hint: 'A blob the manifest needs is missing in the registry; push the image again.',
    retryable: false,
  },
  BLOB_UNKNOWN: {
    code: 'REGISTRY_BLOB_UNKNOWN',
    hint: 'A blob the manifest needs is missing in the registry; push the image again.',
    retryable: false,
  },
  BLOB_UPLOAD_UNKNOWN: {
    code: 'REGISTRY_BLOB_UPLOAD_INVALID',
    hint: 'The upload session was lost (registry restart or timeout); push again.',
    retryable: true,
  },
  BLOB_UPLOAD_INVALID: {
    code: 'REGISTRY_BLOB_UPLOAD_INVALID',
    hint: 'The upload session was lost (registry restart or timeout); push again.',
    retryable: true,
  },
  DIGEST_INVALID: {
    code: 'REGISTRY_DIGEST_INVALID',
    hint: 'The content did not match its digest on the way; the source may be corrupt — rebuild it and push again.',
    retryable: false,
  },
  SIZE_INVALID: {
    code: 'REGISTRY_SIZE_INVALID',
    hint: 'The blob size did not match; push again.',
    retryable: false,
  },
  TOOMANYREQUESTS: {
    code: 'REGISTRY_RATE_LIMITED',
    hint: 'Wait and try again, or push less in parallel.',
    retryable: true,
  },
  UNAVAILABLE: {
    code: 'REGISTRY_UNAVAILABLE',
    hint: 'The registry is unavailable; try again later.',
    retryable: true,
  },
};

function byRegistryCode(code: string, operation: RegistryOperation): Classified | undefined {
  if (code === 'DENIED') {
    return {
      code: 'REGISTRY_DENIED',
      hint: `Ask for access to ${operation.repository ?? 'the repository'}; pushing to the OpenShift registry needs the system:image-builder role in the project.`,
      retryable: false,
    };
  }
  if (code !== 'UNSUPPORTED') return BY_CODE[code];
  if (operation.delete === true) {
    return {
      code: 'REGISTRY_UNSUPPORTED',
      hint: 'The registry refused the delete: it is read-only, deletes are disabled in its storage configuration, or (OpenShift) an ImageStream still references the manifest.',
      retryable: false,
    };
  }
  if (operation.write === true) {
    return {
      code: 'REGISTRY_READ_ONLY',
      hint: 'The registry refuses writes: it is read-only (spec.readOnly in configs.imageregistry.operator.openshift.io/cluster) or does not support this operation.',
      retryable: false,
    };
  }
  return {
    code: 'REGISTRY_UNSUPPORTED',
    hint: 'The registry does not support this operation.',
    retryable: false,
  };
}

function byStatus(status: number, operation: RegistryOperation): Classified {
  if (status === 401) return byRegistryCode('UNAUTHORIZED', operation) as Classified;
  if (status === 403) return byRegistryCode('DENIED', operation) as Classified;
  if (status === 404) return byRegistryCode('NAME_UNKNOWN', operation) as Classified;
  if (status === 405) return byRegistryCode('UNSUPPORTED', operation) as Classified;
  if (status === 429) return byRegistryCode('TOOMANYREQUESTS', operation) as Classified;
  if (status === 413) {
    return {
      code: 'REGISTRY_REQUEST_TOO_LARGE',
      hint: 'Something in front of the registry limits the size of one request (HTTP 413): nginx client_max_body_size, a load balancer or a proxy; the OpenShift router sets no such limit. Raise the limit, or push to the route without that hop.',
      retryable: false,
    };
  }
  if (status === 503 || status === 502 || status === 504) {
    return {
      code: 'REGISTRY_UNAVAILABLE',
      hint: 'The registry or the router in front of it is not serving (is the registry Removed, scaled down or restarting?); try again later.',
      retryable: true,
    };
  }
  if (status >= 500) {
    return {
      code: 'REGISTRY_SERVER_ERROR',
      hint: 'The registry failed; try again, and check its logs if it persists.',
      retryable: true,
    };
  }
  return {
    code: 'REGISTRY_PROTOCOL',
    hint: 'The registry answered in a way the client does not expect.',
    retryable: false,
  };
}

/**
 * Turn a registry's error answer into one typed error: the code from its JSON body when it has one, else
 * from the status; the registry's own message (trimmed) is quoted, the body is never dumped.
 */
export function registryResponseError(
  status: number,
  bodyText: string,
  operation: RegistryOperation,
  retryAfter?: string,
): RegistryPushError {
  const entries = parseErrorBody(bodyText);
  const first = entries[0];
  const classified =
    (first === undefined ? undefined : byRegistryCode(first.code, operation)) ?? byStatus(status, operation);
  const said =
    first === undefined
      ? `HTTP ${status}`
      : `${first.code}${first.message === '' ? '' : `: ${first.message}`}`;
  const retryAfterMs = parseRetryAfter(retryAfter);
  return new RegistryPushError(
    classified.code,
    `The registry refused to ${operation.action} ${target(operation)} (${said}).`,
    {
      hint: classified.hint,
      retryable: classified.retryable,
      details: {
        status,
        host: operation.host,
        ...(operation.repository === undefined ? {} : { repository: operation.repository }),
        ...(first === undefined ? {} : { registryCode: first.code }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      },
    },
  );
}

const RETRYABLE_NETWORK = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN']);

/** Turn a failure to talk to the registry at all (DNS, TCP, TLS, timeouts) into one typed error. */
export function registryNetworkError(error: unknown, operation: RegistryOperation): RegistryPushError {
  const code = systemErrorCode(error) ?? 'unknown';
  if (TLS_ERROR_CODES.has(code)) {
    return new RegistryPushError(
      'REGISTRY_TLS_UNTRUSTED',
      `The certificate of ${operation.host} is not trusted (${code}).`,
      {
        hint: 'Give the registry CA (ca-file / ca-data), or let registry-push find the ingress CA with cluster access (registry-push trust).',
        cause: error,
        details: { host: operation.host, tlsError: code },
      },
    );
  }
  if (code === 'ERR_PROXY_TUNNEL') return proxyTunnelError(error, operation);
  const retryable = RETRYABLE_NETWORK.has(code);
  const proxied = (error as { proxied?: unknown } | undefined)?.proxied === true;
  return new RegistryPushError(
    'REGISTRY_UNREACHABLE',
    `Could not ${operation.action} ${target(operation)}: the connection failed (${code}).`,
    {
      hint: retryable
        ? 'The connection dropped; it was retried. Check the network path to the registry (proxy, router, load balancer).'
        : proxied
          ? `The connection went through the proxy in HTTPS_PROXY: check that the proxy is reachable, or name ${operation.host} in NO_PROXY to connect directly.`
          : `Check that ${operation.host} resolves and is reachable from here (route exposed? DNS? firewall?).`,
      cause: error,
      retryable,
      details: { host: operation.host, networkError: code, ...(proxied ? { proxy: true } : {}) },
    },
  );
}

/** The proxy of HTTPS_PROXY answered the tunnel request with an error status, or dropped it. */
function proxyTunnelError(error: unknown, operation: RegistryOperation): RegistryPushError {
  const found = (error as { statusCode?: unknown; cause?: { statusCode?: unknown } } | undefined) ?? {};
  const status = [found.statusCode, found.cause?.statusCode].find(
    (value): value is number => typeof value === 'number',
  );
  const hint =
    status === 407
      ? 'The proxy wants credentials: give them in HTTPS_PROXY (http://user:password@proxy:port), or name the registry in NO_PROXY if it is reachable directly.'
      : status === 403
        ? `The proxy does not allow connections to ${operation.host}: ask for it to be allowed, or name it in NO_PROXY if it is reachable directly.`
        : `Check the proxy in HTTPS_PROXY, or name ${operation.host} in NO_PROXY if it is reachable directly.`;
  return new RegistryPushError(
    'REGISTRY_UNREACHABLE',
    `Could not ${operation.action} ${target(operation)}: the proxy in HTTPS_PROXY did not open a tunnel to ${operation.host}${status === undefined ? '' : ` (HTTP ${status})`}.`,
    {
      hint,
      cause: error,
      // A refusal is the proxy's policy; a dropped tunnel or a 5xx may pass.
      retryable: status === undefined || status >= 500,
      details: {
        host: operation.host,
        networkError: 'ERR_PROXY_TUNNEL',
        proxy: true,
        ...(status === undefined ? {} : { proxyStatus: status }),
      },
    },
  );
}
