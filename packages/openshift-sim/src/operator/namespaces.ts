// Every namespace gets the CA bundles kube and OpenShift publish into it, and the `default`
// ServiceAccount, as their controllers do.
import { stringAt, objectAt } from '../json.js';
import { ApiError } from '../api/status.js';
import { systemContext, type ControllerParts } from './system.js';

/** Publishes `kube-root-ca.crt`, `openshift-service-ca.crt` and ServiceAccount `default` into each new namespace. */
export class NamespaceBundles {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly parts: ControllerParts,
    private readonly bundles: { apiCa: string; serviceCa: string },
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    for (const ns of this.parts.store.list('namespaces'))
      this.publish(stringAt(objectAt(ns, 'metadata'), 'name') ?? '');
    this.unsubscribe = this.parts.store.subscribe('namespaces', undefined, (event) => {
      if (event.type !== 'ADDED') return;
      const name = stringAt(objectAt(event.object, 'metadata'), 'name') ?? '';
      setImmediate(() => this.publish(name));
    });
  }

  stop(): void {
    this.unsubscribe?.();
  }

  private publish(namespace: string): void {
    const ctx = systemContext(this.parts, 'kube-system:root-ca-cert-publisher', namespace);
    const configmaps = this.parts.catalog.require('', 'configmaps');
    const wanted: Array<{ name: string; data: Record<string, string> }> = [
      { name: 'kube-root-ca.crt', data: { 'ca.crt': this.bundles.apiCa } },
      { name: 'openshift-service-ca.crt', data: { 'service-ca.crt': this.bundles.serviceCa } },
    ];
    for (const { name, data } of wanted) {
      try {
        if (!this.parts.store.get('configmaps', namespace, name)) {
          this.parts.service.create(configmaps, namespace, { metadata: { name }, data }, {}, ctx);
        }
      } catch (err) {
        if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) this.onError(err);
      }
    }
    try {
      if (!this.parts.store.get('serviceaccounts', namespace, 'default')) {
        const accounts = this.parts.catalog.require('', 'serviceaccounts');
        this.parts.service.create(accounts, namespace, { metadata: { name: 'default' } }, {}, ctx);
      }
    } catch (err) {
      if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) this.onError(err);
    }
  }
}
