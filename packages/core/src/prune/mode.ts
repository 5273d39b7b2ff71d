import { RegistryPushError } from '../errors.js';
import type { PruneMode } from './types.js';

/**
 * The prune mode for the registry operator's `managementState`: `Managed` prunes API objects and registry
 * storage; `Removed` and `Unmanaged` prune API objects only and never contact the registry. An explicit
 * `override` wins, so an admin can run a metadata-only prune on a managed registry (or a full one on an
 * unmanaged registry they run themselves).
 *
 * The operator's own CronJob decides by whether the registry Service exists, which makes `Unmanaged` a full
 * prune; this mapping is deliberately stricter, since nobody promised that an unmanaged registry is reachable
 * or configured for deletes.
 *
 * @param managementState `spec.managementState` of `configs.imageregistry.operator.openshift.io/cluster`.
 * @param override The mode to use regardless of the state.
 * @returns The mode.
 */
export function pruneModeFor(managementState: string | undefined, override?: PruneMode): PruneMode {
  if (override !== undefined) {
    if (override !== 'full' && override !== 'metadata') {
      throw new RegistryPushError('PRUNE_POLICY_INVALID', `Unknown prune mode "${String(override)}".`, {
        hint: 'Use "full" or "metadata".',
      });
    }
    return override;
  }
  if (managementState === 'Managed' || managementState === 'Force') return 'full';
  if (managementState === 'Removed' || managementState === 'Unmanaged') return 'metadata';
  throw new RegistryPushError(
    'PRUNE_POLICY_INVALID',
    `The registry's managementState "${managementState ?? ''}" does not say whether its storage may be pruned.`,
    { hint: 'Choose the mode explicitly ("full" or "metadata").' },
  );
}
