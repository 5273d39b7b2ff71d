import { join } from 'node:path';
import {
  DEFAULT_USERNAME,
  RegistryPushError,
  clusterAccessGiven,
  installTrust,
  isRegistryPushError,
  parseSource,
  pushImage,
  readAuthCredentials,
  registryLogin,
  registryLogout,
  resolveToken,
  uninstallTrust,
  type PushResult,
  type PushTool,
  type RegistryCredentials,
} from '@registry-push/core/push';
import { caFor, tlsVerify, tokenOption, type CommandResult, type Io } from '../context.js';
import { pushProgress } from '../progress.js';
import { listOption, numberOption, stringOption, type Options } from '../options.js';

/** What the push needs besides the options: where, as whom, trusting what. */
export interface PushSetup {
  source: string;
  /** `host/project/name[:tag]` */
  target: string;
  credentials: RegistryCredentials;
  caPem?: string;
  /** The host's cert dir for a tool (`<certsRoot>/<host>`). */
  certDir?: string;
  /** An auth file for a tool. */
  authFile?: string;
}

/** The tags from --tag (repeatable) and --tags (list). */
export function tagsOption(options: Options): string[] {
  return [...listOption(options, 'tag'), ...listOption(options, 'tags')];
}

function hostOf(target: string): string {
  return target.slice(0, target.indexOf('/'));
}

/** The target from the second argument, or from --registry, --namespace and --image. */
function targetOption(options: Options, positionals: readonly string[]): string {
  const given = positionals[1];
  if (given !== undefined) return given;
  const registry = stringOption(options, 'registry');
  const namespace = stringOption(options, 'namespace');
  const image = stringOption(options, 'image');
  if (registry === undefined || namespace === undefined || image === undefined) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      'No push target: give HOST/PROJECT/NAME, or --registry, --namespace and --image.',
      {
        hint: 'e.g. registry-push push oci:./image default-route-openshift-image-registry.apps.example.com/demo/app --tag v1',
      },
    );
  }
  return `${registry}/${namespace}/${image}`;
}

function sourceOption(options: Options, positionals: readonly string[]): string {
  const source = positionals[0] ?? stringOption(options, 'source');
  if (source === undefined) {
    throw new RegistryPushError(
      'OPTION_INVALID',
      'No source to push: give it as the first argument or --source.',
      {
        hint: 'e.g. oci:./build/image, oci-archive:image.tar, docker-archive:image.tar, containers-storage:localhost/app:latest',
      },
    );
  }
  return source;
}

/**
 * Credentials: --authfile's entry for the host, else the token (given or the kubeconfig's), else none.
 * Pull and copy (each side of a copy) take theirs the same way.
 */
export async function credentialsOption(
  options: Options,
  io: Io,
  host: string,
): Promise<RegistryCredentials> {
  const authFile = stringOption(options, 'authfile');
  if (authFile !== undefined) {
    const stored = await readAuthCredentials(authFile, host);
    if (stored === undefined) {
      throw new RegistryPushError('OPTION_INVALID', `${authFile} holds no credentials for ${host}.`, {
        hint: 'Run registry-push login for this registry first, or pass a token instead of --authfile.',
      });
    }
    return { kind: 'basic', ...stored };
  }
  const username = stringOption(options, 'username') ?? DEFAULT_USERNAME;
  const token = tokenOption(options);
  if (token !== undefined) return { kind: 'basic', username, password: token };
  // No cluster to ask for a token: push anonymously without loading the Kubernetes client for nothing.
  const server = stringOption(options, 'server');
  const kubeconfig = stringOption(options, 'kubeconfig');
  const given = clusterAccessGiven({
    env: io.env,
    ...(server === undefined ? {} : { server }),
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
  });
  if (!given) return { kind: 'anonymous' };
  try {
    // Only now load cluster access (and the Kubernetes client with it): a push with a token never does.
    const { clusterClient } = await import('../cluster.js');
    const resolved = await resolveToken({ client: clusterClient(options, io) });
    return { kind: 'basic', username, password: resolved.token };
  } catch (error) {
    // No cluster credentials at all: try anonymously; the registry says so if it needs a login.
    if (isRegistryPushError(error, 'KUBECONFIG_MISSING')) return { kind: 'anonymous' };
    throw error;
  }
}

