// The service-ca operator's CA bundle injection: a ConfigMap annotated
// `service.beta.openshift.io/inject-cabundle: "true"` gets the service CA as `data["service-ca.crt"]`, and
// gets it back when a write removes or changes it.
import { isJsonObject, objectAt, stringAt, type JsonObject } from '../json.js';
import { ApiError } from '../api/status.js';
import { coalesced, systemContext, type ControllerParts } from './system.js';

export const INJECT_CABUNDLE = 'service.beta.openshift.io/inject-cabundle';
const KEY = 'service-ca.crt';

/** Keeps the service CA in every ConfigMap that asks for it. */
export class ServiceCaInjector {
  private unsubscribe: (() => void) | undefined;
  private readonly pending = new Set<string>();

  constructor(
    private readonly parts: ControllerParts,
    private readonly serviceCaPem: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    const run = coalesced(() => this.injectPending(), this.onError);
    for (const object of this.parts.store.list('configmaps')) this.consider(object);
    run();
    this.unsubscribe = this.parts.store.subscribe('configmaps', undefined, (event) => {
      if (event.type === 'DELETED') return;
      if (this.consider(event.object)) run();
    });
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** Whether the ConfigMap asks for the bundle and lacks it. */
  private lacksBundle(object: JsonObject): boolean {
    const metadata = objectAt(object, 'metadata');
    if (stringAt(objectAt(metadata, 'annotations'), INJECT_CABUNDLE) !== 'true') return false;
    return stringAt(objectAt(object, 'data'), KEY) !== this.serviceCaPem;
  }

  /** Queues the ConfigMap when it lacks the bundle it asks for; true when queued. */
  private consider(object: JsonObject): boolean {
    if (!this.lacksBundle(object)) return false;
    const metadata = objectAt(object, 'metadata');
    this.pending.add(`${stringAt(metadata, 'namespace') ?? ''}/${stringAt(metadata, 'name') ?? ''}`);
    return true;
  }

  private injectPending(): void {
    const type = this.parts.catalog.require('', 'configmaps');
    for (const key of [...this.pending]) {
      this.pending.delete(key);
      const [namespace = '', name = ''] = key.split('/');
      const current = this.parts.store.get('configmaps', namespace, name);
      if (!current || !this.lacksBundle(current)) continue;
      const data = isJsonObject(current['data']) ? current['data'] : {};
      const ctx = systemContext(this.parts, 'openshift-service-ca:service-ca', namespace);
      try {
        this.parts.service.update(
          { type, namespace, name },
          { ...current, data: { ...data, [KEY]: this.serviceCaPem } },
          ctx,
        );
      } catch (err) {
        // Deleted or changed meanwhile: the next event brings it back here.
        if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) this.onError(err);
      }
    }
  }
}
