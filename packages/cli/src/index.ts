/**
 * `@registry-push/cli`: the `registry-push` command. Exported for embedding and tests; the binary is the
 * supported interface.
 *
 * @packageDocumentation
 */
export { main } from './main.js';
export type { Io } from './context.js';
export { OPTIONS, envName } from './options.js';
