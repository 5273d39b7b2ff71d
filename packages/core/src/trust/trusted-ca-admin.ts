import type { ClusterApi } from '../ports/cluster-api.js';
import { RegistryNames, Resources } from '../cluster/resources.js';
import type { DataObject, ImageConfig } from '../cluster/openshift-objects.js';
import { RegistryPushError } from '../errors.js';
import { additionalTrustedCaKey } from './additional-trusted-ca.js';
import { parseCertificateBundle, type CertificateInfo } from './pem.js';

/** The config map used when `images.config.openshift.io/cluster` names none. */
export const DEFAULT_TRUSTED_CA_CONFIG_MAP = 'registry-cas';

// Only the BEGIN line is matched, so the key itself is never looked at, kept or printed.
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** One registry the cluster trusts through `spec.additionalTrustedCA`. */
export interface TrustedCaEntry {
  /** The config map key (`host..port`). */
  key: string;
  /** The registry as `host[:port]`. */
  host: string;
  /** The certificates under the key; empty when the value is not a PEM certificate. */
  certificates: CertificateInfo[];
  /** Why the value could not be read, when it could not. */
  problem?: string;
}

/** What {@link listTrustedCAs} found. */
export interface TrustedCaList {
  /** The config map the image config names; undefined when it names none. */
  configMap?: string;
  /** False when the config map is named but does not exist. */
  configMapExists: boolean;
  entries: TrustedCaEntry[];
}

/** What {@link addTrustedCA} or {@link removeTrustedCA} did, or would do with `dryRun`. */
export interface TrustedCaChange {
  action: 'add' | 'remove';
  host: string;
  key: string;
  configMap: string;
  /** `created`, `updated` or `unchanged`. */
  configMapChange: 'created' | 'updated' | 'unchanged';
  /** The merge patch sent (or that would be sent) to the config map, when it exists already. */
  configMapPatch?: { data: Record<string, string | null> };
  /** The merge patch sent (or that would be sent) to the image config; undefined when it already pointed there. */
  imageConfigPatch?: { spec: { additionalTrustedCA: { name: string } } };
  /** The certificates added (for `add`). */
  certificates: CertificateInfo[];
  dryRun: boolean;
}

/** Options of {@link addTrustedCA} and {@link removeTrustedCA}. */
export interface TrustedCaChangeOptions {
  /** The registry `host[:port]`. */
  host: string;
  /** PEM of the CA to add; required for `add`. */
  caPem?: string;
  /** Config map in `openshift-config` when the image config names none (default `registry-cas`). */
  configMapName?: string;
  /** Compute and return the change without sending it. */
  dryRun?: boolean;
}

/** `host..port` back to `host:port`. */
function hostOfKey(key: string): string {
  return key.replace(/\.\.(\d+)$/, ':$1');
}

/**
 * Parse the CA a user gave: certificates only. A private key given by mistake (alone or with its
 * certificate) is refused, and never echoed: the message names only what was found.
 *
 * @throws RegistryPushError `CA_INVALID`.
 */
export function parseTrustedCaPem(
  pem: string,
  what: string,
): { pem: string; certificates: CertificateInfo[] } {
  if (PRIVATE_KEY.test(pem)) {
    throw new RegistryPushError(
      'CA_INVALID',
      `${what} holds a private key, not only certificates; it was not sent anywhere.`,
      {
        hint: 'Give the CA certificate (-----BEGIN CERTIFICATE-----) that signed the registry, never a key; keep the key where it was.',
      },
    );
  }
  return parseCertificateBundle(pem, what);
}

async function referencedConfigMap(client: ClusterApi): Promise<string | undefined> {
  const imageConfig = await client.get<ImageConfig>(Resources.imageConfig, 'cluster');
  const name = imageConfig.spec.additionalTrustedCA?.name;
  return name === undefined || name === '' ? undefined : name;
}

/**
 * The registries the cluster trusts through `images.config.openshift.io/cluster spec.additionalTrustedCA`:
 * the keys of the config map it names in `openshift-config`, each with the certificates it holds.
 */
export async function listTrustedCAs(client: ClusterApi): Promise<TrustedCaList> {
  const configMap = await referencedConfigMap(client);
  if (configMap === undefined) return { configMapExists: false, entries: [] };
  const found = await client.find<DataObject>(
    Resources.configMap,
    configMap,
    RegistryNames.openshiftConfigNamespace,
  );
  if (found === undefined) return { configMap, configMapExists: false, entries: [] };
  const entries = Object.entries(found.data ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]): TrustedCaEntry => {
      try {
        return { key, host: hostOfKey(key), certificates: parseCertificateBundle(value, key).certificates };
      } catch (error) {
        const problem = error instanceof RegistryPushError ? error.message : 'unreadable';
        return { key, host: hostOfKey(key), certificates: [], problem };
      }
    });
  return { configMap, configMapExists: true, entries };
}

