/** Commands made of actions (`config get`, `trusted-ca add`): the first word after the command picks one. */
import type { CommandResult, Io } from './context.js';
import { UsageError, type Options } from './options.js';

/** One action: the command's options, the output, and the words after the action's name. */
export type CommandAction = (options: Options, io: Io, args: readonly string[]) => Promise<CommandResult>;

/** `a, b or c`. */
function spoken(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1) ?? ''}`;
}

/**
 * Runs the action the first positional names.
 *
 * @throws UsageError when it names none, or one the command does not have (both list the actions).
 */
export function runAction(
  command: string,
  actions: Readonly<Record<string, CommandAction>>,
  options: Options,
  io: Io,
  positionals: readonly string[],
): Promise<CommandResult> {
  const [action, ...args] = positionals;
  const names = Object.keys(actions);
  const run = action === undefined || !Object.hasOwn(actions, action) ? undefined : actions[action];
  if (action === undefined || run === undefined) {
    throw new UsageError(
      action === undefined
        ? `${command} needs an action: ${spoken(names)}`
        : `${command} action must be ${spoken(names)}, not "${action.slice(0, 40)}"`,
    );
  }
  return run(options, io, args);
}
