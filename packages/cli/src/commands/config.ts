import {
  getRegistryConfig,
  hideUrlPasswords,
  setRegistryConfig,
  undoRegistryConfig,
  type ConfigChangeResult,
} from '@registry-push/core';
import { readFileSync } from 'node:fs';
import { clusterClient } from '../cluster.js';
import type { CommandResult, Io } from '../context.js';
import { UsageError, listOption, type Options } from '../options.js';
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

/**
 * The storage credentials of `--storage-credential KEY=FILE` (repeatable; FILE `-` is standard input), read
 * here so that no secret is ever on argv. Trailing whitespace is dropped (`echo key > file`).
 */
function storageCredentials(options: Options, io: Io): Record<string, string> | undefined {
  const items = listOption(options, 'storage-credential');
  if (items.length === 0) return undefined;
  const credentials: Record<string, string> = {};
  const stdin = { used: false };
  for (const item of items) {
    const at = item.indexOf('=');
    const key = at < 0 ? item : item.slice(0, at);
    const file = at < 0 ? '' : item.slice(at + 1);
    if (!/^[A-Za-z0-9_.-]+$/.test(key) || file === '') {
      throw new UsageError(
        `--storage-credential takes KEY=FILE (FILE - for stdin), e.g. REGISTRY_STORAGE_S3_ACCESSKEY=./access-key, not "${key.slice(0, 60)}${at < 0 ? '' : '=…'}"`,
      );
    }
    if (key in credentials) throw new UsageError(`--storage-credential ${key} is given twice`);
    credentials[key] = readCredential(key, file, io, stdin);
  }
  return credentials;
}

/** One credential's value from FILE, or from stdin for `-` (once). */
function readCredential(key: string, file: string, io: Io, stdin: { used: boolean }): string {
  let value: string;
  if (file === '-') {
    if (stdin.used) throw new UsageError('--storage-credential: only one KEY can be read from stdin (-)');
    if (io.readStdin === undefined) throw new UsageError('--storage-credential: there is no stdin to read');
    stdin.used = true;
    value = io.readStdin();
  } else {
    try {
      value = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `--storage-credential ${key}: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  value = value.trimEnd();
  if (value === '')
    throw new UsageError(`--storage-credential ${key}: ${file === '-' ? 'stdin' : file} is empty`);
  return value;
}

function credentialsText(result: ConfigChangeResult): string[] {
  const secret = result.credentials;
  if (secret === undefined) return [];
  const action = secret.action === 'unchanged' ? 'leave' : secret.action;
  return [
    `${result.dryRun ? 'would ' : ''}${action} secret ${secret.namespace}/${secret.name} (keys ${secret.keys.join(', ')}${secret.action === 'unchanged' ? ', already set' : ''})`,
  ];
}

async function set(options: Options, io: Io, settings: readonly string[]): Promise<CommandResult> {
  if (settings.length === 0)
    throw new UsageError('config set needs PATH=VALUE settings, e.g. config set replicas=2');
  const credentials = storageCredentials(options, io);
  const result = await setRegistryConfig(clusterClient(options, io), settings, {
    dryRun: options['dry-run'] === true,
    ...(credentials === undefined ? {} : { credentials }),
  });
  const text = changeText(result, 'changed');
  return {
    json: shownJson(result),
    text: result.credentials === undefined ? text : [...credentialsText(result), ...text],
    warnings: result.warnings,
  };
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
