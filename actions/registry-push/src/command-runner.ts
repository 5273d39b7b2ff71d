import { randomUUID } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ChildProcess } from 'node:child_process';
import { exec } from '@actions/exec';
import type { CommandResult, CommandRun, CommandRunner } from '@registry-push/core';
import { toolGroup } from './log-groups.js';

/** The program's file on the `PATH` of its own environment, or undefined when it is not there. */
export function findProgram(program: string, env: Readonly<Record<string, string>>): string | undefined {
  const candidates = isAbsolute(program)
    ? [program]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, program));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

function notInstalled(program: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${program} is not on the PATH`), { code: 'ENOENT' });
}

/**
 * The children `@actions/exec` starts for one run, caught through Node's `child_process` diagnostics channel
 * (exec does not hand out the process): what a timeout and {@link CommandRunner.stopAll} signal. A child is
 * taken as this run's when its file is the program's; the action runs one tool at a time.
 */
class Children {
  private readonly seen: ChildProcess[] = [];
  /** Set once the run was told to stop: a child caught later (exec was still looking it up) gets it too. */
  private stopSignal: NodeJS.Signals | undefined;
  private readonly listener = (message: unknown): void => {
    const child = (message as { process?: ChildProcess }).process;
    if (child === undefined) return;
    this.seen.push(child);
    // A tool that exits without reading its stdin breaks the pipe exec writes to; that is not a failure of
    // ours, and unhandled it would end the step. (Published before the spawn; stdin exists right after it.)
    process.nextTick(() => {
      child.stdin?.on('error', () => undefined);
      if (this.stopSignal !== undefined && child.spawnfile === this.file) child.kill(this.stopSignal);
    });
  };

  constructor(private readonly file: string) {
    subscribe('child_process', this.listener);
  }

  /** Ours, among the children started since: the file is known once the spawn ran. */
  private ours(): ChildProcess[] {
    return this.seen.filter((child) => child.spawnfile === this.file);
  }

  kill(signal: NodeJS.Signals): void {
    this.stopSignal = signal;
    for (const child of this.ours()) if (child.exitCode === null) child.kill(signal);
  }

  /** The signal that ended the program, if one did. */
  signal(): string | null {
    return this.ours().find((child) => child.signalCode !== null)?.signalCode ?? null;
  }

  close(): void {
    unsubscribe('child_process', this.listener);
  }
}

/**
 * The command-runner port on `@actions/exec`, the toolkit the action is built on: each tool run is a group of
 * the job log, opened by exec's `[command]` line (argv never holds a secret), with the tool's output streamed
 * into it as it comes, the way runners show a tool. Workflow commands are off while the tool writes (a
 * `::stop-commands::` token), so nothing it prints can act as one. The environment is exactly the one the
 * core gives (`command.env`): exec passes `env` to `spawn` as is and inherits `process.env` only when it is
 * absent, so it is always given, and the program is looked up on that environment's `PATH`, not ours.
 */
export function actionsCommandRunner(): CommandRunner {
  const running = new Set<Children>();
  const run = async (command: CommandRun): Promise<CommandResult> => {
    const file = findProgram(command.program, command.env);
    if (file === undefined) throw notInstalled(command.program);
    const title = [command.program, command.args[0]].filter((part) => part !== undefined).join(' ');
    return toolGroup(title, async () => {
      const children = new Children(file);
      running.add(children);
      const timer =
        command.timeoutMs === undefined
          ? undefined
          : setTimeout(() => children.kill('SIGTERM'), command.timeoutMs);
      let output = '';
      const collect = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
      };
      const resume = randomUUID();
      process.stdout.write(`::stop-commands::${resume}\n`);
      try {
        const exitCode = await exec(file, [...command.args], {
          env: { ...command.env },
          input: Buffer.from(command.stdin ?? ''),
          ignoreReturnCode: true,
          listeners: { stdout: collect, stderr: collect },
        });
        const signal = children.signal();
        return { exitCode: signal === null ? exitCode : null, signal, output };
      } finally {
        if (!output.endsWith('\n') && output !== '') process.stdout.write('\n');
        process.stdout.write(`::${resume}::\n`);
        if (timer !== undefined) clearTimeout(timer);
        children.close();
        running.delete(children);
      }
    });
  };
  return {
    run,
    stopAll: (signal = 'SIGTERM') => {
      for (const children of running) children.kill(signal);
      return running.size;
    },
  };
}
