/**
 * The three kinds of failure dualsync knows:
 * - a user mistake (bad config, bad flag): message + hint, no stack, exit 1;
 * - a known operational failure (a listing failed, s5cmd failed): stable code, and whether a retry can help;
 * - a broken internal rule: "assertion failed", with the stack, asking for a bug report.
 *
 * Every code is one line of the table in model/error-codes.ts, which the docs are generated from.
 */

import type { ErrorCode, ErrorCodeOf, ErrorKind } from './model/error-codes.ts';

export type { ErrorCode, ErrorKind } from './model/error-codes.ts';

export interface DualsyncErrorOptions {
  hint?: string;
  retryable?: boolean;
  cause?: unknown;
  /** Extra lines printed under the message (e.g. one per config problem, or a diff). */
  details?: string[];
}

export class DualsyncError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly hint?: string;
  readonly retryable: boolean;
  readonly details: string[];

  constructor(kind: ErrorKind, code: ErrorCode, message: string, options: DualsyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DualsyncError';
    this.kind = kind;
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? [];
  }
}

/** A mistake the operator can fix: printed with its hint, never with a stack. */
export function userError(code: ErrorCodeOf<'user'>, message: string, options?: DualsyncErrorOptions): DualsyncError {
  return new DualsyncError('user', code, message, options);
}

/** A known failure of the world (network, server, disk); `retryable` tells watch whether to try again. */
export function opError(code: ErrorCodeOf<'operational'>, message: string, options?: DualsyncErrorOptions): DualsyncError {
  return new DualsyncError('operational', code, message, options);
}

/** Throws an internal error when a rule the code relies on does not hold. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DualsyncError('internal', 'E_ASSERT', `assertion failed: ${message}`);
}

export function isDualsyncError(error: unknown): error is DualsyncError {
  return error instanceof DualsyncError;
}

/**
 * True for a bug: anything thrown that is not a DualsyncError (a plain Error from an internal
 * check, a TypeError), and a DualsyncError of kind 'internal'. Retrying cannot fix it; it is
 * reported with its stack.
 */
export function isInternalError(error: unknown): boolean {
  return !isDualsyncError(error) || error.kind === 'internal';
}

/**
 * Node (24+) appends "; if the root CA is installed locally, try running Node.js with
 * --use-system-ca" to certificate errors: wrong for a device certificate, which is trusted
 * through tls.caBundle, so it is dropped and dualsync's own hint stands.
 */
const NODE_CA_ADVICE = /;[^;]*--use-system-ca/g;

/** A short, secret-free description of any thrown value. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(NODE_CA_ADVICE, '');
}
