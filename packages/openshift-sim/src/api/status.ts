import type { JsonObject } from '../json.js';

/** A kube `metav1.Status` cause. */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

/** What identifies the object an error is about. */
export interface StatusTarget {
  group: string;
  /** The resource (plural) name: kube writes it in `details.kind`. */
  resource: string;
  name?: string;
}

/**
 * An error the API server answers with a `Status` body. Thrown anywhere in a request; the server turns it
 * into the response.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: {
      name?: string;
      group?: string;
      kind?: string;
      causes?: StatusCause[];
      retryAfterSeconds?: number;
    },
  ) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }

  /** The `Status` object for the response body. */
  toStatus(): JsonObject {
    const status: JsonObject = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) {
      const details: JsonObject = {};
      if (this.details.name !== undefined) details['name'] = this.details.name;
      if (this.details.group !== undefined) details['group'] = this.details.group;
      if (this.details.kind !== undefined) details['kind'] = this.details.kind;
      if (this.details.causes) details['causes'] = this.details.causes.map((c) => ({ ...c }));
      if (this.details.retryAfterSeconds !== undefined)
        details['retryAfterSeconds'] = this.details.retryAfterSeconds;
      status['details'] = details;
    }
    return status;
  }
}

/** `pods`, `deployments.apps`: how kube names a resource in messages. */
export function qualifiedResource(target: StatusTarget): string {
  return target.group === '' ? target.resource : `${target.resource}.${target.group}`;
}

function targetDetails(target: StatusTarget): { name?: string; group: string; kind: string } {
  return {
    ...(target.name !== undefined ? { name: target.name } : {}),
    group: target.group,
    kind: target.resource,
  };
}

export const errors = {
  notFound(target: StatusTarget): ApiError {
    const name = target.name ?? '';
    return new ApiError(
      404,
      'NotFound',
      `${qualifiedResource(target)} "${name}" not found`,
      targetDetails(target),
    );
  },
  alreadyExists(target: StatusTarget): ApiError {
    return new ApiError(
      409,
      'AlreadyExists',
      `${qualifiedResource(target)} "${target.name ?? ''}" already exists`,
      targetDetails(target),
    );
  },
  conflict(
    target: StatusTarget,
    why = 'the object has been modified; please apply your changes to the latest version and try again',
  ): ApiError {
    return new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(target)} "${target.name ?? ''}": ${why}`,
      targetDetails(target),
    );
  },
  invalid(target: StatusTarget & { kind: string }, causes: StatusCause[]): ApiError {
    const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    const list = summary.length === 1 ? (summary[0] ?? '') : `[${summary.join(', ')}]`;
    return new ApiError(422, 'Invalid', `${target.kind} "${target.name ?? ''}" is invalid: ${list}`, {
      ...targetDetails(target),
      kind: target.kind,
      causes,
    });
  },
  badRequest(message: string): ApiError {
    return new ApiError(400, 'BadRequest', message);
  },
  unauthorized(): ApiError {
    return new ApiError(401, 'Unauthorized', 'Unauthorized');
  },
  forbidden(message: string, target?: StatusTarget): ApiError {
    return new ApiError(403, 'Forbidden', message, target ? targetDetails(target) : undefined);
  },
  methodNotAllowed(message = 'the server does not allow this method on the requested resource'): ApiError {
    return new ApiError(405, 'MethodNotAllowed', message);
  },
  gone(message: string): ApiError {
    return new ApiError(410, 'Expired', message);
  },
  unsupportedMediaType(message: string): ApiError {
    return new ApiError(415, 'UnsupportedMediaType', message);
  },
  notAcceptable(message: string): ApiError {
    return new ApiError(406, 'NotAcceptable', message);
  },
};

/** The `Status` kube returns for a successful delete of a resource that does not return the object. */
export function successStatus(details?: {
  name: string;
  group: string;
  kind: string;
  uid?: string;
}): JsonObject {
  const status: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' };
  if (details) status['details'] = { ...details };
  return status;
}
