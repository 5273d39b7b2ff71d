import { readFileSync } from 'node:fs';
import { registryMetrics, registryTrust, type RegistryMetrics } from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import { caOption, tlsVerify, type CommandResult, type Io } from '../context.js';
import { UsageError, stringOption, type Options } from '../options.js';
import { registryHost } from './trust.js';
import { table } from './status.js';

function breakdown(record: Record<string, number>): string {
  const parts = Object.entries(record).map(([key, value]) => `${key}: ${value}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

function metricsText(metrics: RegistryMetrics): string[] {
  const { summary } = metrics;
  const labels = (values: Record<string, string>): string => {
    const text = Object.entries(values)
      .map(([key, value]) => `${key}="${value}"`)
      .join(',');
    return text === '' ? '' : `{${text}}`;
  };
  return [
    ...table([
      ['registry', metrics.host],
      ['requests', `${summary.requests.total}${breakdown(summary.requests.byCode)}`],
      ['in flight', summary.inFlight === undefined ? 'not reported' : String(summary.inFlight)],
      ['digest cache', `${summary.digestCache.hit} hits, ${summary.digestCache.miss} misses`],
      [
        'storage errors',
        summary.storageErrors.total === 0
          ? 'none'
          : `${summary.storageErrors.total}${breakdown(summary.storageErrors.byOperation)}`,
      ],
    ]),
    '',
    ...metrics.samples.map((sample) => `${sample.name}${labels(sample.labels)} ${sample.value}`),
  ];
}

/**
 * The legacy metrics secret from a file or stdin (`-`), never from argv: the registry takes it in place of
 * a token, as the Bearer value or the Basic password.
 */
function metricsSecret(file: string | undefined, io: Io): string | undefined {
  if (file === undefined) return undefined;
  let value: string;
  if (file === '-') {
    if (io.readStdin === undefined)
      throw new UsageError('--metrics-secret-file -: there is no stdin to read');
    value = io.readStdin();
  } else {
    try {
      value = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(
        `--metrics-secret-file: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  value = value.trimEnd();
  if (value === '') throw new UsageError(`--metrics-secret-file: ${file === '-' ? 'stdin' : file} is empty`);
  return value;
}

/** `registry-push metrics`: the registry's `imageregistry_*` series of interest, read with the caller's token. */
export async function metricsCommand(options: Options, io: Io): Promise<CommandResult> {
  const client = clusterClient(options, io);
  const host = await registryHost(options, io);
  const verify = tlsVerify(options);
  const caPem = caOption(options) ?? (verify ? (await registryTrust({ host, client })).caPem : undefined);
  const basicUsername = stringOption(options, 'basic-auth-user');
  const secret = metricsSecret(stringOption(options, 'metrics-secret-file'), io);
  const metrics = await registryMetrics({
    host,
    client,
    ...(secret === undefined ? {} : { token: secret }),
    ...(basicUsername === undefined ? {} : { basicUsername }),
    tlsVerify: verify,
    ...(caPem === undefined ? {} : { caPem }),
  });
  return { json: metrics, text: metricsText(metrics) };
}
