// Chooses how route hosts reach the router and starts it: with /etc/hosts entries to a loopback address of
// its own on :443 where the process may (root), else on 127.0.0.1 and a free port.
import { constants, accessSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import type { CertificateAndKey } from '@registry-push/testkit';
import type { ObjectStore } from '../api/store.js';
import { admittedHost } from '../operator/registry-operator.js';
import { HostsFile } from './hosts-file.js';
import { Router, routesTo, type Backend } from './router.js';

/** `hosts`: route hosts resolve through /etc/hosts to the router on :443. `port`: the router has a port. */
export type RouterMode = 'hosts' | 'port';

/** Options of {@link startRouter}. */
export interface StartRouterOptions {
  mode: RouterMode | 'auto';
  store: ObjectStore;
  /** Unique per simulator; tags its /etc/hosts lines. */
  id: string;
  defaultCertificate: CertificateAndKey;
  /** The registry service behind `openshift-image-registry/image-registry`. */
  registry: Backend;
  onError: (err: unknown) => void;
  hostsPath?: string;
}

/** A running router. */
export interface RunningRouter {
  address: string;
  mode: RouterMode;
  stop(): Promise<void>;
}

function canUseHostsFile(path: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function pickLoopbackAddress(path: string): string {
  const used = HostsFile.addressesInUse(path);
  for (;;) {
    const address = `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    if (!used.has(address)) return address;
  }
}

/** Binds :443 on a loopback address no other simulator uses, trying a few in case one is taken. */
async function listenOnFreshLoopback(router: Router, hostsPath: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await router.listen(pickLoopbackAddress(hostsPath), 443);
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

/** Starts the router in the requested (or best available) mode. */
export async function startRouter(options: StartRouterOptions): Promise<RunningRouter> {
  const hostsPath = options.hostsPath ?? '/etc/hosts';
  const router = new Router({
    store: options.store,
    defaultCertificate: options.defaultCertificate,
    backendFor: (route) => {
      if (!routesTo(route, 'openshift-image-registry', 'image-registry')) return undefined;
      // Read in place (every request asks): only the state is looked at.
      const config = options.store.peek('configs.imageregistry.operator.openshift.io', '', 'cluster');
      const state = (config?.['spec'] as { managementState?: unknown } | undefined)?.managementState;
      return state === 'Removed' ? undefined : options.registry;
    },
  });
  const wantHosts = options.mode === 'hosts' || (options.mode === 'auto' && canUseHostsFile(hostsPath));
  if (options.mode === 'hosts' && !canUseHostsFile(hostsPath)) {
    throw new Error(
      `routerMode "hosts" needs root and a writable ${hostsPath}; use routerMode "port" instead`,
    );
  }
  if (!wantHosts) {
    const address = await router.listen('127.0.0.1', 0);
    return { address, mode: 'port', stop: () => router.close() };
  }

  const address = await listenOnFreshLoopback(router, hostsPath);
  const ip = address.split(':')[0] ?? '';
  const hostsFile = new HostsFile(options.id, ip, hostsPath);
  const exitHook = (): void => hostsFile.clearNow();
  process.once('exit', exitHook);
  // For the ends no exit hook sees: out of heap, SIGKILL.
  const stopWatchdog = hostsFile.startWatchdog();
  // Serialised: each sync writes the then-current set of admitted hosts.
  let pending: Promise<void> = Promise.resolve();
  const sync = (): void => {
    pending = pending
      .then(() =>
        hostsFile.set(options.store.list('routes.route.openshift.io').flatMap((r) => admittedHost(r) ?? [])),
      )
      .catch(options.onError);
  };
  const unsubscribe = options.store.subscribe('routes.route.openshift.io', undefined, sync);
  sync();
  await pending;
  return {
    address,
    mode: 'hosts',
    async stop(): Promise<void> {
      unsubscribe();
      await pending;
      await hostsFile.clear();
      await stopWatchdog();
      process.removeListener('exit', exitHook);
      await router.close();
    },
  };
}
