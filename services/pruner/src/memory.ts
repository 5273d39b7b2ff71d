/**
 * A full garbage collection, where the process allows it (`--expose-gc`, as the deploy manifests run the
 * worker). After a plan is stored, the snapshot and the plan it was made from (hundreds of MiB at 100k
 * Images) are garbage that V8 keeps until the heap grows further, and the live view is built next: without
 * a collection in between, the two add up to the worker's peak. One collection per run costs well under
 * a second; without `--expose-gc` this does nothing.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
