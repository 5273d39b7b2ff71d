import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RegistryPushError } from '../errors.js';
import { runToolCommand, type ToolCommand } from '../login/tool-login.js';
import type { SourceReference } from './sources.js';
import type { CommandRunner } from '../ports/command-runner.js';

/** Tools that can push sources the native path cannot read. */
export type PushTool = 'skopeo' | 'podman' | 'buildah' | 'docker';

/** Options of {@link pushWithTool}. */
export interface ToolPushOptions {
  source: SourceReference;
  /** `host/project/name:tag` */
  destination: string;
  /** The private auth file written by login (its directory doubles as `DOCKER_CONFIG`). */
  authFile?: string;
  /** The host's certs directory from trust (`<certsRoot>/<host>`). */
  certDir?: string;
  tlsVerify: boolean;
  /** Passed as `--retry-times` / `--retry` where the tool has it (default 3). */
  retries?: number;
  timeoutMs?: number;
  /** Where the tool runs (default: child processes of this one). */
  runner?: CommandRunner;
}

function sourceArgument(source: SourceReference): string {
  return `${source.transport}:${source.path}${source.ref === undefined ? '' : `:${source.ref}`}`;
}

/** The local image name for podman, buildah and docker (they take names, not transports, for their stores). */
function localImage(tool: PushTool, source: SourceReference): string {
  if (source.transport === 'containers-storage' && (tool === 'podman' || tool === 'buildah'))
    return source.path;
  if (source.transport === 'docker-daemon' && tool === 'docker') return source.path;
  if (tool === 'docker') {
    throw new RegistryPushError('OPTION_INVALID', `docker push cannot read ${source.transport}: sources.`, {
      hint: 'Use the native push or skopeo for files; docker pushes images from its daemon (docker-daemon:IMAGE).',
    });
  }
  // podman and buildah read the file transports themselves.
  return sourceArgument(source);
}

/** The commands that push with `tool`; none carries a secret (the auth file holds it). */
export function toolPushCommands(
  tool: PushTool,
  options: ToolPushOptions,
  digestFile: string,
): ToolCommand[] {
  const retries = String(options.retries ?? 3);
  const env: Record<string, string> =
    options.authFile === undefined ? {} : { REGISTRY_AUTH_FILE: options.authFile };
  const auth = options.authFile === undefined ? [] : ['--authfile', options.authFile];
  const tls = options.tlsVerify ? [] : ['--tls-verify=false'];
  if (tool === 'skopeo') {
    const certs = options.certDir === undefined ? [] : ['--dest-cert-dir', options.certDir];
    const destTls = options.tlsVerify ? [] : ['--dest-tls-verify=false'];
    return [
      {
        program: 'skopeo',
        args: [
          'copy',
          '--retry-times',
          retries,
          ...auth,
          ...certs,
          ...destTls,
          '--digestfile',
          digestFile,
          sourceArgument(options.source),
          `docker://${options.destination}`,
        ],
        env,
        stdin: '',
      },
    ];
  }
  if (tool === 'podman' || tool === 'buildah') {
    const certs = options.certDir === undefined ? [] : ['--cert-dir', options.certDir];
    return [
      {
        program: tool,
        args: [
          'push',
          '--retry',
          retries,
          ...auth,
          ...certs,
          ...tls,
          '--digestfile',
          digestFile,
          localImage(tool, options.source),
          `docker://${options.destination}`,
        ],
        env,
        stdin: '',
      },
    ];
  }
  // docker: tag into the destination name, then push; credentials come from DOCKER_CONFIG, and trust
  // from /etc/docker/certs.d (install it with trust: docker).
  const dockerEnv: Record<string, string> =
    options.authFile === undefined ? {} : { DOCKER_CONFIG: dirname(options.authFile) };
  return [
    {
      program: 'docker',
      args: ['tag', localImage(tool, options.source), options.destination],
      env: dockerEnv,
      stdin: '',
    },
    { program: 'docker', args: ['push', options.destination], env: dockerEnv, stdin: '' },
  ];
}

/**
 * Push through a container tool, for sources only it can read (its local store). Returns the digest the
 * tool wrote, when it writes one (docker does not; the caller asks the registry).
 */
export async function pushWithTool(tool: PushTool, options: ToolPushOptions): Promise<{ digest?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'registry-push-tool-'));
  const digestFile = join(dir, 'digest');
  try {
    for (const command of toolPushCommands(tool, options, digestFile)) {
      await runToolCommand(command, [], {
        timeoutMs: options.timeoutMs ?? 30 * 60_000,
        failureCode: 'PUSH_TOOL_FAILED',
        hint: `Check the message from ${tool}; the push was not completed and no tag was changed by it.`,
        ...(options.runner === undefined ? {} : { runner: options.runner }),
      });
    }
    const digest = await readFile(digestFile, 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
    return digest === undefined || digest === '' ? {} : { digest };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
