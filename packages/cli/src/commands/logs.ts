import { registryLogs } from '@registry-push/core';
import { clusterAccess, clusterClient } from '../cluster.js';
import type { CommandResult, Io } from '../context.js';
import { UsageError, stringOption, type Options } from '../options.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1, ms: 0.001 };

/** `--since 1h30m` in whole seconds (rounded up, at least 1), as kubectl turns a duration into sinceSeconds. */
export function sinceSeconds(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)];
  if (!/^((\d+(\.\d+)?)(h|ms|m|s))+$/.test(text) || parts.length === 0) {
    throw new UsageError(
      `--since must be a duration such as 30s, 5m, 2h or 1h30m, not "${text.slice(0, 40)}"`,
    );
  }
  const seconds = parts.reduce(
    (sum, [, amount = '0', unit = 's']) => sum + Number(amount) * (UNIT_SECONDS[unit] ?? 1),
    0,
  );
  if (seconds <= 0) throw new UsageError('--since must be longer than 0s');
  return Math.ceil(seconds);
}

function tailLines(options: Options): number | undefined {
  const text = stringOption(options, 'tail');
  if (text === undefined || text === '-1') return undefined;
  if (!/^\d{1,9}$/.test(text))
    throw new UsageError(`--tail must be a whole number (or -1 for all), not "${text.slice(0, 20)}"`);
  return Number(text);
}

function sinceOptions(options: Options): { sinceSeconds?: number; sinceTime?: string } {
  const since = stringOption(options, 'since');
  const sinceTime = stringOption(options, 'since-time');
  if (since !== undefined && sinceTime !== undefined) {
    throw new UsageError('--since and --since-time cannot be used together: give one');
  }
  if (sinceTime !== undefined) {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(sinceTime)) {
      throw new UsageError(
        `--since-time must be an RFC 3339 time such as 2026-12-03T10:00:00Z, not "${sinceTime.slice(0, 40)}"`,
      );
    }
    return { sinceTime };
  }
  return since === undefined ? {} : { sinceSeconds: sinceSeconds(since) };
}

/**
 * `registry-push logs`: the registry pods' logs, printed as they arrive (with `[pod]` in front when there
 * are several pods; JSON lines `{"pod","text"}` with --output json). --follow keeps printing until the pods
 * are gone or the command is interrupted.
 */
export async function logsCommand(options: Options, io: Io): Promise<CommandResult> {
  const tail = tailLines(options);
  const since = sinceOptions(options);
  const pod = stringOption(options, 'pod');
  const json = options.output === 'json';
  const client = clusterClient(options, io);
  let several = pod === undefined;
  const result = await registryLogs({
    client,
    access: clusterAccess(options, io),
    ...(pod === undefined ? {} : { pod }),
    ...(options.follow === true ? { follow: true } : {}),
    ...since,
    ...(tail === undefined ? {} : { tailLines: tail }),
    ...(options.timestamps === true ? { timestamps: true } : {}),
    onPods: (pods) => {
      several = pods.length > 1;
    },
    onLine: ({ pod: from, text }) =>
      io.stdout(json ? JSON.stringify({ pod: from, text }) : several ? `[${from}] ${text}` : text),
  });
  await client.close();
  return { json: result, text: [], streamed: true };
}
