import type { PortErrorFactory } from '@registry-push/testkit';
import { RegistryPushError, type ErrorCode } from '../../src/errors.js';

/** The in-memory ports speak the core's error type, so code under test sees what the real clients throw. */
export const coreError: PortErrorFactory = (code, message, { status, retryable }) =>
  new RegistryPushError(code as ErrorCode, message, { retryable, details: { status } });
