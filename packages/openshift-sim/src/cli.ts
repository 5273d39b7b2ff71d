#!/usr/bin/env node
// openshift-sim start --dir DIR: runs a simulated cluster in the foreground, prints one JSON line when
// ready, and stops it (and every child) on SIGTERM or SIGINT.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type ClusterOptions, type UserSpec } from './cluster.js';
import { ROLE_NAMES, type RoleName } from './api/rbac.js';
import { START_OPTIONS, completionScript, usage } from './cli-options.js';

const USAGE = usage();

class UsageError extends Error {}

function parseUser(text: string): UserSpec {
  const [name, roles] = text.split('=', 2);
  if (!name || !roles) throw new UsageError(`--user ${text}: expected NAME=ROLE[@NAMESPACE][,...]`);
  return {
    name,
    roles: roles.split(',').map((entry) => {
      const [role, namespace] = entry.split('@', 2);
      if (!ROLE_NAMES.includes(role as RoleName)) {
        throw new UsageError(
          `--user ${text}: unknown role "${role ?? ''}"; known roles: ${ROLE_NAMES.join(', ')}`,
        );
      }
      return { role: role as RoleName, ...(namespace ? { namespace } : {}) };
    }),
  };
}

function oneOf<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T))
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, not "${value}"`);
  return value as T;
}

/** The flags of `start` as parseArgs types them. */
type StartFlags = ReturnType<typeof parseArgs<{ options: typeof START_OPTIONS; allowPositionals: true }>>;

function parseStart(argv: string[]): StartFlags {
  return parseArgs({ args: argv, allowPositionals: true, options: START_OPTIONS });
}

function optionsFrom(argv: string[]): ClusterOptions & { dir: string } {
  const { values, positionals } = parseStart(argv);
  if (values.help === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (positionals[0] !== 'start' || positionals.length !== 1)
    throw new UsageError('the only command is "start"');
  if (values.dir === undefined) throw new UsageError('--dir is required');
  return { dir: resolve(values.dir), ...clusterOptionsFrom(values) };
}

/** The cluster's options from the parsed flags, each checked; an absent flag leaves the cluster default. */
function clusterOptionsFrom(values: StartFlags['values']): ClusterOptions {
  const delay = values['route-admission-delay'];
  const port = values['api-port'];
  const managementState = oneOf(
    '--management-state',
    values['management-state'],
    START_OPTIONS['management-state'].choices,
  );
  const storage = oneOf('--storage', values.storage, START_OPTIONS.storage.choices);
  const routerMode = oneOf('--router-mode', values['router-mode'], START_OPTIONS['router-mode'].choices);
  if (delay !== undefined && !/^\d+$/.test(delay))
    throw new UsageError('--route-admission-delay takes milliseconds');
  if (port !== undefined && !/^\d+$/.test(port)) throw new UsageError('--api-port takes a port number');
  return {
    ...(values['apps-domain'] !== undefined ? { appsDomain: values['apps-domain'] } : {}),
    ...(managementState !== undefined ? { managementState } : {}),
    ...(storage !== undefined ? { storage } : {}),
    readOnly: values['read-only'] === true,
    defaultRoute: values['default-route'] === true,
    customDefaultCertificate: values['custom-default-certificate'] === true,
    ...(delay !== undefined ? { routeAdmissionDelayMs: Number(delay) } : {}),
    ...(port !== undefined ? { apiPort: Number(port) } : {}),
    ...(routerMode !== undefined ? { routerMode } : {}),
    users: (values.user ?? []).map(parseUser),
    namespaces: values.namespace ?? [],
  };
}

/** The version of the package this command belongs to: the package.json next to dist/. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

async function main(): Promise<void> {
  const [first, ...others] = process.argv.slice(2);
  if ((first === '--version' || first === '-V') && others.length === 0) {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  if (first === 'completion') {
    const script = others.length === 1 ? completionScript(others[0]) : undefined;
    if (script === undefined) {
      process.stderr.write('openshift-sim completion: name one shell, bash or zsh\n');
      process.exitCode = 2;
      return;
    }
    process.stdout.write(script);
    return;
  }
  let options: ClusterOptions & { dir: string };
  try {
    options = optionsFrom(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`openshift-sim: ${(err as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const cluster = await startCluster(options);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`openshift-sim: ${signal}, stopping\n`);
    cluster.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`openshift-sim: stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.stdout.write(`${JSON.stringify(cluster.describe())}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `openshift-sim: could not start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exitCode = 1;
});
