import { RegistryPushError } from '../src/errors.js';

/**
 * The typed error `promise` rejects with. Fails the test when it resolves, and passes any other error on
 * as it is, so an unexpected failure shows its own message.
 */
export async function failure(promise: Promise<unknown>): Promise<RegistryPushError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryPushError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}
