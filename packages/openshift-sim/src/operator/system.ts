import type { Authorizer, Subject } from '../api/rbac.js';
import type { ResourceCatalog } from '../api/resources.js';
import type { ResourceService } from '../api/service.js';
import type { ObjectStore } from '../api/store.js';
import type { ClusterFacts, RequestContext } from '../api/types.js';
import type { PodLogs } from '../api/pod-logs.js';

/** Everything a controller of the simulated cluster works with. */
export interface ControllerParts {
  /** Where the simulated containers write their log lines (served as `pods/<name>/log`). */
  podLogs?: PodLogs;
  catalog: ResourceCatalog;
  service: ResourceService;
  store: ObjectStore;
  authorizer: Authorizer;
  facts: ClusterFacts;
}

/** Controllers act as privileged service accounts; their writes still go through validation. */
export function systemContext(parts: ControllerParts, name: string, namespace = ''): RequestContext {
  const user: Subject = {
    name: `system:serviceaccount:${name}`,
    groups: ['system:serviceaccounts', 'system:masters'],
  };
  return { store: parts.store, authorizer: parts.authorizer, user, facts: parts.facts, namespace };
}

/**
 * Runs `work` once per burst of triggers, after the current tick, never concurrently with itself. Errors
 * go to `onError` so a controller keeps running, as a real one requeues.
 */
export function coalesced(work: () => void, onError: (err: unknown) => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      try {
        work();
      } catch (err) {
        onError(err);
      }
    });
  };
}
