import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  RegistryPushError,
  installTrust,
  registryLogin,
  registryLogout,
  type LoginTool,
  type RegistryLogin,
} from '@registry-push/core';
import { clusterClient } from '../cluster.js';
import { caFor, caOption, tlsVerify, tokenOption, type CommandResult, type Io } from '../context.js';
import { interruptible } from '../interrupt.js';
import { stringOption, type Options } from '../options.js';
import { registryHost } from './trust.js';

/** The file next to the auth file that lets `logout` remove exactly what `login` wrote (no secrets in it). */
export function loginStatePath(authFile: string): string {
  return join(dirname(authFile), 'registry-push-login.json');
}

/** Log in; shared by `login` and `all`. */
export async function logIn(
  options: Options,
  io: Io,
  host: string,
  trusted: { caPem?: string; certDir?: string } = {},
): Promise<RegistryLogin> {
  const token = tokenOption(options);
  const username = stringOption(options, 'username');
  const authFile = stringOption(options, 'authfile');
  const tool = stringOption(options, 'login-tool') as LoginTool | undefined;
  // The CA `all` just found, else --ca-file/--ca-data, else the one `trust --cert-dir` installed.
  const caPem = trusted.caPem ?? caFor(options, host);
  // `--cert-dir` names the certs.d root (as for `trust`); the tools want the host's own directory.
  const certsRoot = stringOption(options, 'cert-dir');
  const cert = trusted.certDir ?? (certsRoot === undefined ? undefined : join(certsRoot, host));
  const login = await registryLogin({
    host,
    ...(token === undefined ? { client: clusterClient(options, io) } : { token }),
    ...(username === undefined ? {} : { username }),
    ...(authFile === undefined ? {} : { authFile }),
    ...(tool === undefined ? {} : { tool }),
    ...(caPem === undefined ? {} : { caPem }),
    ...(cert === undefined ? {} : { certDir: cert }),
    tlsVerify: tlsVerify(options),
  });
  writeFileSync(loginStatePath(login.authFile), JSON.stringify({ entry: login.entry }) + '\n', {
    mode: 0o600,
  });
  return login;
}

/** `registry-push login`: verify the token against the registry and write a private auth file. */
export async function loginCommand(options: Options, io: Io): Promise<CommandResult> {
  // Interrupted, it removes the private auth directory it was writing (see interrupt.ts).
  return interruptible(io, 'login', () => loginSteps(options, io));
}

async function loginSteps(options: Options, io: Io): Promise<CommandResult> {
  const host = await registryHost(options, io);
  // A CA given with --ca-file/--ca-data goes into --cert-dir, as `trust --cert-dir` would put it: the
  // login tool (and a later `push --cert-dir`) reads the CA only from there. It is kept even if the login
  // fails, as `trust` would have kept it.
  const certsRoot = stringOption(options, 'cert-dir');
  const given = certsRoot === undefined ? undefined : caOption(options);
  if (certsRoot !== undefined && given !== undefined) await installTrust({ host, caPem: given, certsRoot });
  const login = await logIn(options, io, host);
  return {
    json: login,
    text: [
      `logged in to ${host} as ${login.username} (token from ${login.tokenSource})`,
      `authfile: ${login.authFile}`,
      `use: REGISTRY_AUTH_FILE=${login.authFile} (podman, buildah, skopeo) or DOCKER_CONFIG=${dirname(login.authFile)} (docker)`,
    ],
    warnings: login.warnings,
  };
}

/** `registry-push logout --authfile FILE`: remove what `login` wrote. */
export async function logoutCommand(options: Options): Promise<CommandResult> {
  const authFile = stringOption(options, 'authfile');
  if (authFile === undefined) {
    throw new RegistryPushError('OPTION_INVALID', '--authfile is required: it names the login to undo.', {
      hint: 'Pass the auth file path that `registry-push login` printed.',
    });
  }
  let state: Pick<RegistryLogin, 'entry'>;
  try {
    state = JSON.parse(readFileSync(loginStatePath(authFile), 'utf8')) as Pick<RegistryLogin, 'entry'>;
  } catch {
    throw new RegistryPushError(
      'OPTION_INVALID',
      `${authFile} was not written by \`registry-push login\` (no login record next to it), so it was left alone.`,
      {
        hint: 'Remove the entry with `podman logout` or `docker logout` instead.',
      },
    );
  }
  const message = await registryLogout(state);
  rmSync(loginStatePath(authFile), { force: true });
  return { json: { logout: message }, text: [message] };
}
