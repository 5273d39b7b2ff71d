// A test-only PruneRegistry over the simulator's registry front: HTTPS through the router to the default
// route's host (SNI and Host), the user's API token as Bearer, as the integrated registry accepts it. The
// project's OCI registry client implements the same interface for real use.
import type { RunningCluster } from '@registry-push/openshift-sim';
import { httpRequest } from '@registry-push/testkit';
import { RegistryPushError, type ErrorCode } from '../../src/errors.js';
import type { PruneRegistry, RegistryDeleteOutcome } from '../../src/prune/registry.js';

export interface RecordedCall {
  method: 'deleteManifest' | 'deleteLayerLink' | 'deleteBlob';
  target: string;
  status: number;
}

const FAILURES: Record<number, [ErrorCode, boolean]> = {
  401: ['REGISTRY_UNAUTHORIZED', false],
  403: ['REGISTRY_DENIED', false],
  405: ['REGISTRY_UNSUPPORTED', false],
  429: ['REGISTRY_RATE_LIMITED', true],
};

/** The registry through the route, plus a log of every call it made. */
export function simRegistry(
  cluster: RunningCluster,
  token: string,
): PruneRegistry & { host: string; calls: RecordedCall[] } {
  const host = `default-route-openshift-image-registry.${cluster.appsDomain}`;
  const calls: RecordedCall[] = [];
  const send = async (
    method: RecordedCall['method'],
    path: string,
    target: string,
  ): Promise<RegistryDeleteOutcome> => {
    const response = await httpRequest(`https://${cluster.routerAddress}${path}`, {
      method: 'DELETE',
      headers: { Host: host, Authorization: `Bearer ${token}` },
      caPem: cluster.ingressCaPem,
      servername: host,
    });
    calls.push({ method, target, status: response.status });
    if (response.status === 202 || response.status === 204 || response.status === 200) return 'deleted';
    if (response.status === 404) return 'absent';
    const [code, retryable] = FAILURES[response.status] ?? [
      response.status >= 500 ? 'REGISTRY_SERVER_ERROR' : 'REGISTRY_PROTOCOL',
      response.status >= 500,
    ];
    throw new RegistryPushError(
      code,
      `The registry answered ${response.status} to DELETE ${path}: ${response.body.toString('utf8').slice(0, 200)}`,
      {
        retryable,
        details: { status: response.status },
      },
    );
  };
  return {
    host,
    calls,
    deleteManifest: (repository, digest) =>
      send('deleteManifest', `/v2/${repository}/manifests/${digest}`, `${repository}@${digest}`),
    deleteLayerLink: (repository, digest) =>
      send('deleteLayerLink', `/v2/${repository}/blobs/${digest}`, `${repository}@${digest}`),
    deleteBlob: (digest) => send('deleteBlob', `/admin/blobs/${digest}`, digest),
  };
}
