/**
 * Per-object backoff. A first failure is retried by the next run at once: a one-off fault (a cut
 * link, a stop, a stalled hop) is redone next time, as before. From the second failure in a row
 * the version waits base x 2^(attempts-2) after its last failure (one interval, then 2, 4, ...),
 * at most `max`, before it is planned again; {@link Waiting} counts the objects that wait. Pure:
 * the time of "now" is always passed in.
 */
import type { Config } from '../model/config.ts';
import type { LedgerRecord } from '../model/objects.ts';
import type { WaitingSummary } from '../model/plan.ts';

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** The backoff a config asks for: `transfer.retryBackoff`, its base defaulting to one watch interval. */
export function backoffOf(config: Config): Backoff {
  return { baseMs: config.transfer.retryBackoff.baseMs ?? config.watch.intervalMs, maxMs: config.transfer.retryBackoff.maxMs };
}

/** The wait after the `attempts`-th failure in a row: none after the first, then base x 2^(attempts-2), at most max. */
export function retryDelayMs(attempts: number, backoff: Backoff): number {
  if (attempts <= 1) return 0;
  // 2^60 x any base is past every cap; the exponent is bounded so the product stays finite.
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempts - 2, 60));
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

/**
 * Each failing object with its next try at `now` under `backoff` as `nextTryAt` (ISO 8601, UTC),
 * left out when the next run tries it: what `status` shows, computed before the view.
 */
export function withNextTries<T extends Pick<LedgerRecord, 'attempts' | 'lastFailedAt'>>(failing: readonly T[], now: number, backoff: Backoff): (T & { nextTryAt?: string })[] {
  return failing.map((entry) => {
    const next = nextTryMs(entry, backoff);
    return next !== undefined && next > now ? { ...entry, nextTryAt: new Date(next).toISOString() } : { ...entry };
  });
}

/** Objects whose transfer waits for their next try: counted, with the earliest try and a few examples. */
export class Waiting {
  count = 0;
  bytes = 0;
  earliest = Number.POSITIVE_INFINITY;
  readonly examples: WaitingSummary['examples'] = [];

  add(record: LedgerRecord, nextTry: number): void {
    this.count += 1;
    this.bytes += record.size;
    this.earliest = Math.min(this.earliest, nextTry);
    if (this.examples.length < 3) {
      const example: WaitingSummary['examples'][number] = { key: record.key, attempts: record.attempts, nextTryAt: new Date(nextTry).toISOString() };
      if (record.lastFailure !== undefined) example.lastFailure = record.lastFailure;
      this.examples.push(example);
    }
  }

  summary(): WaitingSummary | undefined {
    if (this.count === 0) return undefined;
    return { count: this.count, bytes: this.bytes, nextTryAt: new Date(this.earliest).toISOString(), examples: this.examples };
  }
}