/** Gather what `push` needs from its options. */
export async function pushSetup(
  options: Options,
  io: Io,
  positionals: readonly string[],
): Promise<PushSetup> {
  const source = sourceOption(options, positionals);
  parseSource(source);
  const target = targetOption(options, positionals);
  const host = hostOf(target);
  const caPem = caFor(options, host);
  const certsRoot = stringOption(options, 'cert-dir');
  const authFile = stringOption(options, 'authfile');
  return {
    source,
    target,
    credentials: await credentialsOption(options, io, host),
    ...(caPem === undefined ? {} : { caPem }),
    ...(certsRoot === undefined ? {} : { certDir: join(certsRoot, host) }),
    ...(authFile === undefined ? {} : { authFile }),
  };
}

/** A tool needs files: an auth file and a cert dir; make private temporary ones when none were given. */
async function withToolFiles<T>(
  setup: PushSetup,
  run: (files: { authFile?: string; certDir?: string }) => Promise<T>,
): Promise<T> {
  const host = hostOf(setup.target);
  const certs =
    setup.certDir === undefined && setup.caPem !== undefined
      ? await installTrust({ host, caPem: setup.caPem })
      : undefined;
  const login =
    setup.authFile === undefined && setup.credentials.kind === 'basic'
      ? await registryLogin({
          host,
          token: setup.credentials.password,
          username: setup.credentials.username,
          verify: false,
        })
      : undefined;
  try {
    const authFile = setup.authFile ?? login?.authFile;
    const certDir = setup.certDir ?? certs?.certDir;
    return await run({
      ...(authFile === undefined ? {} : { authFile }),
      ...(certDir === undefined ? {} : { certDir }),
    });
  } finally {
    if (login !== undefined) await registryLogout(login);
    if (certs !== undefined) await uninstallTrust(certs);
  }
}

/** Run the push of a setup with the options' tags, tool, retries and progress display. */
export async function runPush(options: Options, io: Io, setup: PushSetup): Promise<PushResult> {
  const tool = (stringOption(options, 'push-tool') ?? 'native') as 'native' | PushTool;
  const retries = numberOption(options, 'retries');
  const concurrency = numberOption(options, 'concurrency');
  const tags = tagsOption(options);
  const base = {
    source: setup.source,
    target: setup.target,
    ...(tags.length === 0 ? {} : { tags }),
    ...(concurrency === undefined ? {} : { concurrency }),
    connection: {
      credentials: setup.credentials,
      tlsVerify: tlsVerify(options),
      ...(setup.caPem === undefined ? {} : { caPem: setup.caPem }),
      ...(options['plain-http'] === true ? { plainHttp: true } : {}),
      ...(retries === undefined ? {} : { retry: { retries } }),
    },
    onEvent: pushProgress(io),
  };
  if (tool === 'native') return pushImage(base);
  return withToolFiles(setup, (files) =>
    pushImage({ ...base, tool, toolOptions: { ...files, ...(retries === undefined ? {} : { retries }) } }),
  );
}

/** The text lines of a push result. */
export function pushLines(result: PushResult): string[] {
  const mib = (result.blobs.bytesUploaded / (1024 * 1024)).toFixed(1);
  return [
    ...result.refs.map((ref) => `pushed ${ref.reference} ${ref.digest}`),
    ...(result.internalRef === undefined ? [] : [`in-cluster pull spec: ${result.internalRef}`]),
    `blobs: ${result.blobs.uploaded} uploaded (${mib} MiB), ${result.blobs.existing} already there, ${result.blobs.mounted} mounted; ${(result.durationMs / 1000).toFixed(1)} s via ${result.via}`,
  ];
}

/** `registry-push push SOURCE HOST/PROJECT/NAME`. */
export async function pushCommand(
  options: Options,
  io: Io,
  positionals: readonly string[],
): Promise<CommandResult> {
  const setup = await pushSetup(options, io, positionals);
  const result = await runPush(options, io, setup);
  return { json: result, text: pushLines(result) };
}
