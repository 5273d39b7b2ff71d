// The default IngressController's side of routes: it admits each route (status.ingress with
// Admitted=True) after a delay, or rejects it when an older route already claimed the same host and path.
import { isJsonObject, objectAt, stringAt, type JsonObject } from '../json.js';
import { ApiError } from '../api/status.js';
import { mergeConditions } from './conditions.js';
import { admittedHost } from './registry-operator.js';
import { coalesced, systemContext, type ControllerParts } from './system.js';

const ROUTER = 'default';

function routerEntry(route: JsonObject): JsonObject | undefined {
  const ingress = objectAt(route, 'status')?.['ingress'];
  return Array.isArray(ingress)
    ? ingress.filter(isJsonObject).find((i) => i['routerName'] === ROUTER)
    : undefined;
}

function hostOf(route: JsonObject, appsDomain: string): string {
  const spec = objectAt(route, 'spec') ?? {};
  const host = stringAt(spec, 'host') ?? '';
  if (host !== '') return host;
  const subdomain = stringAt(spec, 'subdomain') ?? '';
  return subdomain !== '' ? `${subdomain}.${appsDomain}` : '';
}

const uid = (route: JsonObject): string => stringAt(objectAt(route, 'metadata'), 'uid') ?? '';

/** Admits routes for the router named `default`. */
export class RouterAdmission {
  private readonly trigger: () => void;
  private unsubscribe: (() => void) | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ctx;

  constructor(
    private readonly parts: ControllerParts,
    private readonly delayMs: number,
    private readonly onError: (err: unknown) => void,
  ) {
    this.ctx = systemContext(parts, 'openshift-ingress:router');
    this.trigger = coalesced(() => this.schedule(), onError);
  }

  start(): void {
    this.unsubscribe = this.parts.store.subscribe('routes.route.openshift.io', undefined, this.trigger);
    this.schedule();
  }

  stop(): void {
    this.unsubscribe?.();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(): void {
    if (this.delayMs <= 0) {
      this.admitAll();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        this.admitAll();
      } catch (err) {
        this.onError(err);
      }
    }, this.delayMs);
    this.timers.add(timer);
  }

  /** Creation order: the older route keeps a contested host. */
  private age(route: JsonObject): number {
    const meta = objectAt(route, 'metadata');
    return this.parts.store.creationRevision(
      'routes.route.openshift.io',
      stringAt(meta, 'namespace') ?? '',
      stringAt(meta, 'name') ?? '',
    );
  }

  private admitAll(): void {
    const routes = this.parts.store.list('routes.route.openshift.io');
    const appsDomain = this.parts.facts.appsDomain;
    for (const route of routes) {
      const host = hostOf(route, appsDomain);
      const entry = routerEntry(route);
      // Admitted routes keep their claim; rejected ones are looked at again, since the older route that
      // held the host may be gone (the router then admits the displaced one).
      if (entry && entry['host'] === host && admittedHost(route) === host) continue;
      const path = stringAt(objectAt(route, 'spec'), 'path') ?? '';
      const claimedBy = routes.find(
        (other) =>
          uid(other) !== uid(route) &&
          hostOf(other, appsDomain) === host &&
          (stringAt(objectAt(other, 'spec'), 'path') ?? '') === path &&
          this.age(other) < this.age(route),
      );
      const condition = claimedBy
        ? {
            type: 'Admitted',
            status: 'False' as const,
            reason: 'HostAlreadyClaimed',
            message: `route ${stringAt(objectAt(claimedBy, 'metadata'), 'name') ?? ''} already exposes ${host} and is older`,
          }
        : { type: 'Admitted', status: 'True' as const };
      this.writeStatus(route, host, condition);
    }
  }

  private writeStatus(
    route: JsonObject,
    host: string,
    condition: Parameters<typeof mergeConditions>[1][number],
  ): void {
    const meta = objectAt(route, 'metadata') ?? {};
    const ingress: JsonObject = {
      host,
      routerName: ROUTER,
      routerCanonicalHostname: `router-${ROUTER}.${this.parts.facts.appsDomain}`,
      wildcardPolicy: stringAt(objectAt(route, 'spec'), 'wildcardPolicy') ?? 'None',
      conditions: mergeConditions(routerEntry(route)?.['conditions'], [condition]),
    };
    const type = this.parts.catalog.require('route.openshift.io', 'routes');
    try {
      this.parts.service.update(
        { type, namespace: stringAt(meta, 'namespace') ?? '', name: stringAt(meta, 'name') ?? '' },
        { ...route, status: { ingress: [ingress] } },
        this.ctx,
        { subresource: 'status' },
      );
    } catch (err) {
      // Deleted or changed meanwhile: the watch brings the next version.
      if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
    }
  }
}
