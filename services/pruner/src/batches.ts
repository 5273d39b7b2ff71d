/**
 * How image units are spread over jobs. An image unit decides whether a shared blob may go by looking at
 * which other images of the plan are being kept, and it learns that from the units that ran before it in
 * the same process. So units linked by a shared blob or a parent manifest list must run in one job, one
 * after the other; unrelated groups are packed into batches and run anywhere, in any order.
 */
import type { ImageUnit } from '@registry-push/core';

class DisjointSets {
  readonly #parent = new Map<string, string>();

  find(key: string): string {
    let root = key;
    for (
      let next = this.#parent.get(root);
      next !== undefined && next !== root;
      next = this.#parent.get(root)
    )
      root = next;
    // Path compression keeps later finds short.
    for (let node = key; node !== root;) {
      const next = this.#parent.get(node) ?? root;
      this.#parent.set(node, root);
      node = next;
    }
    return root;
  }

  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(rb, ra);
  }
}

/** Groups of units that must run together in plan order: linked by shared blobs or list parents. */
export function linkedGroups(units: readonly ImageUnit[]): ImageUnit[][] {
  const inPlan = new Set(units.map((unit) => unit.digest));
  const sets = new DisjointSets();
  for (const unit of units) {
    sets.find(unit.digest);
    for (const parent of unit.parents) if (inPlan.has(parent)) sets.union(unit.digest, parent);
    for (const blob of unit.blobs) {
      for (const other of blob.sharedWith) if (inPlan.has(other)) sets.union(unit.digest, other);
    }
  }
  const groups = new Map<string, ImageUnit[]>();
  for (const unit of units) {
    const root = sets.find(unit.digest);
    const group = groups.get(root);
    if (group === undefined) groups.set(root, [unit]);
    else group.push(unit);
  }
  return [...groups.values()];
}

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
