import { isDualsyncError, isInternalError } from '../errors.ts';
import { warningText } from '../view/reasons.ts';
import type { CycleFacts, CycleResultKind, RunEvent, Side } from '../model/index.ts';

export interface CycleResult {
  /** Transfers, purges and adoptions this cycle; 0 means the sites were in sync. */
  changes: number;
  failures: number;
  /** What the cycle did, per hop ("20 downloaded (1 MiB), 20 delivered (1 MiB), 20 purged."). */
  summary?: string;
  /** False when nothing changed but a listing was incomplete: that is not "in sync". */
  inSync?: boolean;
  /** Objects left out because they back off after failures: the sites are not in sync yet. */
  waiting?: number;
  /** Hops that could not be reached this cycle, with the cause; the other hop worked without them. */
  hopsDown?: HopDown[];
  /** What the cycle planned, moved and met: the structured log's and the metrics' source. */
  facts?: CycleFacts;
}

export interface HopDown {
  hop: Side;
  cause: string;
}

/** What waits while a hop is down. */
const WAITING: Record<HopDown['hop'], string> = { source: 'downloads wait', destination: 'uploads wait' };

export interface WatchOptions {
  intervalMs: number;
  /** One plan-and-apply cycle. */
  cycle: () => Promise<CycleResult>;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Aborts when the operator asks to stop: the current cycle finishes, no new one starts. */
  stop: AbortSignal;
  random: () => number;
  log: (line: string) => void;
  once?: boolean;
  /** Longest wait after repeated failures. */
  maxBackoffMs?: number;
  /** Each event as it happens (`--log-format json`); the human lines still go to `log`. */
  emit?: (event: RunEvent) => void;
  /** Each cycle's result (or the error that ended it), once it ended: the metrics' one feed. */
  onCycle?: (cycle: { facts?: CycleFacts; error?: unknown }) => void;
}

export interface WatchSummary {
  cycles: number;
  failedCycles: number;
  /** Why the loop ended, for its last line: the stop's reason (the signal's name), '--once', or the kind of error. */
  stoppedBy: string;
  /** The error that ended the loop: one a retry cannot fix, or an internal error (a bug). */
  fatal?: unknown;
}