/** The config map the change goes to, and what it holds now. */
interface Target {
  key: string;
  /** The config map the image config names, if any. */
  referenced: string | undefined;
  configMap: string;
  existing: DataObject | undefined;
  base: Pick<TrustedCaChange, 'action' | 'host' | 'key' | 'configMap' | 'dryRun'>;
}

async function target(
  client: ClusterApi,
  action: TrustedCaChange['action'],
  options: TrustedCaChangeOptions,
): Promise<Target> {
  const key = additionalTrustedCaKey(options.host);
  const referenced = await referencedConfigMap(client);
  const configMap = referenced ?? options.configMapName ?? DEFAULT_TRUSTED_CA_CONFIG_MAP;
  const existing = await client.find<DataObject>(
    Resources.configMap,
    configMap,
    RegistryNames.openshiftConfigNamespace,
  );
  const base = { action, host: options.host, key, configMap, dryRun: options.dryRun === true };
  return { key, referenced, configMap, existing, base };
}

/**
 * Make the cluster (image imports, builds, pod pulls) trust a registry's CA: put it under the host's key
 * (`host..port`) in the config map that `images.config.openshift.io/cluster spec.additionalTrustedCA`
 * names in `openshift-config`. The config map is created when missing and the image config pointed at it
 * (a JSON merge patch); an existing config map gets a merge patch of the one key, so other keys are kept.
 *
 * @throws RegistryPushError `OPTION_INVALID` for a host no key can name or no CA, `CA_INVALID` for a CA
 * that is not certificates (a private key is refused without being echoed).
 */
export async function addTrustedCA(
  client: ClusterApi,
  options: TrustedCaChangeOptions,
): Promise<TrustedCaChange> {
  additionalTrustedCaKey(options.host);
  if (options.caPem === undefined) {
    throw new RegistryPushError('OPTION_INVALID', `Adding a CA for ${options.host} needs the CA.`, {
      hint: 'Give it with --ca-file FILE (PEM).',
    });
  }
  const { pem, certificates } = parseTrustedCaPem(options.caPem, 'the CA');
  const { key, referenced, configMap, existing, base } = await target(client, 'add', options);
  const namespace = RegistryNames.openshiftConfigNamespace;
  let configMapChange: TrustedCaChange['configMapChange'] = 'unchanged';
  let configMapPatch: TrustedCaChange['configMapPatch'];
  if (existing === undefined) {
    configMapChange = 'created';
    if (!base.dryRun)
      await client.create<DataObject>(Resources.configMap, {
        metadata: { name: configMap, namespace },
        data: { [key]: pem },
      });
  } else if (existing.data?.[key] !== pem) {
    configMapChange = 'updated';
    configMapPatch = { data: { [key]: pem } };
    if (!base.dryRun) await client.mergePatch(Resources.configMap, configMap, configMapPatch, namespace);
  }
  const imageConfigPatch =
    referenced === configMap ? undefined : { spec: { additionalTrustedCA: { name: configMap } } };
  if (imageConfigPatch !== undefined && !base.dryRun)
    await client.mergePatch(Resources.imageConfig, 'cluster', imageConfigPatch);
  return {
    ...base,
    configMapChange,
    ...(configMapPatch === undefined ? {} : { configMapPatch }),
    ...(imageConfigPatch === undefined ? {} : { imageConfigPatch }),
    certificates,
  };
}

/**
 * Stop trusting a registry's CA: remove its key from the additionalTrustedCA config map (a merge patch
 * setting the key to null; other keys are kept). The config map and the image config's reference stay, for
 * the other registries. Removing a key that is not there changes nothing (`unchanged`).
 *
 * @throws RegistryPushError `OPTION_INVALID` for a host no key can name.
 */
export async function removeTrustedCA(
  client: ClusterApi,
  options: TrustedCaChangeOptions,
): Promise<TrustedCaChange> {
  const { key, configMap, existing, base } = await target(client, 'remove', options);
  if (existing?.data?.[key] === undefined) return { ...base, configMapChange: 'unchanged', certificates: [] };
  const configMapPatch = { data: { [key]: null } };
  if (!base.dryRun)
    await client.mergePatch(
      Resources.configMap,
      configMap,
      configMapPatch,
      RegistryNames.openshiftConfigNamespace,
    );
  return { ...base, configMapChange: 'updated', configMapPatch, certificates: [] };
}

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

/**
 * Make the cluster (image imports, builds, pod pulls) trust a registry CA: {@link addTrustedCA}, with the
 * answer in the shape this function has always given.
 */
export async function addAdditionalTrustedCA(
  client: ClusterApi,
  options: AdditionalTrustedCaOptions,
): Promise<AdditionalTrustedCaResult> {
  const change = await addTrustedCA(client, options);
  return {
    configMap: change.configMap,
    key: change.key,
    configMapChange: change.configMapChange,
    imageConfigPatched: change.imageConfigPatch !== undefined,
  };
}
