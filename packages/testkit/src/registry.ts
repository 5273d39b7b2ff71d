import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { htpasswdFile } from './htpasswd.js';
import { probeStatus } from './http.js';
import { createCertificateAuthority } from './pki.js';
import { freePort } from './ports.js';
import { startOnFreePort, startServiceProcess } from './process.js';
import { makeWorkDir, removeWorkDir } from './workdir.js';

/** Options for {@link startRegistry}. */
export interface RegistryOptions {
  /** Serve HTTPS with a certificate from a freshly generated CA (returned as `caPem`). */
  tls?: boolean;
  /** Require Basic auth with these credentials (htpasswd, bcrypt). */
  auth?: { username: string; password: string };
  /** Reject pushes and deletes (`maintenance.readonly`), as a registry in read-only mode does. */
  readOnly?: boolean;
  /** Use this storage directory instead of a new temporary one; it is then kept on `stop()`. */
  storageDir?: string;
  /** Keep the temporary storage directory after `stop()` (for post-mortems). */
  keepStorage?: boolean;
}

/** A running distribution registry owned by the caller. */
export interface RunningRegistry {
  /** `127.0.0.1:<port>`: the host part of image references. */
  readonly host: string;
  readonly port: number;
  /** `http(s)://127.0.0.1:<port>` */
  readonly url: string;
  /** Filesystem storage root (`docker/registry/v2/...` lives under it). */
  readonly storageDir: string;
  /** PEM of the CA that signed the server certificate, when `tls` was set. */
  readonly caPem?: string;
  /** A directory holding `ca.crt`, usable as skopeo's `--dest-cert-dir`/`--src-cert-dir`, when `tls` was set. */
  readonly certDir?: string;
  readonly pid: number;
  readonly logFile: string;
  /** Stops the registry by PID and removes its temporary files (storage unless kept). */
  stop(): Promise<void>;
}

/**
 * Where the distribution registry's filesystem driver keeps a blob (its `data` file is inside), under a
 * storage root such as {@link RunningRegistry.storageDir}: `docker/registry/v2/blobs/sha256/<2 hex>/<hex>`.
 */
export function registryBlobDir(storageDir: string, digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return join(storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex);
}

interface RegistryFiles {
  certFile?: string;
  keyFile?: string;
  htpasswdPath?: string;
}

function registryConfig(port: number, storageDir: string, files: RegistryFiles, readOnly: boolean): string {
  // YAML written by hand: JSON is valid YAML, and the registry's parser reads it.
  const config = {
    version: 0.1,
    log: { level: 'info', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: storageDir },
      delete: { enabled: true },
      maintenance: {
        uploadpurging: { enabled: false },
        readonly: { enabled: readOnly },
      },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(files.certFile && files.keyFile
        ? { tls: { certificate: files.certFile, key: files.keyFile } }
        : {}),
    },
    ...(files.htpasswdPath
      ? { auth: { htpasswd: { realm: 'registry-push-testkit', path: files.htpasswdPath } } }
      : {}),
    health: { storagedriver: { enabled: false } },
  };
  return JSON.stringify(config, null, 2);
}

/** The child's environment without REGISTRY_* variables, which would override the config file. */
function registryEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('REGISTRY_')));
}

/**
 * Starts Debian's `docker-registry` (the CNCF distribution registry) on a free 127.0.0.1 port with
 * filesystem storage in a temporary directory and deletes enabled; optionally TLS (own CA) and htpasswd.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const binary = requireBinary('docker-registry');
  const workDir = await makeWorkDir('registry');
  // Storage lives apart from the work directory (keys, config, log) so it can outlive the process.
  const storageDir = options.storageDir ?? (await makeWorkDir('registry-storage'));
  const removeStorage = options.storageDir === undefined && options.keepStorage !== true;
  const cleanUp = async (): Promise<void> => {
    await removeWorkDir(workDir);
    if (removeStorage) await removeWorkDir(storageDir);
  };
  try {
    await mkdir(storageDir, { recursive: true });
    const files: RegistryFiles = {};
    let caPem: string | undefined;
    let certDir: string | undefined;
    if (options.tls) {
      const ca = await createCertificateAuthority('registry-push testkit registry CA');
      const leaf = await ca.issue({ commonName: '127.0.0.1', altNames: ['127.0.0.1', 'localhost'] });
      caPem = ca.certPem;
      files.certFile = join(workDir, 'tls.crt');
      files.keyFile = join(workDir, 'tls.key');
      await writeFile(files.certFile, leaf.certPem + ca.certPem, { mode: 0o600 });
      await writeFile(files.keyFile, leaf.keyPem, { mode: 0o600 });
      certDir = join(workDir, 'certs.d');
      await mkdir(certDir, { mode: 0o700 });
      await writeFile(join(certDir, 'ca.crt'), caPem, { mode: 0o600 });
    }
    if (options.auth) {
      files.htpasswdPath = join(workDir, 'htpasswd');
      await writeFile(files.htpasswdPath, htpasswdFile({ [options.auth.username]: options.auth.password }), {
        mode: 0o600,
      });
    }
    const scheme = options.tls ? 'https' : 'http';
    return await startOnFreePort(async (port) => {
      const configFile = join(workDir, 'config.yml');
      await writeFile(configFile, registryConfig(port, storageDir, files, options.readOnly === true), {
        mode: 0o600,
      });
      const url = `${scheme}://127.0.0.1:${port}`;
      const proc = await startServiceProcess({
        name: 'docker-registry',
        command: binary,
        args: ['serve', configFile],
        workDir,
        env: registryEnv(),
        // Any HTTP answer from /v2/ (200, or 401 with auth) means the API is being served.
        ready: async () => (await probeStatus(`${url}/v2/`, caPem)) !== undefined,
      });
      const running: RunningRegistry = {
        host: `127.0.0.1:${port}`,
        port,
        url,
        storageDir,
        ...(caPem !== undefined ? { caPem } : {}),
        ...(certDir !== undefined ? { certDir } : {}),
        pid: proc.pid,
        logFile: proc.logFile,
        async stop(): Promise<void> {
          await proc.stop();
          await cleanUp();
        },
      };
      return running;
    }, freePort);
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
