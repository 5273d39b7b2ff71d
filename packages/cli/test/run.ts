// Runs the CLI through main() exactly as the binary does, capturing what it prints.
import { main } from '../src/main.js';

/** The exit code and everything printed. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `registry-push argv...` with `home` as HOME and `env` on top. */
export async function runCli(argv: string[], home: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env: { HOME: home, ...env },
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}
