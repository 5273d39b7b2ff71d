/** Reading the image registry operator's config, as `enable` and `config` both need it. */
import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { RegistryConfig } from '../cluster/openshift-objects.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';

/**
 * `configs.imageregistry.operator.openshift.io/cluster`.
 *
 * @param forbidden Turns a FORBIDDEN answer into the caller's error (each command names the role it needs).
 * @throws RegistryPushError `OPERATOR_CONFIG_MISSING` when the operator has not created it.
 */
export async function readOperatorConfig(
  client: ClusterApi,
  forbidden: (error: unknown) => never,
): Promise<RegistryConfig> {
  try {
    return await client.get<RegistryConfig>(Resources.registryConfig, RegistryNames.operatorConfig);
  } catch (error) {
    if (isRegistryPushError(error, 'NOT_FOUND')) {
      throw new RegistryPushError(
        'OPERATOR_CONFIG_MISSING',
        'configs.imageregistry.operator.openshift.io "cluster" not found: the image registry operator has not created its config.',
        { hint: 'Check that the image-registry cluster operator is installed (`oc get co image-registry`).' },
      );
    }
    return forbidden(error);
  }
}
