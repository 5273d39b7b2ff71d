import { rmSync, rmdirSync } from 'node:fs';
import { access, constants, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnvironment } from '../child-env.js';
import { defaultCommandRunner, type CommandRunner } from '../ports/command-runner.js';
import { RegistryPushError, isRegistryPushError } from '../errors.js';
import { fileSystemProblem, makeDirectories } from '../make-directories.js';
import { holdTemporary, releaseTemporary } from '../temporary-files.js';

/** Where to install a registry CA. The private cert dir is always written; the others only when asked. */
export interface InstallTrustOptions {
  /** The registry `host[:port]` (the directory name tools look up). */
  host: string;
  caPem: string;
  /**
   * Root of a private `certs.d` tree: the CA goes to `<root>/<host>/ca.crt`, the layout of
   * `/etc/containers/certs.d` and `/etc/docker/certs.d`. Default: a new private temporary directory.
   */
  certsRoot?: string;
  /** Also write `/etc/docker/certs.d/<host>/ca.crt` (needs write access there; never uses sudo). */
  docker?: boolean;
  /** Also add the CA to the system store and run its update command (needs root; never uses sudo). */
  system?: boolean;
  /** Override the docker certs.d root (default `/etc/docker/certs.d`). */
  dockerCertsRoot?: string;
  /** Override the system anchor directory and update command (default: detected Debian or RHEL layout). */
  systemStore?: SystemStore;
  /** Where the system store's update command runs (default: a child process of this one). */
  runner?: CommandRunner;
}

/** A system trust store layout. */
export interface SystemStore {
  anchorsDir: string;
  updateCommand: readonly string[];
}

/** What was written, so {@link uninstallTrust} removes exactly that. */
export interface TrustInstallation {
  host: string;
  /** The directory to pass as `--cert-dir` to skopeo, podman and buildah: `<certsRoot>/<host>`. */
  certDir: string;
  /** The `certs.d` root holding `<host>/ca.crt`. */
  certsRoot: string;
  /** Whether {@link installTrust} created `certsRoot` itself (then it is removed whole). */
  ownsCertsRoot: boolean;
  /** Every file written, in order. */
  files: string[];
  /** Directories created (removed when empty). */
  directories: string[];
  /** The system update command to re-run after removing the system anchor. */
  systemUpdate?: readonly string[];
}

/** Options of {@link uninstallTrust}. */
export interface UninstallTrustOptions {
  /** Where the system store's update command runs (default: a child process of this one). */
  runner?: CommandRunner;
}

const SYSTEM_STORES: readonly SystemStore[] = [
  { anchorsDir: '/usr/local/share/ca-certificates', updateCommand: ['update-ca-certificates'] },
  { anchorsDir: '/etc/pki/ca-trust/source/anchors', updateCommand: ['update-ca-trust', 'extract'] },
];

