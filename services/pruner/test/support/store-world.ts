// What the store contract suites (`store-contract.ts`, `undo-store-contract.ts`) run against: one store per
// test, as the workers of one deployment share it, and a way to move its time on.
import type { RunStore } from '../../src/store/run-store.js';
import type { UndoStore } from '../../src/store/undo-store.js';

/** One store, empty, as the workers of one deployment share it. */
export interface StoreWorld {
  /** The run store as one worker has it. */
  runs: RunStore;
  /** The same run store as a second worker has it (its own connection, where there are connections). */
  otherRuns: RunStore;
  /** The undo store as one worker has it. */
  undo: UndoStore;
  /** The same undo store as a second worker has it. */
  otherUndo: UndoStore;
  /** Moves the store's time on by `ms` (what expires, expires). */
  advance: (ms: number) => Promise<void>;
}

/** Opens a new, empty {@link StoreWorld}; called once per test. */
export type OpenStores = () => Promise<StoreWorld>;
