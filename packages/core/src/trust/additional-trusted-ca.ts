import type { ClusterClient } from '../cluster/client.js';
import { RegistryPushError } from '../errors.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { DataObject, ImageConfig } from '../cluster/shapes.js';
import { parseCertificateBundle } from './pem.js';

/** Options of {@link addAdditionalTrustedCA}. */
export interface AdditionalTrustedCaOptions {
  /** The registry `host[:port]` the cluster should trust. */
  host: string;
  caPem: string;
  /** Config map in `openshift-config` to use when the image config names none (default `registry-cas`). */
  configMapName?: string;
}

/** What {@link addAdditionalTrustedCA} did. */
export interface AdditionalTrustedCaResult {
  configMap: string;
  key: string;
  /** `created`, `updated` or `unchanged`. */
  configMapChange: 'created' | 'updated' | 'unchanged';
  /** Whether `images.config.openshift.io/cluster` was changed to reference the config map. */
  imageConfigPatched: boolean;
}

/** What a ConfigMap key may hold (kube's IsConfigMapKey): keys become file names when mounted. */
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * The config map key for a registry: `host:port` is written `host..port`, as the image config expects (the
 * cluster turns `..` back into `:`). A host that no key can name is refused: an IPv6 literal (its brackets
 * and colons), or characters a ConfigMap key may not hold; the API server would refuse the config map.
 *
 * @throws RegistryPushError `OPTION_INVALID` for such a host.
 */
export function additionalTrustedCaKey(host: string): string {
  const key = host.replaceAll(':', '..');
  const colons = host.length - host.replaceAll(':', '').length;
  if (
    colons > 1 ||
    host.startsWith('[') ||
    !CONFIG_MAP_KEY.test(key) ||
    key.length > 253 ||
    key.startsWith('.')
  ) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `The registry "${host}" cannot be named in the cluster's additionalTrustedCA config map: its keys allow only letters, digits, "-", "_" and "." (with "host..port" for a port), so an IPv6 address or other characters cannot be written there.`,
      { hint: 'Name the registry by its DNS name (and port).' },
    );
  }
  return key;
}

/**
 * Make the cluster (image imports, builds, pod pulls) trust a registry CA: put it under the host's key in
 * the config map that `images.config.openshift.io/cluster spec.additionalTrustedCA` names (creating the
 * config map, and the reference, when there is none). Other keys are left as they are.
 */
export async function addAdditionalTrustedCA(
  client: ClusterClient,
  options: AdditionalTrustedCaOptions,
): Promise<AdditionalTrustedCaResult> {
  const key = additionalTrustedCaKey(options.host);
  const { pem } = parseCertificateBundle(options.caPem, 'the CA');
  const imageConfig = await client.get<ImageConfig>(Resources.imageConfig, 'cluster');
  const referenced = imageConfig.spec.additionalTrustedCA?.name;
  const name =
    referenced !== undefined && referenced !== '' ? referenced : (options.configMapName ?? 'registry-cas');
  const namespace = RegistryNames.openshiftConfigNamespace;
  const existing = await client.find<DataObject>(Resources.configMap, name, namespace);
  let configMapChange: AdditionalTrustedCaResult['configMapChange'] = 'unchanged';
  if (existing === undefined) {
    await client.create<DataObject>(Resources.configMap, {
      metadata: { name, namespace },
      data: { [key]: pem },
    });
    configMapChange = 'created';
  } else if (existing.data?.[key] !== pem) {
    await client.replace<DataObject>(Resources.configMap, {
      ...existing,
      data: { ...existing.data, [key]: pem },
    });
    configMapChange = 'updated';
  }
  const imageConfigPatched = referenced !== name;
  if (imageConfigPatched) {
    await client.mergePatch(Resources.imageConfig, 'cluster', { spec: { additionalTrustedCA: { name } } });
  }
  return { configMap: name, key, configMapChange, imageConfigPatched };
}
