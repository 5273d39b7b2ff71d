import { join } from 'node:path';
import { group, info } from '@actions/core';
import {
  ClusterClient,
  DEFAULT_USERNAME,
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
  type RegistryClientOptions,
  type RegistryLogin,
  type RegistryTrust,
  type TrustInstallation,
} from '@registry-push/core';
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
import { maskKubeconfigInput, registerCredential, registerSecret } from './secrets.js';
import { createStateDir, recordState, type PostState } from './state.js';

/** Everything the phases share. */
interface Run {
  inputs: Inputs;
  state: PostState;
  client: ClusterClient | undefined;
  /** The registry password: the `token` input, else the cluster credentials' token. */
  token: string | undefined;
}

/** Mask what could be secret before anything is parsed, so not even a validation error can show it. */
function maskRawInputs(read: InputReader): void {
  registerSecret(read('token') || undefined);
  const key = read('route-key');
  if (key.includes('-----BEGIN')) registerSecret(key);
  maskKubeconfigInput(read('kubeconfig'));
}

/**
 * Cluster access; its token is masked before anything is printed. Without any, only an explicit registry
 * plus a token can go on.
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

function needClient(run: Run): ClusterClient {
  if (run.client === undefined) {
    throw new RegistryPushError('KUBECONFIG_MISSING', 'This step needs cluster access, and none was given.', {
      hint: 'Give "server" and "token", or "kubeconfig" (or set $KUBECONFIG in an earlier step).',
    });
  }
  return run.client;
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
  const result = await exposeRegistry(needClient(run), {
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
  });
  run.state.trust = installation;
  recordState(run.state);
  for (const file of installation.files) info(`wrote ${file}`);
  return installation;
}

async function logIn(run: Run, host: string, trust: RegistryTrust | undefined): Promise<RegistryLogin> {
  const { inputs } = run;
  const username = inputs.username ?? DEFAULT_USERNAME;
  if (run.token !== undefined) registerCredential(username, run.token);
  const login = await registryLogin({
    host,
    username,
    tlsVerify: inputs.tlsVerify,
    authFile: join(run.state.stateDir, 'auth', 'config.json'),
    // The token input is passed as such; otherwise core takes the cluster credentials' own (and says so).
    ...(inputs.cluster.token === undefined ? { client: needClient(run) } : { token: inputs.cluster.token }),
    ...(trust?.caPem === undefined ? {} : { caPem: trust.caPem }),
  });
  run.state.login = login.entry;
  recordState(run.state);
  const expiry = login.tokenExpiresAt === undefined ? '' : `, valid until ${login.tokenExpiresAt}`;
  info(
    `logged in as ${login.username} (token from ${login.tokenSource}${expiry}); auth file ${login.authFile}`,
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

function connection(
  run: Run,
  host: string,
  login: RegistryLogin,
  trust: RegistryTrust | undefined,
): RegistryClientOptions {
  if (run.token === undefined) {
    throw new RegistryPushError('TOKEN_MISSING', 'No token to push with.', {
      hint: 'Give the "token" input.',
    });
  }
  return {
    host,
    credentials: { kind: 'basic', username: login.username, password: run.token },
    tlsVerify: run.inputs.tlsVerify,
    retry: { retries: run.inputs.retries },
    ...(trust?.caPem === undefined ? {} : { caPem: trust.caPem }),
  };
}

async function push(
  run: Run,
  options: RegistryClientOptions,
  login: RegistryLogin,
  installation: TrustInstallation | undefined,
): Promise<PushResult> {
  const { inputs } = run;
  const { host: _host, ...connectionOptions } = options;
  return pushImage({
    source: inputs.source,
    target: `${options.host}/${inputs.namespace}/${inputs.image}`,
    tags: inputs.tags,
    connection: connectionOptions,
    tool: inputs.pushTool,
    toolOptions: {
      authFile: login.authFile,
      retries: inputs.retries,
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
  maskRawInputs(read);
  const inputs = readInputs(read);
  for (const secret of secretInputs(inputs)) registerSecret(secret);
  withholdInputs(env);
  const client = await clusterClient(inputs, env);

  const state: PostState = { stateDir: await createStateDir(env), logout: inputs.logout };
  recordState(state);
  const run: Run = { inputs, state, client, token: inputs.cluster.token ?? (await client?.bearerToken()) };
  await group('Connect to the cluster', () => connect(client));

  const exposed = await group('Find the registry', () => findRegistry(run));
  const { trust, installation } = await group('Trust its certificate', () =>
    trustRegistry(run, exposed.host),
  );
  const login = await group('Log in', () => logIn(run, exposed.host, trust));
  await group('Check push rights', () => preflight(run));
  const options = connection(run, exposed.host, login, trust);
  const pushed = await group(`Push ${inputs.source}`, () => push(run, options, login, installation));

  const repository = `${inputs.namespace}/${inputs.image}`;
  const report: PushReport = {
    exposed,
    pushed,
    size: await storedSize(options, repository, pushed.digest),
    authFile: login.authFile,
    certDir: installation?.certDir,
  };
  setOutputs(report);
  if (env.GITHUB_STEP_SUMMARY !== undefined && env.GITHUB_STEP_SUMMARY !== '') await writeSummary(report);
  info(`pushed ${pushed.image}@${pushed.digest} as ${pushed.refs.map((ref) => ref.tag).join(', ')}`);
}
