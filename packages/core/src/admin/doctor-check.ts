/**
 * The result of one doctor check, apart from the doctor itself so each check's module can build one
 * without importing the doctor that runs it.
 */
import type { ErrorCode } from '../errors.js';

/** The outcome of one check. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One check of `registryDoctor`. */
export interface DoctorCheck {
  /** Stable identifier (`token`, `storage`, `push-permission`, `pull-permission`, ...). */
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** The exact thing to do, for `fail` and `warn`. */
  fix?: string;
  /**
   * The error code, when the check failed because an operation threw: the same code the other commands
   * give for the same cause (CLUSTER_UNREACHABLE for an API server that cannot be reached, ...).
   */
  code?: ErrorCode;
}
