import { registryStatus, type RegistryStatus } from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import { caOption, type CommandResult, type Io } from '../context.js';
import { stringOption, type Options } from '../options.js';

/** `label  value` rows, with continuation lines indented under the value. */
export function table(rows: [string, string | string[]][]): string[] {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.flatMap(([label, value]) => {
    const lines = Array.isArray(value) ? value : [value];
    return (lines.length === 0 ? ['-'] : lines).map(
      (line, i) => `${(i === 0 ? label : '').padEnd(width)}${line}`,
    );
  });
}

function statusRows(status: RegistryStatus): [string, string | string[]][] {
  const storage = status.storage.kind === undefined ? 'none' : status.storage.kind;
  const storageDetail = [status.storage.location, status.storage.managementState].filter(Boolean).join(', ');
  const replicas = status.replicas;
  return [
    ['management state', status.managementState],
    ['storage', storageDetail === '' ? storage : `${storage} (${storageDetail})`],
    ['read-only', status.readOnly ? 'yes: pushes and deletes are refused' : 'no'],
    [
      'replicas',
      [
        `${replicas.ready}/${replicas.desired} ready${replicas.source === 'operator' ? " (operator's count; pods not readable)" : ''}`,
        ...replicas.pods.map((pod) => `  ${pod.name} ${pod.phase}${pod.ready ? ' ready' : ' not ready'}`),
      ],
    ],
    ['rollout strategy', status.rolloutStrategy],
    [
      'routes',
      status.routes.map(
        (route) =>
          `${route.name} (${route.kind}) ${route.host ?? '-'} ${route.admitted === true ? 'admitted' : route.admitted === false ? 'NOT admitted' : 'unknown'}: ${route.summary}`,
      ),
    ],
    [
      'conditions',
      status.conditions.map(
        (c) => `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`,
      ),
    ],
    [
      'image pruner',
      status.pruner === undefined
        ? 'not readable'
        : `schedule ${status.pruner.schedule}${status.pruner.suspended ? ', SUSPENDED' : ''}; last run: ${status.pruner.lastResult}`,
    ],
    [
      'metrics',
      `${status.metrics.state}${status.metrics.host ? ` at ${status.metrics.host}` : ''}: ${status.metrics.detail}`,
    ],
    ['notes', status.notes],
  ];
}

/** `registry-push status`: the registry's state as an admin sees it. */
export async function statusCommand(options: Options, io: Io): Promise<CommandResult> {
  const host = stringOption(options, 'registry');
  const caPem = caOption(options);
  const status = await registryStatus(clusterClient(options, io), {
    ...(host === undefined ? {} : { host }),
    ...(caPem === undefined ? {} : { caPem }),
  });
  return { json: status, text: table(statusRows(status)) };
}