/** Docker and containers/image name the directory `host:port`; a file name cannot hold `:` everywhere. */
function safeFileStem(host: string): string {
  return host.replace(/[^A-Za-z0-9.-]/g, '_');
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function detectSystemStore(): Promise<SystemStore | undefined> {
  for (const store of SYSTEM_STORES) {
    try {
      await access(store.anchorsDir);
      return store;
    } catch {
      // not this distribution's layout
    }
  }
  return undefined;
}

/** Create `dir` and any missing parents, recording each one created so that uninstall removes them. */
async function mkdirTracked(dir: string, installation: TrustInstallation, mode?: number): Promise<void> {
  installation.directories.push(...(await makeDirectories(dir, mode)));
}

/** A file system error while writing the private cert dir, as one line naming the path and what to do. */
function certDirError(error: unknown, certsRoot: string): unknown {
  const problem = isRegistryPushError(error) ? undefined : fileSystemProblem(error);
  if (problem === undefined) return error;
  const path = (error as NodeJS.ErrnoException).path ?? certsRoot;
  return new RegistryPushError(
    'TRUST_STORE_UNWRITABLE',
    `The certificate directory ${certsRoot} cannot be written: ${path}: ${problem}.`,
    {
      hint: 'Give --cert-dir a directory you can write (e.g. under $RUNNER_TEMP or $HOME), or leave it out for a private temporary one.',
      details: { path: certsRoot },
    },
  );
}

async function installDocker(options: InstallTrustOptions, installation: TrustInstallation): Promise<void> {
  const root = options.dockerCertsRoot ?? '/etc/docker/certs.d';
  const parent = join(root, '..');
  if (!(await writable(root)) && !(await writable(parent))) {
    throw new RegistryPushError(
      'TRUST_STORE_UNWRITABLE',
      `${root} is not writable by this user, so Docker cannot be told to trust ${options.host}.`,
      {
        hint: 'Run as root, or push with the native or skopeo tool, which use a private certificate directory instead.',
      },
    );
  }
  const dir = join(root, options.host);
  await mkdirTracked(dir, installation);
  const file = join(dir, 'ca.crt');
  await writeFile(file, options.caPem, { mode: 0o644 });
  installation.files.push(file);
}

async function installSystem(options: InstallTrustOptions, installation: TrustInstallation): Promise<void> {
  const store = options.systemStore ?? (await detectSystemStore());
  if (store === undefined) {
    throw new RegistryPushError(
      'TRUST_STORE_UNWRITABLE',
      'No known system trust store (Debian or RHEL layout) was found.',
      {
        hint: 'Use the private certificate directory (the default) instead of the system store.',
      },
    );
  }
  if (!(await writable(store.anchorsDir))) {
    throw new RegistryPushError(
      'TRUST_STORE_UNWRITABLE',
      `${store.anchorsDir} is not writable by this user.`,
      {
        hint: 'Run as root, or leave the system store alone: the private certificate directory is enough for pushing.',
      },
    );
  }
  const file = join(store.anchorsDir, `registry-push-${safeFileStem(options.host)}.crt`);
  await writeFile(file, options.caPem, { mode: 0o644 });
  installation.files.push(file);
  installation.systemUpdate = store.updateCommand;
  await runUpdate(store.updateCommand, options.runner);
}

async function runUpdate(command: readonly string[], runner = defaultCommandRunner): Promise<void> {
  const [program, ...args] = command;
  if (program === undefined) return;
  let failure: string | undefined;
  try {
    const ended = await runner.run({
      program,
      args,
      timeoutMs: 120_000,
      env: childEnvironment('trust-update'),
    });
    if (ended.exitCode !== 0) failure = ended.signal ?? `exit ${String(ended.exitCode)}`;
  } catch (error) {
    failure = (error as NodeJS.ErrnoException).code ?? 'not started';
  }
  if (failure !== undefined) {
    throw new RegistryPushError('TRUST_STORE_UNWRITABLE', `${command.join(' ')} failed (${failure}).`, {
      hint: 'Check the system trust store tools; the private certificate directory works without them.',
    });
  }
}

/**
 * Install a registry CA scoped to its host, without sudo: always into a private `certs.d` tree for
 * `--cert-dir`, and into Docker's or the system store only when asked and allowed.
 */
export async function installTrust(options: InstallTrustOptions): Promise<TrustInstallation> {
  const ownsCertsRoot = options.certsRoot === undefined;
  const certsRoot = options.certsRoot ?? (await mkdtemp(join(tmpdir(), 'registry-push-certs-')));
  // Removed even if the run is interrupted (see temporary-files.ts).
  if (ownsCertsRoot) holdTemporary(certsRoot);
  const certDir = join(certsRoot, options.host);
  const installation: TrustInstallation = {
    host: options.host,
    certDir,
    certsRoot,
    ownsCertsRoot,
    files: [],
    directories: [],
  };
  try {
    try {
      await mkdirTracked(certDir, installation, 0o700);
      const file = join(certDir, 'ca.crt');
      await writeFile(file, options.caPem, { mode: 0o644 });
      installation.files.push(file);
    } catch (error) {
      throw certDirError(error, certsRoot);
    }
    if (options.docker === true) await installDocker(options, installation);
    if (options.system === true) await installSystem(options, installation);
    return installation;
  } catch (error) {
    await uninstallTrust(installation, options.runner === undefined ? {} : { runner: options.runner }).catch(
      () => undefined,
    );
    throw error;
  }
}

/** Remove exactly what {@link installTrust} wrote (files, then the directories it created if empty). */
export async function uninstallTrust(
  installation: TrustInstallation,
  options: UninstallTrustOptions = {},
): Promise<void> {
  for (const file of [...installation.files].reverse()) await rm(file, { force: true });
  for (const dir of [...installation.directories].reverse()) {
    await rmdir(dir).catch(() => undefined);
  }
  if (installation.ownsCertsRoot) {
    await rm(installation.certsRoot, { recursive: true, force: true });
    releaseTemporary(installation.certsRoot);
  }
  if (installation.systemUpdate !== undefined) await runUpdate(installation.systemUpdate, options.runner);
}

/**
 * {@link uninstallTrust}, synchronously, for a signal handler that must finish before the process exits:
 * files and directories only (a system store update is a child process, left for the next run to redo);
 * never throws. Returns the paths removed.
 */
export function uninstallTrustSync(installation: TrustInstallation): string[] {
  const removed: string[] = [];
  const attempt = (path: string, remove: () => void): void => {
    try {
      remove();
      removed.push(path);
    } catch {
      // an unremovable leftover must not stop the rest
    }
  };
  for (const file of [...installation.files].reverse()) attempt(file, () => rmSync(file, { force: true }));
  for (const dir of [...installation.directories].reverse()) attempt(dir, () => rmdirSync(dir));
  if (!installation.ownsCertsRoot) return removed;
  // A private root is removed whole, and named alone rather than with every file in it.
  const root = installation.certsRoot;
  attempt(root, () => rmSync(root, { recursive: true, force: true }));
  releaseTemporary(root);
  return removed.filter((path) => !path.startsWith(`${root}/`));
}
