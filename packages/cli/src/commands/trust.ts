import {
  exposeRegistry,
  installTrust,
  registryTrust,
  type RegistryTrust,
  type TrustInstallation,
} from '@registry-push/core';
import { clusterClient, progress } from '../cluster.js';
import { caOption, tlsVerify, type CommandResult, type Io } from '../context.js';
import { interruptible } from '../interrupt.js';
import { stringOption, type Options } from '../options.js';

/** Find the registry host (given or discovered without changes). */
export async function registryHost(options: Options, io: Io): Promise<string> {
  const given = stringOption(options, 'registry');
  if (given !== undefined) return given;
  const namespace = stringOption(options, 'namespace');
  const routeName = stringOption(options, 'route-name');
  const found = await exposeRegistry(clusterClient(options, io), {
    mode: 'none',
    ...(namespace === undefined ? {} : { namespace }),
    ...(routeName === undefined ? {} : { routeName }),
    onProgress: progress(io),
  });
  return found.host;
}

/** Find and install the registry CA; shared by `trust` and `all`. */
export async function establishTrust(
  options: Options,
  io: Io,
  host: string,
): Promise<{ trust: RegistryTrust; installation?: TrustInstallation }> {
  const where = stringOption(options, 'trust') ?? 'registry';
  const caPem = caOption(options);
  const routeName = stringOption(options, 'route-name');
  const needsCluster = caPem === undefined;
  const trust = await registryTrust({
    host,
    ...(caPem === undefined ? {} : { caPem }),
    ...(needsCluster ? { client: clusterClient(options, io) } : {}),
    ...(routeName === undefined ? {} : { routeName }),
    verify: tlsVerify(options),
  });
  if (where === 'none' || trust.caPem === undefined) return { trust };
  const certsRoot = stringOption(options, 'cert-dir');
  const installation = await installTrust({
    host,
    caPem: trust.caPem,
    ...(certsRoot === undefined ? {} : { certsRoot }),
    docker: where === 'docker',
    system: where === 'system',
  });
  return { trust, installation };
}

/** `registry-push trust`: find the registry's CA, prove it, and install it for the tools. */
export async function trustCommand(options: Options, io: Io): Promise<CommandResult> {
  const host = await registryHost(options, io);
  // Interrupted, it removes the private cert dir it was writing (see interrupt.ts).
  const { trust, installation } = await interruptible(io, 'trust', () => establishTrust(options, io, host));
  return {
    json: {
      ...trust,
      ...(installation === undefined ? {} : { certDir: installation.certDir, files: installation.files }),
    },
    text: [
      `registry: ${host}`,
      `ca: ${trust.source} (${trust.detail})${trust.verified ? ', verified by a TLS handshake' : ''}`,
      ...(installation === undefined
        ? []
        : [`cert-dir: ${installation.certDir}`, ...installation.files.map((file) => `wrote: ${file}`)]),
    ],
    warnings: trust.warnings,
  };
}
