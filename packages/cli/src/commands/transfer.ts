import {
  copyImage,
  parseReference,
  pullImage,
  type CopyResult,
  type PullResult,
  type TransferConnection,
} from '@registry-push/core/push';
import { caFor, tlsVerify, type CommandResult, type Io } from '../context.js';
import { interruptible } from '../interrupt.js';
import { pushProgress } from '../progress.js';
import { numberOption, UsageError, type OptionName, type Options } from '../options.js';
import { credentialsOption } from './push.js';

type Side = 'src' | 'dest';

/** The registry host of `docker://HOST/...` or `HOST/...`; undefined when it names none (core says why). */
function hostOf(reference: string): string | undefined {
  const text = reference.startsWith('docker://') ? reference.slice('docker://'.length) : reference;
  try {
    return parseReference(text).host;
  } catch {
    return undefined;
  }
}

/**
 * The options as one side of a copy sees them: its `--src-*`/`--dest-*` options in place of the shared
 * ones. A side's own kubeconfig or token file replaces every other credential, so the source cluster's
 * token is never sent to the destination registry (or the other way round).
 */
export function sideOptions(options: Options, side: Side): Options {
  const own = (name: string): string | boolean | undefined => options[`${side}-${name}` as OptionName];
  const view: Options = { ...options };
  const kubeconfig = own('kubeconfig');
  const tokenFile = own('token-file');
  const authFile = own('authfile');
  if (kubeconfig !== undefined || tokenFile !== undefined) {
    for (const name of ['authfile', 'token', 'token-file', 'server', 'context'] as const) delete view[name];
    if (kubeconfig !== undefined) view.kubeconfig = kubeconfig;
    if (tokenFile !== undefined) view['token-file'] = tokenFile;
  }
  if (authFile !== undefined) view.authfile = authFile;
  const caFile = own('ca-file');
  if (caFile !== undefined) {
    delete view['ca-data'];
    view['ca-file'] = caFile;
  }
  const verify = own('tls-verify');
  if (verify !== undefined) view['tls-verify'] = verify;
  if (own('plain-http') === true) view['plain-http'] = true;
  return view;
}

/** How to reach and log in to the registry of `reference`, from the options (one side's view, for copy). */
async function connectionFor(options: Options, io: Io, reference: string): Promise<TransferConnection> {
  const host = hostOf(reference);
  const retries = numberOption(options, 'retries');
  const caPem = host === undefined ? undefined : caFor(options, host);
  return {
    ...(host === undefined ? {} : { credentials: await credentialsOption(options, io, host) }),
    tlsVerify: tlsVerify(options),
    ...(caPem === undefined ? {} : { caPem }),
    ...(options['plain-http'] === true ? { plainHttp: true } : {}),
    ...(retries === undefined ? {} : { retry: { retries } }),
  };
}

function twoArguments(command: string, positionals: readonly string[], example: string): [string, string] {
  const [source, destination] = positionals;
  if (source === undefined || destination === undefined) {
    throw new UsageError(`${command} needs SOURCE and DESTINATION, e.g. ${example}`);
  }
  return [source, destination];
}

const mib = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

/** The text lines of a pull. */
export function pullLines(result: PullResult): string[] {
  return [
    `pulled ${result.source} ${result.digest} into oci:${result.layout}${result.ref === undefined ? '' : `:${result.ref}`}`,
    `blobs: ${result.blobs.transferred} downloaded (${mib(result.blobs.bytes)} MiB), ${result.blobs.existing} already there; ${result.manifests} manifest(s); ${(result.durationMs / 1000).toFixed(1)} s`,
  ];
}

/** The text lines of a copy. */
export function copyLines(result: CopyResult): string[] {
  return [
    `copied ${result.source} to ${result.reference} ${result.digest}`,
    `blobs: ${result.blobs.transferred} uploaded (${mib(result.blobs.bytes)} MiB), ${result.blobs.existing} already there, ${result.blobs.mounted} mounted; ${result.manifests} manifest(s); ${(result.durationMs / 1000).toFixed(1)} s`,
  ];
}

/**
 * `registry-push pull SOURCE oci:DIR[:REF]`. Cancelled (SIGINT/SIGTERM), the files it wrote are removed:
 * the whole layout when it made it, else only what it added.
 */
export async function pullCommand(
  options: Options,
  io: Io,
  positionals: readonly string[],
): Promise<CommandResult> {
  const [source, destination] = twoArguments(
    'pull',
    positionals,
    'registry-push pull docker://HOST/PROJECT/NAME:TAG oci:./image:TAG',
  );
  const connection = await connectionFor(options, io, source);
  const concurrency = numberOption(options, 'concurrency');
  const result = await interruptible(io, 'pull', () =>
    pullImage({
      source,
      destination,
      connection,
      ...(concurrency === undefined ? {} : { concurrency }),
      onEvent: pushProgress(io, 'pulling'),
    }),
  );
  return { json: result, text: pullLines(result) };
}

/** `registry-push copy SOURCE DESTINATION`: registry to registry, each side with its own login. */
export async function copyCommand(
  options: Options,
  io: Io,
  positionals: readonly string[],
): Promise<CommandResult> {
  const [source, destination] = twoArguments(
    'copy',
    positionals,
    'registry-push copy docker://HOST1/PROJECT/NAME:TAG docker://HOST2/PROJECT/NAME:TAG',
  );
  const sourceConnection = await connectionFor(sideOptions(options, 'src'), io, source);
  const destinationConnection = await connectionFor(sideOptions(options, 'dest'), io, destination);
  const concurrency = numberOption(options, 'concurrency');
  const result = await interruptible(io, 'copy', () =>
    copyImage({
      source,
      destination,
      sourceConnection,
      destinationConnection,
      ...(concurrency === undefined ? {} : { concurrency }),
      onEvent: pushProgress(io, 'copying'),
    }),
  );
  return { json: result, text: copyLines(result) };
}
