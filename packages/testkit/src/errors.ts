/** Stable codes for everything the testkit can fail at; tests and scripts branch on these. */
export type TestkitErrorCode =
  'missing-binary' | 'service-start-failed' | 'service-timeout' | 'command-failed';

/**
 * The one error type the testkit throws. `message` says what happened and what to do; `code` is stable.
 */
export class TestkitError extends Error {
  override readonly name = 'TestkitError';

  constructor(
    readonly code: TestkitErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
