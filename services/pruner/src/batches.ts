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
