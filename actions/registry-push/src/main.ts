import { join } from 'node:path';
import { info } from '@actions/core';
import {
  ClusterClient,
  DEFAULT_USERNAME,
  RegistryClient,
  exposeRegistry,
  installTrust,
  isRegistryPushError,
  preflightPush,
  pushImage,
  registryLogin,
  registryTrust,
  RegistryPushError,
  type ExposeResult,
  type PushResult,
  type RegistryLogin,
  type RegistryTrust,
  type CommandRunner,
  type TrustInstallation,
} from '@registry-push/core';
import { actionsCommandRunner } from './command-runner.js';
import {
  clusterAccess,
  environmentReader,
  readInputs,
  secretInputs,
  type InputReader,
  type Inputs,
  withholdInputs,
} from './inputs.js';
import {
  annotate,
  logExposeProgress,
  logPushEvent,
  setOutputs,
  storedSize,
  writeSummary,
  type PushReport,
} from './report.js';
import { basicCredentials, clusterCredentials, inputCredentials, type Credentials } from './credentials.js';
import { phase } from './log-groups.js';
import { LentRegistry } from './registry.js';
import { maskKubeconfigInput, registerSecret } from './secrets.js';
import { createStateDir, recordState, type PostState } from './state.js';

/** Everything the phases share. */
interface Run {
  inputs: Inputs;
  state: PostState;
  client: ClusterClient | undefined;
  /** The registry credentials: the `token` input, else the cluster credentials' token; masked at creation. */
  credentials: Credentials;
  /** Where tools run (a push tool, the system trust update): `@actions/exec`, grouped in the job log. */
  tools: CommandRunner;
}

/**
 * Mask the other inputs that could be secret before anything is parsed, so not even a validation error can
 * show them (the token is masked when its credentials are created, before this).
 */
function maskRawInputs(read: InputReader): void {
  const key = read('route-key');
  if (key.includes('-----BEGIN')) registerSecret(key);
  maskKubeconfigInput(read('kubeconfig'));
}

/**
 * Cluster access; its own token (the API credential, which a kubeconfig file may hold) is masked before anything
 * is printed. Without any, only an explicit registry plus a token can go on.
 */
async function clusterClient(inputs: Inputs, env: NodeJS.ProcessEnv): Promise<ClusterClient | undefined> {
  let client: ClusterClient;
  try {
    client = ClusterClient.fromOptions(clusterAccess(inputs.cluster, env));
  } catch (error) {
    const canGoOn = inputs.registry !== undefined && inputs.cluster.token !== undefined;
    if (isRegistryPushError(error, 'KUBECONFIG_MISSING') && canGoOn) return undefined;
    throw error;
  }
  registerSecret(await client.bearerToken());
  return client;
}

/** Say who we are on which cluster (a wrong token fails here, before anything is changed). */
async function connect(client: ClusterClient | undefined): Promise<void> {
  if (client === undefined) {
    annotate(
      'No cluster access (no server, kubeconfig or $KUBECONFIG): discovery and the push-rights preflight are skipped.',
    );
    return;
  }
  const identity = await client.whoami();
  info(`cluster ${client.server} (${client.source}) as ${identity.username}`);
}

function needClient(client: ClusterClient | undefined): ClusterClient {
  if (client === undefined) {
    throw new RegistryPushError('KUBECONFIG_MISSING', 'This step needs cluster access, and none was given.', {
      hint: 'Give "server" and "token", or "kubeconfig" (or set $KUBECONFIG in an earlier step).',
    });
  }
  return client;
}

