/**
 * The words of `watch`: each event of the loop (src/watch/events.ts) as a person's line, as
 * the structured log's events (`--log-format json`), and as the note the lock keeps for `status`.
 */
import type { CycleResultKind, Failure, RunEvent, Side } from '../model/index.ts';
import type { CycleResult, WatchEvent, WatchStop } from '../watch/events.ts';
import { describeError } from '../errors.ts';
import { applyCountsText } from './apply.ts';
import { failureText } from './failure.ts';
import { warningText } from './reasons.ts';

/** What waits while a hop is down. */
const WAITING: Record<Side, string> = { source: 'downloads wait', destination: 'uploads wait' };

/** An error's message, as a cycle line says it. */
function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a cycle moved, in one phrase ("20 downloaded (1 MiB), 20 delivered (1 MiB), 20 purged."). */
export function cycleSummaryText(result: CycleResult): string {
  if (result.changes === 0 && result.inSync === false) return 'no changes in what could be listed; a listing is incomplete (see the warnings)';
  if (result.outcome) return applyCountsText(result.outcome);
  return result.changes === 0 ? 'no changes' : `${result.changes} change(s) applied`;
}

/** Why watch stopped, as its last line and its `watch_stopped` event give it. */
export function stopReasonText(stop: WatchStop): string {
  switch (stop.by) {
    case 'signal':
      return stop.signal;
    case 'stop-requested':
      return 'stop requested';
    case 'once':
      return '--once';
    case 'internal-error':
      return 'internal error';
    case 'not-retryable':
      return `${stop.code}, which a retry cannot fix`;
  }
}

/** watch's last line ("stopped after 12 cycles: SIGTERM"). */
export function stoppedLine(cycles: number, stop: WatchStop): string {
  return `stopped after ${cycles} cycle${cycles === 1 ? '' : 's'}: ${stopReasonText(stop)}`;
}

/** The line a person reads for `event`, or undefined when it says nothing new (an idle cycle after the first). */
export function watchLine(event: WatchEvent): string | undefined {
  switch (event.event) {
    case 'cycle_start':
      return undefined;
    case 'hop_up':
      return `cycle ${event.cycle}: the ${event.hop} is reachable again`;
    case 'hop_down':
      return `cycle ${event.cycle}: ${event.hop} unreachable: ${WAITING[event.hop]}; the other hop keeps working (${event.cause})`;
    case 'cycle_end':
      return cycleEndLine(event);
    case 'cycle_error': {
      const message = messageOf(event.error);
      if (event.ends === 'internal-error') return `cycle ${event.cycle}: internal error: ${message}; stopping (this is a bug in dualsync; please report it)`;
      if (event.ends === 'not-retryable') return `cycle ${event.cycle}: ${message} (not retryable; stopping)`;
      return `cycle ${event.cycle}: ${message}`;
    }
    case 'backoff':
      return `retrying in ${event.retryInSeconds}s`;
    case 'lock_wait':
      return `cannot take the lock: ${messageOf(event.error)}; retrying in ${event.retryInSeconds}s`;
    case 'watch_stopped':
      return stoppedLine(event.cycles, event.stop);
  }
}

function cycleEndLine(event: Extract<WatchEvent, { event: 'cycle_end' }>): string | undefined {
  const { cycle, result } = event;
  const waiting = result.waiting ? `; ${result.waiting} object(s) waiting to retry after failures` : '';
  switch (event.kind) {
    case 'failures':
      return `cycle ${cycle}: ${result.failures} object(s) failed; each is retried after its backoff (transfer.retryBackoff)`;
    case 'hops_down':
      return `cycle ${cycle}: nothing to do until the ${(result.hopsDown ?? []).map((d) => d.hop).join(' and ')} is back`;
    case 'in_sync':
    case 'waiting':
      if (event.repeated) return undefined;
      return `cycle ${cycle}: ${result.waiting ? `nothing to do now; ${result.waiting} object(s) waiting to retry after failures` : 'in sync; quiet until something changes'}`;
    default:
      return `cycle ${cycle}: ${cycleSummaryText(result)}${waiting}`;
  }
}

