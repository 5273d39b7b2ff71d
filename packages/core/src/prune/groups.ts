/**
 * Image units that must run one after the other, in plan order: those linked by a shared blob (the plan
 * gives it to the last of them, which deletes it only once the others are gone) or by a manifest list and
 * its children (the plan runs lists first). Unrelated groups can run anywhere, in any order.
 */
import type { ImageUnit } from './types.js';

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

/**
 * Groups of units that must run together in plan order: linked by shared blobs or list parents.
 *
 * @param units Image units, in plan order.
 * @returns The groups; within each, the units keep their order.
 */
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
