/**
 * The environment handed to the external programs we run (skopeo, podman, buildah, docker, the system
 * trust update): an allow-list, not a copy of ours. Our own environment carries secrets — the token in
 * REGISTRY_PUSH_TOKEN, CI tokens, cloud keys — that a child that only needs to log in or push must never
 * see (a tool may log its environment, pass it on to helpers, or dump it in a crash report).
 */

/** Programs we start, each with its own needs. */
export type ChildProgram = 'skopeo' | 'podman' | 'buildah' | 'docker' | 'trust-update';

/** What every program needs to run at all: where programs are, home, temp files, locale, time zone. */
const BASE = ['PATH', 'HOME', 'USER', 'LOGNAME', 'TMPDIR', 'TZ', 'LANG', 'LANGUAGE', 'LC_ALL'];

/** Network settings the registry tools honour: proxies and extra CA bundles (paths, not secrets). */
const NETWORK = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** containers/image and containers/storage: config file locations, rootless runtime and storage dirs. */
const CONTAINERS = [
  'XDG_RUNTIME_DIR',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'REGISTRY_AUTH_FILE',
  'STORAGE_DRIVER',
  'STORAGE_OPTS',
  // rootless podman and buildah talk to systemd for cgroups
  'DBUS_SESSION_BUS_ADDRESS',
];

const EXTRA: Record<ChildProgram, readonly string[]> = {
  skopeo: [...NETWORK, ...CONTAINERS],
  podman: [...NETWORK, ...CONTAINERS, 'CONTAINER_HOST', 'CONTAINER_CONNECTION'],
  buildah: [...NETWORK, ...CONTAINERS, 'BUILDAH_ISOLATION', 'BUILDAH_FORMAT'],
  // The docker CLI talks to its daemon (which does the network part, with its own proxy settings).
  docker: [
    ...NETWORK,
    'DOCKER_HOST',
    'DOCKER_CONTEXT',
    'DOCKER_CONFIG',
    'DOCKER_TLS_VERIFY',
    'DOCKER_CERT_PATH',
    'DOCKER_API_VERSION',
  ],
  // update-ca-certificates / update-ca-trust only rewrite files under /etc.
  'trust-update': [],
};

/** Prefixes passed whole: locale categories, and containers config overrides (CONTAINERS_CONF, …). */
function allowedByPrefix(program: ChildProgram, name: string): boolean {
  if (name.startsWith('LC_')) return true;
  return program !== 'docker' && program !== 'trust-update' && name.startsWith('CONTAINERS_');
}

/**
 * The environment for `program`: the allowed variables of `parent`, then `extra` (our own settings, such
 * as the auth file path) on top.
 */
export function childEnvironment(
  program: ChildProgram,
  extra: Readonly<Record<string, string>> = {},
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  // Tests run other programs (sh) through the same code: they get the base list only.
  const own = Object.hasOwn(EXTRA, program) ? EXTRA[program] : [];
  const allowed = new Set([...BASE, ...own]);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (allowed.has(name) || allowedByPrefix(program, name)) env[name] = value;
  }
  return { ...env, ...extra };
}
