import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryPushError } from '@registry-push/core/push';
import { readOptionFile, stringOption, type Options } from './options.js';

/** Where a command writes: results to stdout, progress and warnings to stderr. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Rewrite one status line in place (a terminal); absent when stderr is a log. */
  statusLine?: (text: string) => void;
  /** Read all of standard input (for a secret given as `-`); absent: there is none to read. */
  readStdin?: () => string;
}

/** What a command returns: a JSON-able result and the lines that say it in text. */
export interface CommandResult {
  json: object;
  text: string[];
  warnings?: string[];
  /** Exit code for a result that is printed but is not a success (doctor with a failed check); default 0. */
  exitCode?: number;
  /** The command printed its output as it went (logs): nothing more is printed at the end. */
  streamed?: boolean;
}

/**
 * The token from --token-file, --token or REGISTRY_PUSH_TOKEN (undefined: use the kubeconfig's). A token on
 * argv has been warned about once, when the command started.
 */
export function tokenOption(options: Options): string | undefined {
  const fromFile = readOptionFile(options, 'token-file')?.trim();
  if (fromFile !== undefined && fromFile !== '') return fromFile;
  return stringOption(options, 'token');
}

/** The registry CA from --ca-file or --ca-data. */
export function caOption(options: Options): string | undefined {
  return readOptionFile(options, 'ca-file') ?? stringOption(options, 'ca-data');
}

/** The CA for `host`: --ca-file/--ca-data, else `<cert-dir>/<host>/ca.crt` (what `trust` wrote) when it exists. */
export function caFor(options: Options, host: string): string | undefined {
  const given = caOption(options);
  if (given !== undefined) return given;
  const certsRoot = stringOption(options, 'cert-dir');
  if (certsRoot === undefined) return undefined;
  try {
    return readFileSync(join(certsRoot, host, 'ca.crt'), 'utf8');
  } catch {
    return undefined;
  }
}

/** `--tls-verify` (default true). */
export function tlsVerify(options: Options): boolean {
  return stringOption(options, 'tls-verify') !== 'false';
}

/** A required option, with a message that says how to give it. */
export function required(
  options: Options,
  name: 'namespace' | 'registry' | 'image' | 'authfile' | 'source',
): string {
  const value = stringOption(options, name);
  if (value === undefined || value === '') {
    throw new RegistryPushError('OPTION_INVALID', `--${name} is required here.`, {
      hint: `Pass --${name} or set REGISTRY_PUSH_${name.toUpperCase()}.`,
    });
  }
  return value;
}
