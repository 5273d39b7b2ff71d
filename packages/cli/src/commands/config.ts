import {
  getRegistryConfig,
  hideUrlPasswords,
  setRegistryConfig,
  undoRegistryConfig,
  type ConfigChangeResult,
} from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import type { CommandResult, Io } from '../context.js';
import { UsageError, type Options } from '../options.js';
import { runAction, type CommandAction } from '../subcommands.js';

const TARGET = 'configs.imageregistry.operator.openshift.io/cluster';

/** The result as printed for --output json: proxy passwords hidden, like the text. */
function shownJson(value: object): object {
  return JSON.parse(hideUrlPasswords(JSON.stringify(value))) as object;
}

/** A field's value as text: strings and numbers plain, objects and lists as JSON, unset as nothing. */
function plain(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  return JSON.stringify(value, null, 2).split('\n');
}

async function get(options: Options, io: Io, args: readonly string[]): Promise<CommandResult> {
  if (args.length > 1)
    throw new UsageError('config get takes at most one PATH, e.g. config get requests.read');
  const path = args[0];
  const value = await getRegistryConfig(clusterClient(options, io), path);
  // A proxy URL may carry a password; the output of a command ends up in CI logs.
  return {
    json: shownJson(path === undefined ? (value as object) : { path, value: value ?? null }),
    text: plain(value).map(hideUrlPasswords),
  };
}

function changeText(result: ConfigChangeResult, verb: string): string[] {
  if (Object.keys(result.patch.spec).length === 0)
    return [`nothing to change: ${TARGET} already has these values`];
  if (result.dryRun) {
    return [
      `would patch ${TARGET} (--type merge):`,
      hideUrlPasswords(JSON.stringify(result.patch, null, 2)),
      ...result.diff,
    ];
  }
  return [
    `${verb} ${TARGET}:`,
    ...result.diff,
    'the spec before is recorded: `registry-push config undo` restores it',
  ];
}

async function set(options: Options, io: Io, settings: readonly string[]): Promise<CommandResult> {
  if (settings.length === 0)
    throw new UsageError('config set needs PATH=VALUE settings, e.g. config set replicas=2');
  const result = await setRegistryConfig(clusterClient(options, io), settings, {
    dryRun: options['dry-run'] === true,
  });
  return { json: shownJson(result), text: changeText(result, 'changed'), warnings: result.warnings };
}

async function diff(options: Options, io: Io, settings: readonly string[]): Promise<CommandResult> {
  if (settings.length === 0)
    throw new UsageError('config diff needs PATH=VALUE settings, e.g. config diff logLevel=Debug');
  const result = await setRegistryConfig(clusterClient(options, io), settings, { dryRun: true });
  return {
    json: shownJson({ diff: result.diff, patch: result.patch }),
    text: result.diff.length === 0 ? [`no change: ${TARGET} already has these values`] : result.diff,
    warnings: result.warnings,
  };
}

async function undo(options: Options, io: Io, args: readonly string[]): Promise<CommandResult> {
  if (args.length > 0) throw new UsageError('config undo takes no arguments');
  const result = await undoRegistryConfig(clusterClient(options, io), {
    dryRun: options['dry-run'] === true,
  });
  return {
    json: shownJson(result),
    text: [`restoring the spec recorded at ${result.recordedAt}`, ...changeText(result, 'restored')],
    warnings: result.warnings,
  };
}

const ACTIONS: Record<string, CommandAction> = {
  get,
  set,
  diff,
  undo,
};

/** `registry-push config get [PATH] | set SETTING... | diff SETTING... | undo`: the registry operator's spec. */
export async function configCommand(
  options: Options,
  io: Io,
  positionals: readonly string[],
): Promise<CommandResult> {
  return runAction('config', ACTIONS, options, io, positionals);
}
