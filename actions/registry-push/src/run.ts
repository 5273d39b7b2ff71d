import { debug, setFailed, warning } from '@actions/core';
import { formatError, isRegistryPushError } from '@registry-push/core';
import { scrub } from './secrets.js';

/** What a failure of the step does: fail the job (main), or only warn (post: cleanup never fails a job). */
export type OnFailure = 'fail' | 'warn';

/**
 * Run one step of the action. This is the only place that fails the job: the message is the core's one line
 * (what happened, what to do, the code), with every known secret scrubbed. Errors that are not ours are bugs
 * or platform trouble; their stack goes to the debug log.
 */
export async function run(step: () => Promise<void>, onFailure: OnFailure = 'fail'): Promise<void> {
  try {
    await step();
  } catch (error) {
    const line = scrub(formatError(error));
    if (!isRegistryPushError(error) && error instanceof Error && error.stack !== undefined) {
      debug(scrub(error.stack));
    }
    if (onFailure === 'fail') setFailed(line);
    else warning(`Cleanup did not finish: ${line}`, { title: 'registry-push cleanup' });
  }
}
