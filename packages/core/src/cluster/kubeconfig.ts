import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { RegistryPushError } from '../errors.js';

/** How to reach the cluster. The first complete source wins: server+token, kubeconfig, in-cluster. */
export interface ClusterAccessOptions {
  /** API server URL, used with `token`. */
  server?: string;
  /** Bearer token for `server` (an OpenShift `sha256~` token or a service-account JWT). */
  token?: string;
  /** PEM of the CA that signed the API server's certificate (with `server`). */
  caPem?: string;
  /** Skip TLS verification of the API server (with `server`); for throwaway clusters only. */
  insecureSkipTlsVerify?: boolean;
  /** A kubeconfig path or its YAML/JSON content. Defaults to `$KUBECONFIG`, then `~/.kube/config`. */
  kubeconfig?: string;
  /**
   * How the user gave `kubeconfig`, for messages: `--kubeconfig` reads "The --kubeconfig value is …". The
   * value itself is never quoted unless it is plainly a path.
   */
  kubeconfigName?: string;
  /** The kubeconfig context to use instead of its current one. */
  context?: string;
  /** Use the pod's service account even if a kubeconfig exists. */
  inCluster?: boolean;
  /** The environment to read `KUBECONFIG`, `HOME` and `KUBERNETES_SERVICE_*` from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/** Which source the access came from, for logs. */
export type ClusterAccessSource = 'server-token' | 'kubeconfig' | 'in-cluster';

/** A loaded configuration and where it came from. */
export interface LoadedAccess {
  kubeConfig: KubeConfig;
  source: ClusterAccessSource;
  /** The API server URL. */
  server: string;
  /** The kubeconfig path, when read from a file. */
  path?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A kubeconfig given inline rather than as a path: YAML or JSON content has a newline or a brace. */
function isInlineKubeconfig(value: string): boolean {
  return value.includes('\n') || value.trimStart().startsWith('{');
}

/**
 * Whether a value that names no file may be quoted back as a path. Anything else could be kubeconfig
 * content flattened onto one line (`echo $KUBECONFIG_CONTENT`), a token, or a key, so it is never echoed:
 * only short runs of path characters, and not a JWT (`eyJ…`, which has only such characters).
 */
function isPlainlyPath(value: string): boolean {
  return /^[\w./@+-]{1,160}$/.test(value) && !value.startsWith('eyJ');
}

function existsAsEntry(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function fromServerToken(options: ClusterAccessOptions & { server: string; token: string }): KubeConfig {
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new RegistryPushError('KUBECONFIG_INVALID', `The API server "${options.server}" is not a URL.`, {
      hint: 'Give it as https://api.<cluster>:6443.',
    });
  }
  if (url.protocol !== 'https:') {
    throw new RegistryPushError('KUBECONFIG_INVALID', `The API server "${options.server}" must use https.`, {
      hint: 'OpenShift API servers listen on https://api.<cluster>:6443.',
    });
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser(
    {
      name: 'cluster',
      server: options.server,
      skipTLSVerify: options.insecureSkipTlsVerify === true,
      ...(options.caPem === undefined ? {} : { caData: Buffer.from(options.caPem).toString('base64') }),
    },
    { name: 'user', token: options.token },
  );
  return kubeConfig;
}

/** The error for a value that is neither a file nor parseable content; it never quotes the value. */
function neitherFileNorContent(value: string, name: string): RegistryPushError {
  if (isPlainlyPath(value)) {
    return new RegistryPushError('KUBECONFIG_INVALID', `The kubeconfig file ${value} does not exist.`, {
      hint: `Check the ${name} path, or give the kubeconfig content itself.`,
    });
  }
  return new RegistryPushError(
    'KUBECONFIG_INVALID',
    `The ${name} value is neither a readable file nor kubeconfig content (it is not repeated here, as it may hold a token).`,
    {
      hint: 'Give the path of a kubeconfig file, or its whole YAML content with its line breaks (quote it: "$(cat kubeconfig)").',
    },
  );
}

function readKubeconfig(
  value: string,
  name: string,
  context: string | undefined,
): { kubeConfig: KubeConfig; path?: string } {
  const kubeConfig = new KubeConfig();
  const inline = isInlineKubeconfig(value);
  if (!inline && !existsAsEntry(value)) throw neitherFileNorContent(value, name);
  try {
    if (inline) kubeConfig.loadFromString(value);
    else kubeConfig.loadFromFile(value);
  } catch (error) {
    // The cause is left out: a YAML parser's message quotes the text around the fault, which may be a token.
    const code = (error as { code?: string }).code;
    const where = inline ? 'The kubeconfig content' : `The kubeconfig file ${value}`;
    const reason =
      code !== undefined && code.startsWith('E') ? `cannot be read (${code})` : 'could not be parsed';
    throw new RegistryPushError('KUBECONFIG_INVALID', `${where} ${reason}.`, {
      hint: 'Point it at a valid kubeconfig (as written by `oc login`).',
    });
  }
  if (context !== undefined) {
    if (kubeConfig.getContextObject(context) === null) {
      throw new RegistryPushError('KUBECONFIG_INVALID', `The kubeconfig has no context "${context}".`, {
        hint: `Use one of: ${kubeConfig
          .getContexts()
          .map((c) => c.name)
          .join(', ')}.`,
      });
    }
    kubeConfig.setCurrentContext(context);
  }
  return inline ? { kubeConfig } : { kubeConfig, path: value };
}

function defaultKubeconfigPath(env: NodeJS.ProcessEnv): string | undefined {
  const variable = env.KUBECONFIG;
  // Content put in $KUBECONFIG by mistake is taken whole, never split on the colons of its `key: value`s.
  if (variable !== undefined && /\s|\{/.test(variable.trim())) return variable;
  const fromEnv = variable?.split(':').find((path) => path !== '');
  if (fromEnv !== undefined) return fromEnv;
  const home = env.HOME ?? homedir();
  const path = join(home, '.kube', 'config');
  return existsSync(path) ? path : undefined;
}

function inClusterAvailable(env: NodeJS.ProcessEnv): boolean {
  return (
    env.KUBERNETES_SERVICE_HOST !== undefined &&
    env.KUBERNETES_SERVICE_PORT !== undefined &&
    existsSync(join(SERVICE_ACCOUNT_DIR, 'token'))
  );
}

function inClusterConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromCluster();
  return kubeConfig;
}

type Loaded = { kubeConfig: KubeConfig; path?: string; source: ClusterAccessSource };

function loadFromServerToken(options: ClusterAccessOptions & { server: string }): Loaded {
  if (options.token === undefined || options.token === '') {
    throw new RegistryPushError('TOKEN_MISSING', `A token is needed with the API server ${options.server}.`, {
      hint: 'Pass the token (for example from `oc whoami -t` or `oc create token <serviceaccount>`).',
    });
  }
  return { kubeConfig: fromServerToken({ ...options, token: options.token }), source: 'server-token' };
}

function loadInCluster(env: NodeJS.ProcessEnv): Loaded {
  if (!inClusterAvailable(env)) {
    throw new RegistryPushError(
      'KUBECONFIG_MISSING',
      'In-cluster access was asked for, but this is not a pod with a service account token.',
      { hint: `Run inside a pod with ${SERVICE_ACCOUNT_DIR}/token mounted, or give a kubeconfig.` },
    );
  }
  return { kubeConfig: inClusterConfig(), source: 'in-cluster' };
}

function loadDefault(options: ClusterAccessOptions, env: NodeJS.ProcessEnv): Loaded {
  const given =
    options.kubeconfig !== undefined && options.kubeconfig !== '' ? options.kubeconfig : undefined;
  const path = given ?? defaultKubeconfigPath(env);
  const name = given === undefined ? '$KUBECONFIG' : (options.kubeconfigName ?? 'kubeconfig');
  if (path !== undefined) return { ...readKubeconfig(path, name, options.context), source: 'kubeconfig' };
  if (inClusterAvailable(env)) return { kubeConfig: inClusterConfig(), source: 'in-cluster' };
  throw new RegistryPushError(
    'KUBECONFIG_MISSING',
    'No cluster access was given: no server and token, no kubeconfig ($KUBECONFIG or ~/.kube/config), and not running in a pod.',
    { hint: 'Give the API server and a token, or a kubeconfig.' },
  );
}

/**
 * Load cluster access from the options, never falling back to an unauthenticated `localhost:8080` the
 * way client-node's `loadFromDefault` does: no source at all is an error that lists what was tried.
 */
export function loadClusterAccess(options: ClusterAccessOptions = {}): LoadedAccess {
  const env = options.env ?? process.env;
  const loaded =
    options.server !== undefined && options.server !== ''
      ? loadFromServerToken({ ...options, server: options.server })
      : options.inCluster === true
        ? loadInCluster(env)
        : loadDefault(options, env);
  const cluster = loaded.kubeConfig.getCurrentCluster();
  if (cluster === null || cluster.server === '') {
    throw new RegistryPushError(
      'KUBECONFIG_INVALID',
      'The kubeconfig has no current context with a cluster server.',
      {
        hint: 'Select a context (`oc config use-context`) or pass one.',
      },
    );
  }
  return {
    kubeConfig: loaded.kubeConfig,
    source: loaded.source,
    server: cluster.server,
    ...(loaded.path === undefined ? {} : { path: loaded.path }),
  };
}

/** Read a file's text, or undefined if it does not exist; used for the service-account namespace. */
export function readOptionalFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The namespace of the pod's service account, when running in a cluster. */
export function inClusterNamespace(): string | undefined {
  return readOptionalFile(join(SERVICE_ACCOUNT_DIR, 'namespace'))?.trim();
}