/** One failed object as a log event. */
export function failureEvent(failure: Failure, cycle?: number): RunEvent {
  return { event: 'failure', ...(cycle === undefined ? {} : { cycle }), key: failure.key, hop: failure.hop, code: failure.code, message: failureText(failure) };
}

/** The structured log's events for `event` (`--log-format json`): a cycle's end brings its warnings, failures and stalls first. */
export function watchLogEvents(event: WatchEvent): RunEvent[] {
  switch (event.event) {
    case 'cycle_start':
    case 'hop_up':
      return [event];
    case 'hop_down':
      return [{ event: 'hop_down', cycle: event.cycle, hop: event.hop, cause: event.cause }];
    case 'cycle_end':
      return cycleEndEvents(event.cycle, event.kind, event.result);
    case 'cycle_error':
      return [{ event: 'cycle_error', cycle: event.cycle, code: event.code, message: messageOf(event.error), retryable: event.retryable }];
    case 'backoff':
      return [{ event: 'backoff', cycle: event.cycle, retryInSeconds: event.retryInSeconds, failedCyclesInARow: event.failedCyclesInARow }];
    case 'lock_wait':
      return [{ event: 'lock_wait', message: watchLine(event)! }];
    case 'watch_stopped':
      return [{ event: 'watch_stopped', cycles: event.cycles, reason: stopReasonText(event.stop), message: stoppedLine(event.cycles, event.stop) }];
  }
}

const NONE = { objects: 0, bytes: 0 };

function cycleEndEvents(cycle: number, kind: CycleResultKind, result: CycleResult): RunEvent[] {
  const facts = result.facts;
  const events: RunEvent[] = [];
  for (const warning of facts?.warnings ?? []) events.push({ event: 'listing_warning', cycle, code: warning.code, message: warningText(warning) });
  for (const failure of facts?.failures ?? []) events.push(failureEvent(failure, cycle));
  for (const hop of ['download', 'upload'] as const) {
    const stalled = facts?.failures.find((failure) => failure.hop === hop && failure.code === 'stalled');
    if (stalled) events.push({ event: 'stall', cycle, hop, message: failureText(stalled) });
  }
  events.push({
    event: 'cycle_end',
    cycle,
    result: kind,
    summary: cycleSummaryText(result),
    downloaded: facts?.moved.download ?? NONE,
    uploaded: facts?.moved.upload ?? NONE,
    purged: facts?.purged ?? NONE,
    adopted: facts?.adopted ?? 0,
    failures: result.failures,
    waiting: result.waiting ?? 0,
    listAndPlanSeconds: facts?.listAndPlanSeconds ?? 0,
    applySeconds: facts?.applySeconds ?? 0,
  });
  return events;
}

/** The note the lock keeps about the last cycle, which `status` shows while watch runs. */
export function lastCycleNote(ended: { result: CycleResult } | { error: unknown }): string {
  if ('error' in ended) return `error: ${describeError(ended.error)}`;
  const { result } = ended;
  if (result.failures > 0) return `${result.failures} object(s) failed`;
  if (result.changes > 0) return cycleSummaryText(result);
  return result.waiting ? `${result.waiting} object(s) waiting to retry` : 'in sync';
}

/**
 * `watch`'s last line when its stdout (its log) is gone: on stderr, as a JSON event with
 * `--log-format json`, else as a sentence. `status` is the exit status it ends with.
 */
export function lostStdoutLine(json: boolean, status: number, at: Date): string {
  const message = `watch stopped: its standard output was closed (EPIPE): the reader of its log (journald, a pipe) went away; exiting with ${status}`;
  return json ? `${JSON.stringify({ ts: at.toISOString(), level: 'error', event: 'watch_stopped', reason: 'stdout_closed', code: 'EPIPE', message })}\n` : `dualsync: ${message}\n`;
}
