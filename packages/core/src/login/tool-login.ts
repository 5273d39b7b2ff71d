import { dirname } from 'node:path';
import { childEnvironment } from '../child-env.js';
import { RegistryPushError } from '../errors.js';
import { redact } from '../secrets.js';
import { defaultCommandRunner, type CommandResult, type CommandRunner } from '../ports/command-runner.js';

/** Container tools that can log in with `--password-stdin`. */
export type LoginTool = 'skopeo' | 'podman' | 'buildah' | 'docker';

/** A tool invocation: the secret travels only on stdin. */
export interface ToolCommand {
  program: LoginTool;
  args: string[];
  /** Extra environment (paths only, never secrets). */
  env: Record<string, string>;
  /** What to write to the tool's stdin. */
  stdin: string;
}

/** Options of {@link toolLoginCommand}. */
export interface ToolLoginOptions {
  host: string;
  username: string;
  token: string;
  /** The auth file (named `config.json`, so that its directory is a valid `DOCKER_CONFIG`). */
  authFile: string;
  /** `certs.d` root with `<host>/ca.crt` (containers tools; Docker reads `/etc/docker/certs.d`). */
  certDir?: string;
  /** false adds `--tls-verify=false` where the tool has it. */
  tlsVerify?: boolean;
}

/**
 * The login command for a tool, with the token on stdin and never on argv or in the environment (argv is
 * visible to every user of the machine in `ps`, and CI logs echo commands).
 */
export function toolLoginCommand(tool: LoginTool, options: ToolLoginOptions): ToolCommand {
  const stdin = options.token;
  if (tool === 'docker') {
    // Docker has no --authfile: DOCKER_CONFIG points it at our private directory instead of ~/.docker.
    return {
      program: 'docker',
      args: ['login', '--username', options.username, '--password-stdin', options.host],
      env: { DOCKER_CONFIG: dirname(options.authFile) },
      stdin,
    };
  }
  const args = ['login', '--authfile', options.authFile, '--username', options.username, '--password-stdin'];
  if (options.certDir !== undefined) args.push('--cert-dir', options.certDir);
  if (options.tlsVerify === false) args.push('--tls-verify=false');
  args.push(options.host);
  return { program: tool, args, env: { REGISTRY_AUTH_FILE: options.authFile }, stdin };
}

/** How Go's crypto/x509 (skopeo, podman, buildah, docker) says it does not trust the server certificate. */
const UNTRUSTED_CERTIFICATE =
  /x509: certificate signed by unknown authority|x509: .*certificate is not (trusted|valid)|tls: failed to verify certificate/i;

/** How {@link runToolCommand} reports a failure. */
export interface ToolRunOptions {
  timeoutMs?: number;
  /** Default LOGIN_TOOL_FAILED. */
  failureCode?: 'LOGIN_TOOL_FAILED' | 'PUSH_TOOL_FAILED';
  hint?: string;
  /** Where the tool runs; default the process's own ({@link defaultCommandRunner}). */
  runner?: CommandRunner;
}

/**
 * Send `signal` to every tool the default runner still runs (a push or login cut short by SIGINT/SIGTERM);
 * returns how many.
 */
export function stopRunningTools(signal: NodeJS.Signals = 'SIGTERM'): number {
  return defaultCommandRunner.stopAll(signal);
}

/** Run a tool command, feeding stdin; a failure becomes one typed error with the tool's output redacted. */
export async function runToolCommand(
  command: ToolCommand,
  secrets: readonly string[],
  options: ToolRunOptions = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const failureCode = options.failureCode ?? 'LOGIN_TOOL_FAILED';
  const runner = options.runner ?? defaultCommandRunner;
  let ended: CommandResult;
  try {
    ended = await runner.run({
      program: command.program,
      args: command.args,
      // Only what the tool needs: our environment holds the token (REGISTRY_PUSH_TOKEN) and CI secrets.
      env: childEnvironment(command.program, command.env),
      stdin: command.stdin,
      timeoutMs,
    });
  } catch (error) {
    throw startFailure(command, error as NodeJS.ErrnoException, failureCode);
  }
  const { exitCode: code, signal, output } = ended;
  const clean = redact(output, secrets).trim();
  if (code === 0) return clean;
  const last =
    clean
      .split('\n')
      .filter((line) => line.trim() !== '')
      .pop() ?? '';
  const message = `${command.program} ${command.args[0] ?? ''} failed (${signal ?? `exit ${String(code)}`}): ${last}`;
  // A certificate the tool does not trust is not a credentials problem: say so, and how to fix it.
  if (UNTRUSTED_CERTIFICATE.test(clean)) {
    throw new RegistryPushError('REGISTRY_TLS_UNTRUSTED', message, {
      hint:
        command.program === 'docker'
          ? 'docker does not trust the registry certificate: it reads /etc/docker/certs.d, so install the CA there (`registry-push trust --trust docker`, as root).'
          : `${command.program} does not trust the registry certificate: pass its CA (--ca-file, or the --cert-dir that \`registry-push trust\` wrote), or --tls-verify false for a test registry.`,
    });
  }
  throw new RegistryPushError(failureCode, message, {
    hint:
      options.hint ??
      'See the message above; the same credentials work for the native client if they are valid.',
  });
}

/** A tool that could not be started, as one typed error. */
function startFailure(
  command: ToolCommand,
  error: NodeJS.ErrnoException,
  failureCode: NonNullable<ToolRunOptions['failureCode']>,
): RegistryPushError {
  return error.code === 'ENOENT'
    ? new RegistryPushError('TOOL_MISSING', `${command.program} is not installed.`, {
        hint: `Install ${command.program}, or use the native push (no external tool needed).`,
      })
    : new RegistryPushError(
        failureCode,
        `${command.program} could not be started (${error.code ?? error.message}).`,
        {},
      );
}
