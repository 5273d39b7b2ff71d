/**
 * How image units are spread over jobs: units linked by a shared blob or a parent manifest list (the core's
 * `linkedGroups`) run in one job, one after the other; unrelated groups are packed into batches and run
 * anywhere, in any order.
 */
import { linkedGroups, type ImageUnit } from '@registry-push/core';

/**
 * Packs the image units into batches of about `size` units; a linked group is never split, so a batch can
 * be larger than `size` when one group is.
 *
 * @param units The plan's image units, in plan order.
 * @param size Units per batch to aim for.
 * @returns Unit ids per batch; within a batch, in plan order.
 */
export function imageBatches(units: readonly ImageUnit[], size: number): string[][] {
  const order = new Map(units.map((unit, index) => [unit.id, index]));
  const batches: ImageUnit[][] = [];
  let current: ImageUnit[] = [];
  for (const group of linkedGroups(units)) {
    if (current.length > 0 && current.length + group.length > size) {
      batches.push(current);
      current = [];
    }
    current.push(...group);
  }
  if (current.length > 0) batches.push(current);
  return batches.map((batch) =>
    batch.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0)).map((unit) => unit.id),
  );
}

/**
 * The image units a stream unit's job hands on as soon as that stream unit is through ("followers"),
 * instead of leaving them for phase 2: those whose only prerequisite is that stream unit (`dependsOn`),
 * that share no blob with another planned image and have no planned list parent or child (a linked group
 * of one). Once that stream's history no longer names the image, nothing else the plan has to do stands
 * between it and its deletion, and every delete is still decided on the live view at its moment.
 *
 * Why: a stream unit's link deletes are registry calls and an Image delete is an API call, each side with a
 * pace of its own; in two phases each phase is bound by one side while the other waits. Followers run
 * in jobs of their own queue with slots of their own (`PRUNER_FOLLOWER_CONCURRENCY`), so they never take a
 * slot from the stream units.
 *
 * @returns Image unit ids by stream unit id, in plan order.
 */
export function streamFollowers(units: readonly ImageUnit[]): Map<string, string[]> {
  const followers = new Map<string, string[]>();
  for (const group of linkedGroups(units)) {
    if (group.length !== 1) continue;
    const [unit] = group as [ImageUnit];
    if (unit.dependsOn.length !== 1 || unit.parents.length > 0) continue;
    const stream = unit.dependsOn[0]!;
    const list = followers.get(stream);
    if (list === undefined) followers.set(stream, [unit.id]);
    else list.push(unit.id);
  }
  return followers;
}