async function findRegistry(run: Run): Promise<ExposeResult> {
  const { inputs } = run;
  if (inputs.registry !== undefined) {
    info(`registry ${inputs.registry} (given; discovery skipped)`);
    return {
      host: inputs.registry,
      source: 'explicit',
      detail: 'the "registry" input',
      changes: [],
      warnings: [],
    };
  }
  const result = await exposeRegistry(needClient(run.client), {
    mode: inputs.expose,
    namespace: inputs.namespace,
    timeoutMs: inputs.timeoutMs,
    onProgress: logExposeProgress,
    // Saved as each change is made, so the post step can undo even an expose that then failed.
    onChange: (change) => {
      if (!inputs.revertExpose) return;
      run.state.exposeChanges = [...(run.state.exposeChanges ?? []), change];
      recordState(run.state);
    },
    ...(inputs.route === undefined ? {} : { route: inputs.route }),
    ...(inputs.route === undefined && inputs.routeName !== undefined ? { routeName: inputs.routeName } : {}),
  });
  info(`registry ${result.host}, found through ${result.detail}`);
  for (const change of result.changes) {
    info(`changed: ${change.kind}${inputs.revertExpose ? ' (undone by the post step)' : ''}`);
  }
  for (const message of result.warnings) annotate(message);
  return result;
}

async function trustRegistry(
  run: Run,
  host: string,
): Promise<{ trust?: RegistryTrust; installation?: TrustInstallation }> {
  const { inputs } = run;
  if (!inputs.tlsVerify) {
    annotate(
      `tls-verify is false: the certificate of ${host} is NOT checked, so anyone on the path can read the token and change the image. Give the registry CA with ca-file or ca-data instead.`,
    );
    return {};
  }
  const routeName = inputs.route?.name ?? inputs.routeName;
  const trust = await registryTrust({
    host,
    ...(inputs.caPem === undefined ? {} : { caPem: inputs.caPem }),
    ...(inputs.caPem === undefined && run.client !== undefined ? { client: run.client } : {}),
    ...(routeName === undefined ? {} : { routeName }),
  });
  for (const line of trust.tried) info(`  tried ${line}`);
  info(`CA: ${trust.detail}${trust.verified ? ', verified by a TLS handshake' : ''}`);
  for (const message of trust.warnings) annotate(message);
  if (trust.caPem === undefined || inputs.trust === 'none') return { trust };
  return { trust, installation: await installCa(run, host, trust.caPem) };
}

/** Install the CA where the tools look (always a private cert dir; Docker's or the system store if asked). */
async function installCa(run: Run, host: string, caPem: string): Promise<TrustInstallation> {
  const { inputs } = run;
  if (inputs.pushTool === 'docker' && inputs.trust !== 'docker') {
    annotate(
      `docker push trusts only /etc/docker/certs.d: set trust: docker so that the CA of ${host} is installed there.`,
    );
  }
  const installation = await installTrust({
    host,
    caPem,
    certsRoot: join(run.state.stateDir, 'certs.d'),
    docker: inputs.trust === 'docker',
    system: inputs.trust === 'system',
    runner: run.tools,
  });
  run.state.trust = installation;
  recordState(run.state);
  for (const file of installation.files) info(`wrote ${file}`);
  return installation;
}

/**
 * Log in: the credentials are checked through the step's one registry client (`GET /v2/`), then written to
 * the private auth file the tools read.
 */
async function logIn(
  run: Run,
  registry: RegistryClient,
  trust: RegistryTrust | undefined,
): Promise<RegistryLogin> {
  const { inputs, credentials } = run;
  const login = await registryLogin({
    host: registry.host,
    username: credentials.username,
    token: credentials.token,
    tlsVerify: inputs.tlsVerify,
    authFile: join(run.state.stateDir, 'auth', 'config.json'),
    checkCredentials: () => registry.checkLogin(),
    runner: run.tools,
    ...(trust?.caPem === undefined ? {} : { caPem: trust.caPem }),
  });
  run.state.login = login.entry;
  recordState(run.state);
  const expiry =
    credentials.expiresAt === undefined ? '' : `, valid until ${credentials.expiresAt.toISOString()}`;
  info(
    `logged in as ${login.username} (token from ${credentials.source}${expiry}); auth file ${login.authFile}`,
  );
  for (const message of login.warnings) annotate(message);
  return login;
}

async function preflight(run: Run): Promise<void> {
  if (run.client === undefined) {
    info('skipped: no cluster access to check push rights with');
    return;
  }
  const result = await preflightPush(run.client, run.inputs.namespace);
  info(`${result.username ?? 'this user'} may push to project ${result.namespace}`);
}

