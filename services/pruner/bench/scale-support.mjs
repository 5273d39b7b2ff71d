/* global process, setInterval, clearInterval */
// Shared by the pruner's scale benchmarks: filling openshift-sim through its API with the synthetic cluster
// of packages/core/bench/prune-scale-fixture.mjs, and sampling a process's peak RSS.
import { readFile } from 'node:fs/promises';
import { Pool } from 'undici';
import { syntheticCluster } from '../../../packages/core/bench/prune-scale-fixture.mjs';

export const CONCURRENCY = 32;

/** What the API server sets itself: a create must not carry it (the simulator, like kube, refuses it). */
export function forCreate(object) {
  const { uid: _uid, resourceVersion: _rv, creationTimestamp: _created, ...metadata } = object.metadata;
  return { ...object, metadata };
}

/** Runs `task` over `items`, `concurrency` at a time. */
export async function pool(items, task, concurrency = CONCURRENCY) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** A JSON API call as kubeadmin over one keep-alive pool (far quicker than a full client per object). */
export function apiCaller(cluster, connections = CONCURRENCY) {
  const api = new Pool(cluster.apiServer, { connections, connect: { ca: cluster.apiCaPem } });
  const call = async (method, path, body) => {
    const response = await api.request({
      method,
      path,
      headers: {
        authorization: `Bearer ${cluster.users.kubeadmin.token}`,
        'content-type': 'application/json',
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
    return JSON.parse(text);
  };
  return { call, close: () => api.close() };
}

/**
 * Creates the synthetic cluster of `imageCount` Images (a fifth as many streams with histories, half as many
 * Pods) in the simulator through its API; resolves with the counts.
 */
export async function seed(cluster, imageCount) {
  const { call, close } = apiCaller(cluster);
  const namespaces = new Set();
  let counts = { images: 0, streams: 0, pods: 0 };
  try {
    for (const { kind, items } of syntheticCluster(imageCount)) {
      const fresh = [...new Set(items.map((item) => item.metadata.namespace))].filter(
        (namespace) => namespace !== undefined && !namespaces.has(namespace),
      );
      for (const namespace of fresh) namespaces.add(namespace);
      await pool(fresh, (name) => call('POST', '/api/v1/namespaces', { metadata: { name } }));
      if (kind === 'images') {
        await pool(items, (image) => call('POST', '/apis/image.openshift.io/v1/images', forCreate(image)));
      }
      if (kind === 'pods') {
        await pool(items, (pod) =>
          call('POST', `/api/v1/namespaces/${pod.metadata.namespace}/pods`, forCreate(pod)),
        );
      }
      if (kind === 'streams') {
        await pool(items, async (stream) => {
          const { status, ...rest } = forCreate(stream);
          const streams = `/apis/image.openshift.io/v1/namespaces/${stream.metadata.namespace}/imagestreams`;
          const created = await call('POST', streams, rest);
          await call('PUT', `${streams}/${stream.metadata.name}/status`, { ...created, status });
        });
      }
      counts = { ...counts, [kind]: counts[kind] + items.length };
    }
  } finally {
    await close();
  }
  return counts;
}

/** Samples VmHWM (peak RSS) of `pid` every `everyMs`; `stop()` resolves with the peak in MiB. */
export function peakRssSampler(pid, everyMs = 25) {
  let peakKiB = 0;
  const sample = () =>
    readFile(`/proc/${pid}/status`, 'utf8').then(
      (status) => {
        const match = /VmHWM:\s+(\d+) kB/.exec(status);
        if (match) peakKiB = Math.max(peakKiB, Number(match[1]));
      },
      () => undefined,
    );
  const timer = setInterval(sample, everyMs);
  return {
    sample,
    stop: async () => {
      clearInterval(timer);
      await sample();
      return peakKiB / 1024;
    },
  };
}

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const fmt = (values, digits) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

/** The environment every spawned pruner process starts from. */
export const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' });
