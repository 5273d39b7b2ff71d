// The entry of the single-file `registry-push` binary: the same as packages/cli/src/cli.ts, without top-level
// await (the binary's script is CommonJS, the only format Node 24's single executable applications run).
import process from 'node:process';
import { main } from '../../packages/cli/dist/main.js';

main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text + '\n'),
  stderr: (text) => process.stderr.write(text + '\n'),
  env: process.env,
  ...(process.stderr.isTTY ? { statusLine: (text) => process.stderr.write(`\r\u001b[2K${text}`) } : {}),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // main() turns every failure into a line and a code; this is only reached by a bug.
    process.stderr.write(
      `registry-push: internal error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