/**
 * The step's one registry client, made from the credentials: the login check, the push and the size
 * read-back all go through it (one connection pool, one authentication). Retries are logged as the push's.
 */
function openRegistry(run: Run, host: string, trust: RegistryTrust | undefined): RegistryClient {
  return new RegistryClient({
    host,
    credentials: basicCredentials(run.credentials),
    tlsVerify: run.inputs.tlsVerify,
    retry: { retries: run.inputs.retries },
    onRetry: (event) =>
      logPushEvent({
        kind: 'retry',
        action: event.action,
        attempt: event.attempt,
        delayMs: event.delayMs,
        reason: event.error instanceof Error ? event.error.message : String(event.error),
      }),
    ...(trust?.caPem === undefined ? {} : { caPem: trust.caPem }),
  });
}

async function push(
  run: Run,
  registry: RegistryClient,
  login: RegistryLogin,
  installation: TrustInstallation | undefined,
): Promise<PushResult> {
  const { inputs } = run;
  return pushImage({
    source: inputs.source,
    target: `${registry.host}/${inputs.namespace}/${inputs.image}`,
    tags: inputs.tags,
    // The push tool's TLS choice; everything else goes through the lent client (credentials included).
    connection: { tlsVerify: inputs.tlsVerify },
    registry: () => new LentRegistry(registry),
    tool: inputs.pushTool,
    toolOptions: {
      authFile: login.authFile,
      retries: inputs.retries,
      runner: run.tools,
      ...(installation === undefined ? {} : { certDir: installation.certDir }),
    },
    onEvent: logPushEvent,
  });
}

/**
 * The main step: find (or expose) the registry, trust its certificate, log in, check push rights, push, and
 * report. Each phase records what it left behind before the next starts, so the post step can clean up after
 * a failure at any point.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const read = environmentReader(env);
  const given = inputCredentials(read);
  maskRawInputs(read);
  const inputs = readInputs(read);
  for (const secret of secretInputs(inputs)) registerSecret(secret);
  withholdInputs(env);
  const client = await clusterClient(inputs, env);
  // Without a token input there is cluster access (else clusterClient threw): its token is the password.
  const credentials =
    given ?? (await clusterCredentials(needClient(client), inputs.username ?? DEFAULT_USERNAME));

  const state: PostState = { stateDir: await createStateDir(env), logout: inputs.logout };
  recordState(state);
  const run: Run = { inputs, state, client, credentials, tools: actionsCommandRunner() };
  await phase('Connect to the cluster', () => connect(client));

  const exposed = await phase('Find the registry', () => findRegistry(run));
  const { trust, installation } = await phase('Trust its certificate', () =>
    trustRegistry(run, exposed.host),
  );
  const registry = openRegistry(run, exposed.host, trust);
  try {
    await finish(run, { exposed, trust, installation, registry }, env);
  } finally {
    await registry.close();
  }
}

/** Log in, check push rights, push and report, all through the step's one registry client. */
async function finish(
  run: Run,
  found: {
    exposed: ExposeResult;
    trust: RegistryTrust | undefined;
    installation: TrustInstallation | undefined;
    registry: RegistryClient;
  },
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const { inputs } = run;
  const { exposed, trust, installation, registry } = found;
  const login = await phase('Log in', () => logIn(run, registry, trust));
  await phase('Check push rights', () => preflight(run));
  const pushed = await phase(`Push ${inputs.source}`, () => push(run, registry, login, installation));

  const repository = `${inputs.namespace}/${inputs.image}`;
  const report: PushReport = {
    exposed,
    pushed,
    size: await storedSize(registry, repository, pushed.digest),
    authFile: login.authFile,
    certDir: installation?.certDir,
  };
  setOutputs(report);
  if (env.GITHUB_STEP_SUMMARY !== undefined && env.GITHUB_STEP_SUMMARY !== '') await writeSummary(report);
  info(`pushed ${pushed.image}@${pushed.digest} as ${pushed.refs.map((ref) => ref.tag).join(', ')}`);
}
