// The registry operator's image pruner controller: `imagepruners/cluster` drives CronJob `image-pruner` in
// openshift-image-registry, and its status says whether the CronJob exists, whether it is suspended, and how
// the newest finished pruner Job ended. Jobs never run here; a test writes a Job's status to set a result.
import { isJsonObject, jsonEqual, objectAt, stringAt, type JsonObject } from '../json.js';
import { mergeConditions, type Condition } from './conditions.js';
import { coalesced, systemContext, type ControllerParts } from './system.js';

const NAMESPACE = 'openshift-image-registry';
const CRONJOB = 'image-pruner';
/** The schedule the CronJob gets when `spec.schedule` is empty. */
export const DEFAULT_PRUNER_SCHEDULE = '0 0 * * *';
const GROUP = 'imageregistry.operator.openshift.io';

function conditionsOf(object: JsonObject | undefined): JsonObject[] {
  const list = objectAt(object, 'status')?.['conditions'];
  return Array.isArray(list) ? list.filter(isJsonObject) : [];
}

/** The newest finished pruner Job's outcome, as the `Failed` condition. */
function failedCondition(jobs: JsonObject[]): Condition | undefined {
  const finished = jobs
    .map((job) => {
      const done = conditionsOf(job).find(
        (c) => (c['type'] === 'Complete' || c['type'] === 'Failed') && c['status'] === 'True',
      );
      return done === undefined ? undefined : { job, done };
    })
    .filter((entry) => entry !== undefined)
    .sort((a, b) =>
      (stringAt(a.done, 'lastTransitionTime') ?? '').localeCompare(
        stringAt(b.done, 'lastTransitionTime') ?? '',
      ),
    );
  const newest = finished.at(-1);
  if (newest === undefined) return undefined;
  if (newest.done['type'] === 'Complete') {
    return { type: 'Failed', status: 'False', reason: 'Complete', message: 'Pruner completed successfully' };
  }
  return {
    type: 'Failed',
    status: 'True',
    reason: stringAt(newest.done, 'reason') ?? 'Failed',
    message: stringAt(newest.done, 'message') ?? 'Job failed',
  };
}

/** Keeps CronJob `image-pruner` and the `imagepruners/cluster` status in line with its spec. */
export class ImagePrunerController {
  private readonly ctx;
  private readonly trigger: () => void;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(
    private readonly parts: ControllerParts,
    onError: (err: unknown) => void,
  ) {
    this.ctx = systemContext(parts, 'openshift-image-registry:cluster-image-registry-operator', NAMESPACE);
    this.trigger = coalesced(() => this.reconcile(), onError);
  }

  start(): void {
    for (const key of [`imagepruners.${GROUP}`, 'cronjobs.batch', 'jobs.batch']) {
      this.unsubscribers.push(this.parts.store.subscribe(key, undefined, this.trigger));
    }
    this.trigger();
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers) unsubscribe();
  }

  private reconcile(): void {
    const { service, catalog } = this.parts;
    const prunerType = catalog.require(GROUP, 'imagepruners');
    const pruner = service.find(prunerType, '', 'cluster', this.ctx);
    if (!pruner) return;
    const spec = objectAt(pruner, 'spec') ?? {};
    const schedule = stringAt(spec, 'schedule') ?? '';
    const suspended = spec['suspend'] === true;
    this.ensureCronJob(schedule === '' ? DEFAULT_PRUNER_SCHEDULE : schedule, suspended);
    const jobs = this.parts.store
      .list('jobs.batch', NAMESPACE)
      .filter((job) => stringAt(objectAt(objectAt(job, 'metadata'), 'labels'), 'created-by') === CRONJOB);
    const failed = failedCondition(jobs);
    const desired: Condition[] = [
      {
        type: 'Available',
        status: 'True',
        reason: 'AsExpected',
        message: 'Pruner CronJob has been created',
      },
      suspended
        ? {
            type: 'Scheduled',
            status: 'False',
            reason: 'Suspended',
            message: 'The pruner job has been suspended',
          }
        : {
            type: 'Scheduled',
            status: 'True',
            reason: 'Scheduled',
            message: 'The pruner job has been scheduled',
          },
      failed?.status === 'True'
        ? { type: 'Degraded', status: 'True', reason: 'JobFailed', message: failed.message ?? '' }
        : { type: 'Degraded', status: 'False', reason: 'AsExpected' },
      ...(failed !== undefined ? [failed] : []),
    ];
    const old = objectAt(pruner, 'status') ?? {};
    const status: JsonObject = {
      ...old,
      observedGeneration: objectAt(pruner, 'metadata')?.['generation'] ?? 1,
      conditions: mergeConditions(old['conditions'], desired),
    };
    if (jsonEqual(status, old)) return;
    service.update({ type: prunerType, namespace: '', name: 'cluster' }, { ...pruner, status }, this.ctx, {
      subresource: 'status',
    });
  }

  private ensureCronJob(schedule: string, suspend: boolean): void {
    const { service, catalog } = this.parts;
    const type = catalog.require('batch', 'cronjobs');
    const spec: JsonObject = {
      schedule,
      suspend,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: { 'created-by': CRONJOB } },
        spec: {
          template: {
            metadata: { labels: { app: CRONJOB } },
            spec: {
              serviceAccountName: 'pruner',
              restartPolicy: 'OnFailure',
              containers: [
                {
                  name: CRONJOB,
                  image: 'quay.io/openshift/origin-cli:latest',
                  command: ['/bin/sh', '-c'],
                  args: ['oc adm prune images --confirm=true'],
                },
              ],
            },
          },
        },
      },
    };
    const existing = service.find(type, NAMESPACE, CRONJOB, this.ctx);
    if (!existing) {
      service.create(type, NAMESPACE, { metadata: { name: CRONJOB }, spec }, {}, this.ctx);
    } else if (!jsonEqual(objectAt(existing, 'spec'), spec)) {
      service.update({ type, namespace: NAMESPACE, name: CRONJOB }, { ...existing, spec }, this.ctx);
    }
  }
}
