import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  preflightPush,
  readAuthCredentials,
  registryLogout,
  removeAuthEntrySync,
  uninstallTrust,
  uninstallTrustSync,
  type RegistryLogin,
  type TrustInstallation,
} from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import { required, type CommandResult, type Io } from '../context.js';
import { interruptible, type InterruptCleanup } from '../interrupt.js';
import { stringOption, type Options } from '../options.js';
import { exposeFromOptions } from './expose.js';
import { logIn, loginStatePath } from './login.js';
import { pushLines, runPush } from './push.js';
import { establishTrust } from './trust.js';

/**
 * `registry-push all`: the action's flow for any CI system — expose (or discover) the registry, trust its
 * certificate, check push rights, log in, push — then remove the auth file and cert dir it wrote.
 */
export async function allCommand(options: Options, io: Io): Promise<CommandResult> {
  const namespace = required(options, 'namespace');
  const image = required(options, 'image');
  const source = required(options, 'source');
  const client = clusterClient(options, io);
  const given = stringOption(options, 'registry');
  const exposed = given === undefined ? await exposeFromOptions(client, options, io) : undefined;
  const host = given ?? exposed?.host ?? '';
  io.stderr(`registry: ${host}${exposed === undefined ? ' (given)' : ` (${exposed.source})`}`);
  let installation: TrustInstallation | undefined;
  let login: RegistryLogin | undefined;
  const cleanUp = stringOption(options, 'logout') !== 'false';
  // Cancelled (SIGINT/SIGTERM): remove what was written, as the finally below does when the run ends.
  const onInterrupt = (): InterruptCleanup =>
    cleanUp
      ? {
          more: () => [
            ...(login === undefined ? [] : interruptedLogout(login)),
            ...(installation === undefined ? [] : uninstallTrustSync(installation)),
          ],
        }
      : { removeTemporaries: false };
  return interruptible(
    io,
    'all',
    async () => {
      try {
        const established = await establishTrust(options, io, host);
        installation = established.installation;
        await preflightPush(client, namespace);
        login = await logIn(options, io, host, {
          caPem: established.trust.caPem,
          certDir: installation?.certDir,
        });
        const stored = await readAuthCredentials(login.authFile, host);
        const result = await runPush(options, io, {
          source,
          target: `${host}/${namespace}/${image}`,
          credentials: stored === undefined ? { kind: 'anonymous' } : { kind: 'basic', ...stored },
          authFile: login.authFile,
          ...(established.trust.caPem === undefined ? {} : { caPem: established.trust.caPem }),
          ...(installation === undefined ? {} : { certDir: installation.certDir }),
        });
        return {
          json: {
            registry: host,
            registrySource: exposed?.source ?? 'input',
            ...result,
            ...(cleanUp ? {} : { authFile: login.authFile, certDir: installation?.certDir }),
          },
          text: [
            `registry: ${host}`,
            ...pushLines(result),
            ...(cleanUp ? [] : keptLines(login, installation)),
          ],
          warnings: [...(exposed?.warnings ?? []), ...established.trust.warnings, ...login.warnings],
        };
      } finally {
        if (cleanUp) {
          if (login !== undefined) {
            await registryLogout(login);
            rmSync(loginStatePath(login.authFile), { force: true });
          }
          if (installation !== undefined) await uninstallTrust(installation);
        }
      }
    },
    onInterrupt,
  );
}

/** The login's files, removed synchronously; named for the interrupt report. */
function interruptedLogout(login: RegistryLogin): string[] {
  rmSync(loginStatePath(login.authFile), { force: true });
  const outcome = removeAuthEntrySync(login.entry);
  if (outcome === 'removed-directory') return [dirname(login.authFile)];
  if (outcome === 'removed-entry') return [`the ${login.host} entry of ${login.authFile}`];
  return [];
}

/** Where the files kept for later steps (`--logout false`) are, as `login` and `trust` say it. */
function keptLines(login: RegistryLogin, installation: TrustInstallation | undefined): string[] {
  return [
    `authfile: ${login.authFile}`,
    ...(installation === undefined ? [] : [`cert-dir: ${installation.certDir}`]),
  ];
}