/** The reason a stop signal was given (the CLI aborts it with the signal's name). */
function stopReason(stop: AbortSignal): string {
  return typeof stop.reason === 'string' ? stop.reason : 'stop requested';
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
  let cycles = 0;
  let failedCycles = 0;
  let failuresInARow = 0;
  // An idle watch says so once ("in sync", or what waits to retry), then stays quiet until something changes.
  let lastQuiet: string | undefined;
  let wasDown = new Set<HopDown['hop']>();
  while (!options.stop.aborted) {
    cycles++;
    const emit = options.emit ?? (() => {});
    emit({ event: 'cycle_start', cycle: cycles });
    try {
      const result = await options.cycle();
      options.onCycle?.({ facts: result.facts });
      const down = result.hopsDown ?? [];
      for (const hop of wasDown) {
        if (!down.some((d) => d.hop === hop)) {
          options.log(`cycle ${cycles}: the ${hop} is reachable again`);
          emit({ event: 'hop_up', cycle: cycles, hop });
        }
      }
      wasDown = new Set(down.map((d) => d.hop));
      for (const { hop, cause } of down) {
        options.log(`cycle ${cycles}: ${hop} unreachable: ${WAITING[hop]}; the other hop keeps working (${cause})`);
        emit({ event: 'hop_down', cycle: cycles, hop, cause });
      }
      if (options.emit) for (const event of cycleEvents(cycles, result)) options.emit(event);
      if (down.length > 0) failedCycles++;
      if (result.failures > 0) {
        if (down.length === 0) failedCycles++;
        failuresInARow++;
        lastQuiet = undefined;
        options.log(`cycle ${cycles}: ${result.failures} object(s) failed; each is retried after its backoff (transfer.retryBackoff)`);
      } else if (down.length > 0 && result.changes === 0) {
        // Nothing could move: probe the missing hop again after a backoff.
        failuresInARow++;
        lastQuiet = undefined;
        options.log(`cycle ${cycles}: nothing to do until the ${down.map((d) => d.hop).join(' and ')} is back`);
      } else if (result.changes === 0 && result.inSync !== false) {
        failuresInARow = 0;
        // Idle: one line when the state is first reached (in sync, or only objects waiting to
        // retry), then quiet until something changes.
        const quiet = result.waiting ? `nothing to do now; ${result.waiting} object(s) waiting to retry after failures` : 'in sync; quiet until something changes';
        if (quiet !== lastQuiet) options.log(`cycle ${cycles}: ${quiet}`);
        lastQuiet = quiet;
      } else {
        failuresInARow = 0;
        lastQuiet = undefined;
        const waiting = result.waiting ? `; ${result.waiting} object(s) waiting to retry after failures` : '';
        options.log(`cycle ${cycles}: ${result.summary ?? `${result.changes} change(s) applied`}${waiting}`);
      }
    } catch (error) {
      failedCycles++;
      failuresInARow++;
      const message = error instanceof Error ? error.message : String(error);
      options.onCycle?.({ error });
      emit({ event: 'cycle_error', cycle: cycles, code: isDualsyncError(error) ? error.code : 'E_INTERNAL', message, retryable: isDualsyncError(error) && error.retryable && !isInternalError(error) });
      if (isInternalError(error)) {
        options.log(`cycle ${cycles}: internal error: ${message}; stopping (this is a bug in dualsync; please report it)`);
        return { cycles, failedCycles, stoppedBy: 'internal error', fatal: error };
      }
      if (isDualsyncError(error) && !error.retryable) {
        options.log(`cycle ${cycles}: ${message} (not retryable; stopping)`);
        return { cycles, failedCycles, stoppedBy: `${error.code}, which a retry cannot fix`, fatal: error };
      }
      lastQuiet = undefined;
      options.log(`cycle ${cycles}: ${message}`);
    }
    if (options.once || options.stop.aborted) break;
    const wait = backoffMs(options.intervalMs, failuresInARow, maxBackoff, options.random);
    if (failuresInARow > 0) {
      options.log(`retrying in ${Math.round(wait / 1000)}s`);
      emit({ event: 'backoff', cycle: cycles, retryInSeconds: Math.round(wait / 1000), failedCyclesInARow: failuresInARow });
    }
    await options.sleep(wait, options.stop);
  }
  return { cycles, failedCycles, stoppedBy: options.stop.aborted ? stopReason(options.stop) : '--once' };
}

/** What a cycle ended as, in one word for the structured log. */
function resultKind(result: CycleResult): CycleResultKind {
  if (result.failures > 0) return 'failures';
  if ((result.hopsDown ?? []).length > 0 && result.changes === 0) return 'hops_down';
  if (result.changes > 0) return 'changed';
  if (result.inSync === false) return 'incomplete';
  return result.waiting ? 'waiting' : 'in_sync';
}

/** The events of a cycle that ended: its listing warnings, each failure, a stalled hop, then its end with the counts. */
function cycleEvents(cycle: number, result: CycleResult): RunEvent[] {
  const facts = result.facts;
  const events: RunEvent[] = [];
  for (const warning of facts?.warnings ?? []) events.push({ event: 'listing_warning', cycle, code: warning.code, message: warningText(warning) });
  for (const failure of facts?.failures ?? []) events.push({ event: 'failure', cycle, ...failure });
  for (const hop of ['download', 'upload'] as const) {
    const stalled = facts?.failures.find((failure) => failure.hop === hop && failure.code === 'stalled');
    if (stalled) events.push({ event: 'stall', cycle, hop, message: stalled.message });
  }
  const none = { objects: 0, bytes: 0 };
  events.push({
    event: 'cycle_end',
    cycle,
    result: resultKind(result),
    summary: result.summary ?? (result.changes === 0 ? 'no changes' : `${result.changes} change(s) applied`),
    downloaded: facts?.moved.download ?? none,
    uploaded: facts?.moved.upload ?? none,
    purged: facts?.purged ?? none,
    adopted: facts?.adopted ?? 0,
    failures: result.failures,
    waiting: result.waiting ?? 0,
    listAndPlanSeconds: facts?.listAndPlanSeconds ?? 0,
    applySeconds: facts?.applySeconds ?? 0,
  });
  return events;
}
