/**
 * Per-object backoff: an object version that failed `attempts` times in a row waits
 * base x 2^(attempts-1) after its last failure (one interval, 2, 4, ...), at most `max`, before
 * it is planned again. Pure: the time of "now" is always passed in, never read.
 */
import type { Config } from '../model/config.ts';
import type { LedgerRecord } from '../model/objects.ts';

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** The backoff a config asks for: `transfer.retryBackoff`, its base defaulting to one watch interval. */
export function backoffOf(config: Config): Backoff {
  return { baseMs: config.transfer.retryBackoff.baseMs ?? config.watch.intervalMs, maxMs: config.transfer.retryBackoff.maxMs };
}

/** The wait after the `attempts`-th failure in a row: base x 2^(attempts-1), at most max (0 before any failure). */
export function retryDelayMs(attempts: number, backoff: Backoff): number {
  if (attempts <= 0) return 0;
  // 2^60 x any base is past every cap; the exponent is bounded so the product stays finite.
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempts - 1, 60));
}

/**
 * When a record's version may be tried again (epoch ms), or undefined when it has no failure of
 * known time (never failed since it last moved forward, or failed before failures carried a
 * time): such a record is tried now.
 */
export function nextTryMs(record: Pick<LedgerRecord, 'attempts' | 'lastFailedAt'>, backoff: Backoff): number | undefined {
  if (record.attempts <= 0 || record.lastFailedAt === undefined) return undefined;
  const failedAt = Date.parse(record.lastFailedAt);
  if (Number.isNaN(failedAt)) return undefined;
  return failedAt + retryDelayMs(record.attempts, backoff);
}
