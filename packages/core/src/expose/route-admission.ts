import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import { conditionOf, type Route } from '../cluster/openshift-objects.js';
import { RegistryPushError } from '../errors.js';

/** One progress line of a long step (patch, wait, discovery). */
export interface ExposeProgress {
  step: 'config' | 'secret' | 'patch' | 'route' | 'discover' | 'revert';
  message: string;
}

/** Where a route stands with the routers. */
export interface RouteAdmission {
  admitted: boolean;
  /** The admitted host, else the spec host. */
  host: string | undefined;
  /** The routers' conditions, as `router: Admitted=False (HostAlreadyClaimed: …)`. */
  summary: string;
}

/** Read a route's admission (pure): admitted when any router says `Admitted=True`. */
export function routeAdmission(route: Route): RouteAdmission {
  const ingress = route.status?.ingress ?? [];
  const admittedBy = ingress.find((entry) => conditionOf(entry.conditions, 'Admitted')?.status === 'True');
  const summary = ingress
    .map((entry) => {
      const condition = conditionOf(entry.conditions, 'Admitted');
      if (condition === undefined) return `${entry.routerName ?? 'router'}: no Admitted condition yet`;
      const why = [condition.reason, condition.message]
        .filter((part) => part !== undefined && part !== '')
        .join(': ');
      return `${entry.routerName ?? 'router'}: Admitted=${condition.status}${why === '' ? '' : ` (${why})`}`;
    })
    .join('; ');
  return {
    admitted: admittedBy !== undefined,
    host: admittedBy?.host ?? route.spec.host,
    summary: summary === '' ? 'no router has reported on it yet' : summary,
  };
}

/** Options of {@link waitForAdmittedRoute}. */
export interface WaitOptions {
  timeoutMs: number;
  intervalMs: number;
  onProgress?: (progress: ExposeProgress) => void;
  signal?: AbortSignal;
}

/**
 * Poll until the registry route `name` exists and a router admitted it, within the timeout; on timeout the
 * error shows the routers' conditions (e.g. `HostAlreadyClaimed`).
 */
export async function waitForAdmittedRoute(
  client: ClusterApi,
  name: string,
  options: WaitOptions,
): Promise<Route> {
  const deadline = Date.now() + options.timeoutMs;
  let last: Route | undefined;
  let lastMessage = '';
  const report = (message: string): void => {
    if (message === lastMessage) return;
    lastMessage = message;
    options.onProgress?.({ step: 'route', message });
  };
  for (;;) {
    last = await client.find<Route>(Resources.route, name, RegistryNames.namespace);
    if (last !== undefined) {
      const admission = routeAdmission(last);
      if (admission.admitted) {
        report(`route ${name} admitted with host ${admission.host ?? '?'}`);
        return last;
      }
      report(`route ${name} exists, waiting for a router to admit it (${admission.summary})`);
    } else {
      report(`waiting for the operator to create route ${name} in ${RegistryNames.namespace}`);
    }
    if (Date.now() + options.intervalMs > deadline) break;
    await sleep(options.intervalMs, undefined, { signal: options.signal });
  }
  const seconds = Math.round(options.timeoutMs / 1000);
  throw new RegistryPushError(
    'ROUTE_NOT_ADMITTED',
    last === undefined
      ? `Route ${name} in ${RegistryNames.namespace} did not appear within ${seconds} s.`
      : `Route ${name} was not admitted within ${seconds} s: ${routeAdmission(last).summary}.`,
    {
      hint:
        last === undefined
          ? 'Check the registry operator: `oc get configs.imageregistry.operator.openshift.io/cluster -o yaml` (conditions) and `oc get co image-registry`.'
          : 'Check `oc describe route ' +
            name +
            ' -n ' +
            RegistryNames.namespace +
            '`; a host already claimed by another route must be freed or changed.',
      details: { route: name },
      retryable: true,
    },
  );
}
