import { readFileSync } from 'node:fs';
import {
  RegistryPushError,
  exposeRegistry,
  revertExpose,
  type CustomRouteOptions,
  type ExposeChange,
  type ClusterClient,
  type ExposeMode,
  type ExposeResult,
} from '@registry-push/core';
import { clusterClient, progress } from '../cluster.js';
import { type CommandResult, type Io } from '../context.js';
import { readOptionFile, stringOption, timeoutMs, type Options } from '../options.js';

function readChanges(path: string): ExposeChange[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `--revert ${path} is not a readable JSON result of \`registry-push expose --output json\`.`,
      {
        hint: 'Save the JSON output of the expose command and pass that file.',
      },
    );
  }
  const changes = (parsed as { changes?: unknown }).changes;
  if (!Array.isArray(changes)) {
    throw new RegistryPushError('OPTION_INVALID', `--revert ${path} has no "changes" list.`, {
      hint: 'Pass the JSON output of `registry-push expose --output json`.',
    });
  }
  return changes as ExposeChange[];
}

function customRoute(options: Options): CustomRouteOptions {
  const certPem = readOptionFile(options, 'route-cert');
  const keyPem = readOptionFile(options, 'route-key');
  const caPem = readOptionFile(options, 'route-ca');
  return {
    name: stringOption(options, 'route-name') ?? '',
    hostname: stringOption(options, 'route-hostname') ?? '',
    ...(certPem === undefined ? {} : { certPem }),
    ...(keyPem === undefined ? {} : { keyPem }),
    ...(caPem === undefined ? {} : { caPem }),
  };
}

/** Expose (or discover) as the options say; shared by `expose` and `all`. */
export async function exposeFromOptions(
  client: ClusterClient,
  options: Options,
  io: Io,
): Promise<ExposeResult> {
  const mode = (stringOption(options, 'expose') ?? 'auto') as ExposeMode;
  const name = stringOption(options, 'route-name');
  const namespace = stringOption(options, 'namespace');
  const timeout = timeoutMs(options);
  return exposeRegistry(client, {
    mode,
    ...(namespace === undefined ? {} : { namespace }),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
    ...(mode !== 'custom-route' && name !== undefined ? { routeName: name } : {}),
    ...(mode === 'custom-route' ? { route: customRoute(options) } : {}),
    onProgress: progress(io),
  });
}

/** `registry-push expose`: make the registry reachable (or find how it is), or undo a previous expose. */
export async function exposeCommand(options: Options, io: Io): Promise<CommandResult> {
  const client = clusterClient(options, io);
  const revertFile = stringOption(options, 'revert');
  if (revertFile !== undefined) {
    const outcome = await revertExpose(client, readChanges(revertFile), progress(io));
    const [firstFailure] = outcome.failed;
    if (firstFailure !== undefined) throw firstFailure;
    return {
      json: { reverted: outcome.done },
      text: outcome.done.length === 0 ? ['nothing to revert'] : outcome.done,
    };
  }
  const result = await exposeFromOptions(client, options, io);
  return {
    json: result,
    text: [
      `registry: ${result.host}`,
      `source: ${result.source} (${result.detail})`,
      ...(result.changes.length === 0
        ? ['changes: none']
        : result.changes.map((change) => `changed: ${change.kind}`)),
    ],
    warnings: result.warnings,
  };
}
