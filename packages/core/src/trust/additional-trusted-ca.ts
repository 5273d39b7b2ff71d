import { RegistryPushError } from '../errors.js';

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
