import { isDualsyncError, isInternalError } from '../errors.ts';
import type { CycleFacts, CycleResultKind, Side } from '../model/index.ts';
import type { CycleResult, WatchEvent, WatchStop } from './events.ts';

export type { CycleResult, HopDown, WatchEvent, WatchStop } from './events.ts';

export interface WatchOptions {
  intervalMs: number;
  /** One plan-and-apply cycle. */
  cycle: () => Promise<CycleResult>;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Aborts when the operator asks to stop: the current cycle finishes, no new one starts. */
  stop: AbortSignal;
  random: () => number;
  /** Each event as it happens, as a value; the CLI words it (src/view/watch.ts). */
  emit: (event: WatchEvent) => void;
  once?: boolean;
  /** Longest wait after repeated failures. */
  maxBackoffMs?: number;
  /** Each cycle's result (or the error that ended it), once it ended: the metrics' one feed. */
  onCycle?: (cycle: { facts?: CycleFacts; error?: unknown }) => void;
}

export interface WatchSummary {
  cycles: number;
  failedCycles: number;
  /** Why the loop ended, for its last line. */
  stoppedBy: WatchStop;
  /** The error that ended the loop: one a retry cannot fix, or an internal error (a bug). */
  fatal?: unknown;
}

/** Why the stop signal was given: the CLI aborts it with the signal's name. */
export function stopOf(stop: AbortSignal): WatchStop {
  return typeof stop.reason === 'string' ? { by: 'signal', signal: stop.reason } : { by: 'stop-requested' };
}

/**
 * Delay before the next cycle after `failures` failed cycles in a row: exponential from the
 * interval, capped, with full jitter so that many sites do not retry in step.
 */
export function backoffMs(intervalMs: number, failures: number, maxMs: number, random: () => number): number {
  if (failures === 0) return intervalMs;
  const ceiling = Math.min(maxMs, intervalMs * 2 ** Math.min(failures, 20));
  return Math.round(intervalMs + random() * (ceiling - intervalMs));
}

/** What a cycle ended as: the one classification the loop, the log and the lock's note share. */
export function resultKind(result: CycleResult): CycleResultKind {
  if (result.failures > 0) return 'failures';
  if ((result.hopsDown ?? []).length > 0 && result.changes === 0) return 'hops_down';
  if (result.changes > 0) return 'changed';
  if (result.inSync === false) return 'incomplete';
  return result.waiting ? 'waiting' : 'in_sync';
}

/**
 * `dualsync watch`: plan and apply in a loop. A retryable error (or a cycle with failed
 * objects) backs off exponentially with jitter; a non-retryable one (bad credentials, a
 * broken ledger) ends the loop, because repeating it cannot help. So does an internal error
 * (anything that is not a DualsyncError, or one of kind 'internal'): it is a bug, and retrying
 * it would repeat it forever.
 *
 * A hop that is down does not stop the other (invariant 11): every cycle lists both again, so
 * the live hop keeps working at the interval and the other is picked up in the first cycle
 * after it returns. Only a cycle in which nothing could move backs off.
 */
export async function watchLoop(options: WatchOptions): Promise<WatchSummary> {
  const maxBackoff = options.maxBackoffMs ?? Math.max(options.intervalMs, 15 * 60_000);
  const emit = options.emit;
  let cycles = 0;
  let failedCycles = 0;
  let failuresInARow = 0;
  // An idle state (in sync, or only objects waiting to retry) is told once, then not again until something changes.
  let lastIdle: string | undefined;
  let wasDown = new Set<Side>();
  while (!options.stop.aborted) {
    cycles++;
    emit({ event: 'cycle_start', cycle: cycles });
    try {
      const result = await options.cycle();
      options.onCycle?.({ facts: result.facts });
      const down = result.hopsDown ?? [];
      for (const hop of wasDown) if (!down.some((d) => d.hop === hop)) emit({ event: 'hop_up', cycle: cycles, hop });
      wasDown = new Set(down.map((d) => d.hop));
      for (const { hop, cause } of down) emit({ event: 'hop_down', cycle: cycles, hop, cause });
      const kind = resultKind(result);
      if (down.length > 0) failedCycles++;
      let repeated = false;
      if (kind === 'failures') {
        if (down.length === 0) failedCycles++;
        failuresInARow++;
        lastIdle = undefined;
      } else if (kind === 'hops_down') {
        // Nothing could move: probe the missing hop again after a backoff.
        failuresInARow++;
        lastIdle = undefined;
      } else if (kind === 'in_sync' || kind === 'waiting') {
        failuresInARow = 0;
        const idle = `${kind}:${result.waiting ?? 0}`;
        repeated = idle === lastIdle;
        lastIdle = idle;
      } else {
        failuresInARow = 0;
        lastIdle = undefined;
      }
      emit({ event: 'cycle_end', cycle: cycles, kind, result, repeated });
    } catch (error) {
      failedCycles++;
      failuresInARow++;
      lastIdle = undefined;
      options.onCycle?.({ error });
      const code = isDualsyncError(error) ? error.code : 'E_INTERNAL';
      const retryable = isDualsyncError(error) && error.retryable && !isInternalError(error);
      if (isInternalError(error)) {
        emit({ event: 'cycle_error', cycle: cycles, error, code, retryable, ends: 'internal-error' });
        return { cycles, failedCycles, stoppedBy: { by: 'internal-error' }, fatal: error };
      }
      if (isDualsyncError(error) && !error.retryable) {
        emit({ event: 'cycle_error', cycle: cycles, error, code, retryable, ends: 'not-retryable' });
        return { cycles, failedCycles, stoppedBy: { by: 'not-retryable', code: error.code }, fatal: error };
      }
      emit({ event: 'cycle_error', cycle: cycles, error, code, retryable });
    }
    if (options.once || options.stop.aborted) break;
    const wait = backoffMs(options.intervalMs, failuresInARow, maxBackoff, options.random);
    if (failuresInARow > 0) emit({ event: 'backoff', cycle: cycles, retryInSeconds: Math.round(wait / 1000), failedCyclesInARow: failuresInARow });
    await options.sleep(wait, options.stop);
  }
  return { cycles, failedCycles, stoppedBy: options.stop.aborted ? stopOf(options.stop) : { by: 'once' } };
}
