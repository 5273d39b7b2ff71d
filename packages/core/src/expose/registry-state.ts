import { RegistryPushError } from '../errors.js';
import { conditionOf, type RegistryConfig } from '../cluster/openshift-objects.js';

/**
 * The operator's own advice when the registry is Removed (the ImageRegistryRemoved alert), quoted so users
 * recognise it from the console.
 */
export const IMAGE_REGISTRY_REMOVED_ADVICE =
  'Image Registry has been removed. ImageStreamTags, BuildConfigs and DeploymentConfigs which reference ImageStreamTags may not work as expected. Please configure storage and update the config to Managed state by editing configs.imageregistry.operator.openshift.io.';

/** The storage backends the operator config knows (one key each under `spec.storage`). */
export const STORAGE_KINDS = ['s3', 'gcs', 'azure', 'swift', 'pvc', 'emptyDir', 'ibmcos', 'oss'] as const;

/** What the registry's operator config says about whether it can serve pushes. */
export interface RegistryState {
  managementState: string;
  /** The configured storage backend, or undefined when none is. */
  storage: (typeof STORAGE_KINDS)[number] | undefined;
  readOnly: boolean;
  defaultRoute: boolean;
  /** `Available` condition, with its reason when false. */
  available: boolean | undefined;
  availableReason: string | undefined;
}

/** Read the facts from the config (pure). */
export function registryState(config: RegistryConfig): RegistryState {
  const storageSpec = config.spec.storage ?? {};
  const storage = STORAGE_KINDS.find((kind) => storageSpec[kind] !== undefined && storageSpec[kind] !== null);
  const available = conditionOf(config.status?.conditions, 'Available');
  return {
    managementState: config.spec.managementState ?? 'Managed',
    storage,
    readOnly: config.spec.readOnly === true,
    defaultRoute: config.spec.defaultRoute === true,
    available: available === undefined ? undefined : available.status === 'True',
    availableReason: available?.reason,
  };
}

/**
 * Refuse to expose a registry that cannot serve: Removed (with the operator's advice), Unmanaged (the
 * operator would ignore our change), or Managed without storage.
 */
export function assertExposable(state: RegistryState): void {
  if (state.managementState === 'Removed') {
    throw new RegistryPushError(
      'REGISTRY_REMOVED',
      `The integrated registry is Removed: ${IMAGE_REGISTRY_REMOVED_ADVICE}`,
      {
        hint: 'A cluster admin can run `registry-push enable --storage …` (or `oc patch configs.imageregistry.operator.openshift.io/cluster --type merge -p \'{"spec":{"managementState":"Managed"}}\'` after configuring storage).',
        details: { managementState: state.managementState },
      },
    );
  }
  if (state.managementState === 'Unmanaged') {
    throw new RegistryPushError(
      'REGISTRY_UNMANAGED',
      'The integrated registry is Unmanaged: its operator ignores configuration changes, so it will not create the route.',
      {
        hint: 'Create the route by hand and use `expose: none`, or ask a cluster admin to set managementState to Managed.',
        details: { managementState: state.managementState },
      },
    );
  }
  if (state.storage === undefined || state.availableReason === 'StorageNotConfigured') {
    throw new RegistryPushError(
      'STORAGE_NOT_CONFIGURED',
      'The integrated registry has no storage configured, so it is not running.',
      {
        hint: 'A cluster admin must configure storage first (`registry-push enable --storage pvc` or `--storage emptydir` for non-production clusters).',
        details: { managementState: state.managementState },
      },
    );
  }
}
