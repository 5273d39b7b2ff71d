// Runs the bundled action on this machine the way a GitHub runner does: main, then post, as child processes with
// INPUT_* variables (action.yml defaults filled in), fresh GITHUB_OUTPUT/GITHUB_STATE/GITHUB_STEP_SUMMARY files
// and a private RUNNER_TEMP. Prints the log, the outputs and the job summary. For demos and trying inputs out:
//
//   npx node actions/registry-push/scripts/local-run.mjs namespace=demo image=app source=oci:./layout \
//     kubeconfig=/tmp/sim/kubeconfig
//
// `npx node` is the repository's Node 24, the runtime the action declares (node24); the bundle does not load on
// Node 20. Exits with the main step's exit code (2 for a usage mistake).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { argv, env, execPath, exit, stdout, versions } from 'node:process';
import { fileURLToPath } from 'node:url';

const actionDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The runner starts the bundle with the Node that action.yml names (node24); so does this script, with its own.
if (Number(versions.node.split('.')[0]) < 24) {
  stdout.write(
    `This is Node ${versions.node}; the action runs on node24. Run this script with the repository's Node 24:\n` +
      `  npx node actions/registry-push/scripts/local-run.mjs ${argv.slice(2).join(' ')}\n`,
  );
  exit(2);
}

/** Inputs and defaults from action.yml (two-space keys under `inputs:`, `default: '…'`). */
function declaredInputs() {
  const text = readFileSync(join(actionDir, 'action.yml'), 'utf8');
  const section = text.slice(text.indexOf('\ninputs:\n'), text.indexOf('\noutputs:\n'));
  const inputs = new Map();
  let current;
  for (const line of section.split('\n')) {
    const name = /^ {2}([a-z-]+):\s*$/.exec(line);
    if (name) inputs.set((current = name[1]), '');
    const value = /^ {4}default:\s*'([^']*)'\s*$/.exec(line);
    if (value && current) inputs.set(current, value[1]);
  }
  return inputs;
}

/** `name<<delimiter` blocks of a file-command file; a later value wins. */
function fileCommands(path) {
  const lines = readFileSync(path, 'utf8').split('\n');
  const values = {};
  for (let i = 0; i < lines.length; i++) {
    const header = /^([^<]+)<<(.+)$/.exec(lines[i]);
    if (!header) continue;
    const end = lines.indexOf(header[2], i + 1);
    values[header[1]] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return values;
}

const given = Object.fromEntries(
  argv.slice(2).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const declared = declaredInputs();
for (const name of Object.keys(given)) {
  if (!declared.has(name)) {
    stdout.write(`unknown input "${name}"; action.yml declares: ${[...declared.keys()].join(', ')}\n`);
    exit(2);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'registry-push-local-run-'));
const runnerTemp = join(dir, 'runner-temp');
mkdirSync(runnerTemp);
let state = {};
let mainCode = 0;
try {
  for (const step of ['main', 'post']) {
    const files = {
      output: join(dir, `${step}-output`),
      state: join(dir, `${step}-state`),
      summary: join(dir, `${step}-summary`),
    };
    for (const file of Object.values(files)) writeFileSync(file, '');
    const stepEnv = {
      PATH: env.PATH,
      HOME: env.HOME,
      RUNNER_TEMP: runnerTemp,
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_STEP_SUMMARY: files.summary,
      ...(env.KUBECONFIG ? { KUBECONFIG: env.KUBECONFIG } : {}),
    };
    for (const [name, value] of declared) stepEnv[`INPUT_${name.toUpperCase()}`] = given[name] ?? value;
    for (const [name, value] of Object.entries(state)) stepEnv[`STATE_${name}`] = value;
    stdout.write(`\n=== ${step} ===\n`);
    const result = spawnSync(execPath, [join(actionDir, 'dist', `${step}.js`)], {
      env: stepEnv,
      encoding: 'utf8',
    });
    // The runner hides mask commands and masks their values; so does this.
    const masks = [...result.stdout.matchAll(/^::add-mask::(.*)$/gm)].map((match) => match[1]);
    let log = result.stdout.replace(/^::add-mask::.*\n/gm, '') + result.stderr;
    for (const mask of masks.sort((a, b) => b.length - a.length)) log = log.split(mask).join('***');
    stdout.write(log);
    if (step === 'main') {
      mainCode = result.status ?? 1;
      state = fileCommands(files.state);
      stdout.write(`\n--- outputs ---\n${JSON.stringify(fileCommands(files.output), null, 2)}\n`);
      const summary = readFileSync(files.summary, 'utf8');
      if (summary !== '') stdout.write(`\n--- job summary (HTML) ---\n${summary}\n`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
exit(mainCode);
