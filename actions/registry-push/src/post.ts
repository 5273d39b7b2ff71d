import { rm } from 'node:fs/promises';
import { info } from '@actions/core';
import {
  ClusterClient,
  formatError,
  registryLogout,
  revertExpose,
  uninstallTrust,
  type ExposeChange,
} from '@registry-push/core';
import { clusterAccess, environmentReader, readClusterInputs, withholdInputs } from './inputs.js';
import { actionsCommandRunner } from './command-runner.js';
import { inputCredentials } from './credentials.js';
import { phase } from './log-groups.js';
import { annotate, logExposeProgress } from './report.js';
import { maskKubeconfigInput, registerSecret, scrub } from './secrets.js';
import { loadState, type PostState } from './state.js';

/** One cleanup task; its failure is a warning and the next task still runs. */
async function attempt(what: string, task: () => Promise<string | undefined>): Promise<void> {
  try {
    const done = await task();
    if (done !== undefined) info(done);
  } catch (error) {
    annotate(`Cleanup: could not ${what}: ${scrub(formatError(error))}`);
  }
}

async function revert(changes: readonly ExposeChange[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const read = environmentReader(env);
  // The post step is its own process: the credentials are created (and masked) here as in the main step, and
  // their token is the API token of the cluster access that reverts.
  const credentials = inputCredentials(read);
  maskKubeconfigInput(read('kubeconfig'));
  const cluster = readClusterInputs(read);
  withholdInputs(env);
  const client = ClusterClient.fromOptions(
    clusterAccess({ ...cluster, ...(credentials === undefined ? {} : { token: credentials.token }) }, env),
  );
  registerSecret(await client.bearerToken());
  const outcome = await revertExpose(client, changes, logExposeProgress);
  for (const failure of outcome.failed) annotate(`Cleanup: ${scrub(formatError(failure))}`);
  return outcome.failed.length === 0 ? 'the registry exposure is back as it was' : undefined;
}

async function cleanUp(state: PostState, env: NodeJS.ProcessEnv): Promise<void> {
  const { login, trust, exposeChanges } = state;
  if (login !== undefined && state.logout) await attempt('log out', () => registryLogout({ entry: login }));
  if (trust !== undefined) {
    await attempt('remove the registry CA', async () => {
      await uninstallTrust(trust, { runner: actionsCommandRunner() });
      return `removed the CA files of ${trust.host}`;
    });
  }
  if (exposeChanges !== undefined && exposeChanges.length > 0) {
    await attempt('revert the registry exposure', () => revert(exposeChanges, env));
  }
  if (state.logout) {
    await attempt(`remove ${state.stateDir}`, async () => {
      await rm(state.stateDir, { recursive: true, force: true });
      return `removed ${state.stateDir}`;
    });
  } else {
    info(
      `kept the auth file (logout: false); the runner empties ${env.RUNNER_TEMP ?? 'its temp directory'} after the job`,
    );
  }
}

/**
 * The post step: log out (remove the auth file), remove the CA files, undo the exposure when `revert-expose`
 * asked for it, and remove the run's private directory. Every task runs even if one fails, and a failure
 * only warns: cleanup must not turn a good push into a failed job.
 */
export async function post(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const state = loadState();
  if (state === undefined) {
    info('nothing to clean up: the main step stopped before it wrote anything');
    return;
  }
  await phase('Clean up', () => cleanUp(state, env));
}
