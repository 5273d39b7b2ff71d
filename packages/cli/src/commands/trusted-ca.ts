import {
  addTrustedCA,
  listTrustedCAs,
  removeTrustedCA,
  type TrustedCaChange,
  type TrustedCaList,
} from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import { caOption, type CommandResult, type Io } from '../context.js';
import { UsageError, type Options } from '../options.js';
import { runAction, type CommandAction } from '../subcommands.js';

const IMAGE_CONFIG = 'images.config.openshift.io/cluster';
const NAMESPACE = 'openshift-config';

function listText(list: TrustedCaList): string[] {
  if (list.configMap === undefined)
    return [
      `${IMAGE_CONFIG} names no additionalTrustedCA config map: the cluster trusts no extra registry CA`,
    ];
  if (!list.configMapExists)
    return [
      `${IMAGE_CONFIG} names config map ${NAMESPACE}/${list.configMap}, which does not exist: no extra registry CA is trusted`,
    ];
  if (list.entries.length === 0) return [`config map ${NAMESPACE}/${list.configMap} holds no registry CA`];
  return [
    `config map ${NAMESPACE}/${list.configMap}:`,
    ...list.entries.map((entry) => {
      if (entry.problem !== undefined) return `  ${entry.host} (key ${entry.key}): ${entry.problem}`;
      const certificates = entry.certificates
        .map((c) => `${c.subject}, valid until ${c.notAfter.toISOString()}`)
        .join('; ');
      return `  ${entry.host} (key ${entry.key}): ${certificates}`;
    }),
  ];
}

function changeText(change: TrustedCaChange): string[] {
  const where = `${NAMESPACE}/${change.configMap}`;
  if (change.configMapChange === 'unchanged' && change.imageConfigPatch === undefined) {
    return change.action === 'add'
      ? [`nothing to change: ${where} already holds this CA for ${change.host} (key ${change.key})`]
      : [`nothing to change: ${where} holds no CA for ${change.host} (key ${change.key})`];
  }
  const would = change.dryRun ? 'would ' : '';
  const lines: string[] = [];
  if (change.configMapChange === 'created') {
    lines.push(
      `${would}create config map ${where} with key ${change.key}`,
      ...change.certificates.map((c) => `  ${c.subject} (sha256 ${c.fingerprint256})`),
    );
  } else if (change.configMapPatch !== undefined) {
    lines.push(`${would}patch config map ${where} (--type merge):`, JSON.stringify(patchShown(change)));
  }
  if (change.imageConfigPatch !== undefined) {
    lines.push(`${would}patch ${IMAGE_CONFIG} (--type merge):`, JSON.stringify(change.imageConfigPatch));
  }
  if (!change.dryRun) {
    lines.push(
      change.action === 'add'
        ? `the cluster now trusts ${change.host} with this CA (image imports, builds and pod pulls; nodes pick it up as the config rolls out)`
        : `the cluster no longer trusts ${change.host} through ${where}`,
    );
  }
  return lines;
}

/** The config map patch as printed: the PEM shortened to its certificate count, the key kept. */
function patchShown(change: TrustedCaChange): object {
  const data = Object.fromEntries(
    Object.entries(change.configMapPatch?.data ?? {}).map(([key, value]) => [
      key,
      value === null ? null : `<${change.certificates.length} PEM certificate(s)>`,
    ]),
  );
  return { data };
}

function hostArgument(action: string, args: readonly string[]): string {
  const [host, extra] = args;
  if (host === undefined || host === '')
    throw new UsageError(
      `trusted-ca ${action} needs the registry HOST[:PORT], e.g. registry.example.com:5000`,
    );
  if (extra !== undefined) throw new UsageError(`trusted-ca ${action} takes one HOST[:PORT]`);
  return host;
}

async function add(options: Options, io: Io, args: readonly string[]): Promise<CommandResult> {
  const host = hostArgument('add', args);
  const caPem = caOption(options);
  if (caPem === undefined)
    throw new UsageError('trusted-ca add needs the CA certificate: --ca-file FILE (PEM)');
  const change = await addTrustedCA(clusterClient(options, io), {
    host,
    caPem,
    dryRun: options['dry-run'] === true,
  });
  return { json: change, text: changeText(change) };
}

async function remove(options: Options, io: Io, args: readonly string[]): Promise<CommandResult> {
  const host = hostArgument('remove', args);
  if (caOption(options) !== undefined) throw new UsageError('trusted-ca remove takes no CA');
  const change = await removeTrustedCA(clusterClient(options, io), {
    host,
    dryRun: options['dry-run'] === true,
  });
  return { json: change, text: changeText(change) };
}

async function list(options: Options, io: Io, args: readonly string[]): Promise<CommandResult> {
  if (args.length > 0) throw new UsageError('trusted-ca list takes no arguments');
  const found = await listTrustedCAs(clusterClient(options, io));
  return { json: found, text: listText(found) };
}

const ACTIONS: Record<string, CommandAction> = { add, list, remove };

/**
 * `registry-push trusted-ca add HOST[:PORT] --ca-file FILE | list | remove HOST[:PORT]`: the registry CAs
 * the cluster itself trusts (`images.config.openshift.io/cluster spec.additionalTrustedCA`).
 */
export async function trustedCaCommand(
  options: Options,
  io: Io,
  positionals: readonly string[],
): Promise<CommandResult> {
  return runAction('trusted-ca', ACTIONS, options, io, positionals);
}
