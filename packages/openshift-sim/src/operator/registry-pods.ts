// The registry's Deployment and its pods, standing in for the deployment controller and the kubelet: pods
// named `image-registry-<template hash>-<suffix>`, one per replica, Running and Ready after the rollout
// delay; a new template hash (a storage change) replaces them all at once, as the Recreate strategy does.
import { randomBytes } from 'node:crypto';
import { isJsonObject, jsonEqual, objectAt, stringAt, type JsonObject } from '../json.js';
import { ApiError } from '../api/status.js';
import type { RequestContext, ResourceType } from '../api/types.js';
import type { ControllerParts } from './system.js';

const NAMESPACE = 'openshift-image-registry';
const NAME = 'image-registry';
const LABELS = { 'docker-registry': 'default' };
const IMAGE = 'quay.io/openshift/origin-docker-registry:latest';

/** How many pods exist and how many are ready. */
export interface PodCounts {
  total: number;
  ready: number;
}

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function isReady(pod: JsonObject): boolean {
  const conditions = objectAt(pod, 'status')?.['conditions'];
  return (
    Array.isArray(conditions) &&
    conditions.some((c) => isJsonObject(c) && c['type'] === 'Ready' && c['status'] === 'True')
  );
}

/** The registry Deployment and pods of the simulated cluster. */
export class RegistryPods {
  private readonly readyAt = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly parts: ControllerParts,
    private readonly ctx: RequestContext,
    private readonly rolloutDelayMs: number,
    private readonly retrigger: () => void,
  ) {}

  private type(group: string, plural: string): ResourceType {
    return this.parts.catalog.require(group, plural);
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private pods(): JsonObject[] {
    return this.parts.store
      .list('pods', NAMESPACE)
      .filter(
        (pod) => stringAt(objectAt(objectAt(pod, 'metadata'), 'labels'), 'docker-registry') === 'default',
      );
  }

  /** What the registry process prints when it starts (logrus text format, as the real registry). */
  private writeStartLines(pod: string): void {
    const logs = this.parts.podLogs;
    if (logs === undefined) return;
    const at = new Date().toISOString();
    logs.append(
      NAMESPACE,
      pod,
      `time="${at}" level=info msg="start registry" distribution_version=v3.0.0+unknown go.version=go1.22.5 openshift_version=4.17.0`,
    );
    logs.append(
      NAMESPACE,
      pod,
      `time="${at}" level=info msg="caching project quota objects with TTL 1m0s" go.version=go1.22.5`,
    );
    logs.append(NAMESPACE, pod, `time="${at}" level=info msg="redis not configured" go.version=go1.22.5`);
    logs.append(
      NAMESPACE,
      pod,
      `time="${at}" level=info msg="Starting upload purge in 55m0s" go.version=go1.22.5`,
    );
    logs.append(NAMESPACE, pod, `time="${at}" level=info msg="listening on :5000, tls" go.version=go1.22.5`);
  }

  private deleteQuietly(type: ResourceType, name: string): void {
    if (type.plural === 'pods') this.parts.podLogs?.remove(NAMESPACE, name);
    try {
      this.parts.service.delete({ type, namespace: NAMESPACE, name }, this.ctx);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }

  private createPod(hash: string): void {
    const name = `${NAME}-${hash}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const podType = this.type('', 'pods');
    const created = this.parts.service.create(
      podType,
      NAMESPACE,
      {
        metadata: { name, labels: { ...LABELS, 'pod-template-hash': hash } },
        spec: { serviceAccountName: 'registry', containers: [{ name: 'registry', image: IMAGE }] },
      },
      {},
      this.ctx,
    );
    this.writeStartLines(name);
    this.readyAt.set(name, Date.now() + this.rolloutDelayMs);
    this.setStatus(created.object, this.rolloutDelayMs <= 0);
    if (this.rolloutDelayMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.retrigger();
      }, this.rolloutDelayMs + 5);
      timer.unref();
      this.timers.add(timer);
    }
  }

  private setStatus(pod: JsonObject, ready: boolean): void {
    const status: JsonObject = {
      phase: 'Running',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: now() },
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: now() },
      ],
      containerStatuses: [{ name: 'registry', image: IMAGE, ready, restartCount: 0 }],
    };
    const name = stringAt(objectAt(pod, 'metadata'), 'name') ?? '';
    this.parts.service.update(
      { type: this.type('', 'pods'), namespace: NAMESPACE, name },
      { ...pod, status },
      this.ctx,
      { subresource: 'status' },
    );
  }

  /** Bring the Deployment and pods to `replicas` of template `hash`; returns the pod counts. */
  reconcile(replicas: number, hash: string): PodCounts {
    this.ensureDeployment(replicas, hash);
    for (const pod of this.pods()) {
      const name = stringAt(objectAt(pod, 'metadata'), 'name') ?? '';
      if (stringAt(objectAt(objectAt(pod, 'metadata'), 'labels'), 'pod-template-hash') !== hash) {
        this.deleteQuietly(this.type('', 'pods'), name);
        this.readyAt.delete(name);
      }
    }
    let current = this.pods();
    for (const extra of current.slice(replicas)) {
      const name = stringAt(objectAt(extra, 'metadata'), 'name') ?? '';
      this.deleteQuietly(this.type('', 'pods'), name);
      this.readyAt.delete(name);
    }
    for (let i = current.length; i < replicas; i++) this.createPod(hash);
    current = this.pods();
    for (const pod of current) {
      const name = stringAt(objectAt(pod, 'metadata'), 'name') ?? '';
      if (!isReady(pod) && (this.readyAt.get(name) ?? 0) <= Date.now()) this.setStatus(pod, true);
    }
    const counts = { total: current.length, ready: this.pods().filter(isReady).length };
    this.writeDeploymentStatus(counts);
    return counts;
  }

  private ensureDeployment(replicas: number, hash: string): void {
    const { service } = this.parts;
    const deployments = this.type('apps', 'deployments');
    const desired: JsonObject = {
      replicas,
      selector: { matchLabels: LABELS },
      template: {
        metadata: {
          labels: LABELS,
          annotations: { 'imageregistry.operator.openshift.io/template-hash': hash },
        },
        spec: { serviceAccountName: 'registry', containers: [{ name: 'registry', image: IMAGE }] },
      },
    };
    const existing = service.find(deployments, NAMESPACE, NAME, this.ctx);
    if (!existing) {
      service.create(
        deployments,
        NAMESPACE,
        { metadata: { name: NAME, labels: LABELS }, spec: desired },
        {},
        this.ctx,
      );
      return;
    }
    const spec = { ...(objectAt(existing, 'spec') ?? {}), ...desired };
    if (!jsonEqual(spec, objectAt(existing, 'spec'))) {
      service.update(
        { type: deployments, namespace: NAMESPACE, name: NAME },
        { ...existing, spec },
        this.ctx,
      );
    }
  }

  private writeDeploymentStatus(counts: PodCounts): void {
    const deployments = this.type('apps', 'deployments');
    const current = this.parts.service.get(deployments, NAMESPACE, NAME, this.ctx);
    const status: JsonObject = {
      replicas: counts.total,
      readyReplicas: counts.ready,
      availableReplicas: counts.ready,
      updatedReplicas: counts.total,
    };
    if (jsonEqual(objectAt(current, 'status'), status)) return;
    this.parts.service.update(
      { type: deployments, namespace: NAMESPACE, name: NAME },
      { ...current, status },
      this.ctx,
      { subresource: 'status' },
    );
  }

  /** Delete the Deployment and its pods (Removed, or storage that cannot be used). */
  removeAll(): void {
    this.deleteQuietly(this.type('apps', 'deployments'), NAME);
    for (const pod of this.pods())
      this.deleteQuietly(this.type('', 'pods'), stringAt(objectAt(pod, 'metadata'), 'name') ?? '');
    this.readyAt.clear();
  }
}
