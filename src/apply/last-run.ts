/**
 * `STATEDIR/last-run.json`: what the last apply did, for `status`, and whether a run is under way.
 *
 * A run marks itself started in the same file (`running`: its pid, start time and boot id, as the
 * lock names its holder) and its end replaces the mark: with its outcome when it finished, with
 * `failed` when it ended on an error. A mark still there when no live process holds it is a run
 * that a kill -9 or a power cut ended (status says "cut short"). The counts at the top level stay
 * those of the last finished run throughout, so the file keeps showing that this state directory
 * did work (src/ledger/integrity.ts reads them).
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ApplyOutcome } from '../model/apply.ts';
import { writeFileAtomically } from '../files/atomic.ts';
import { ownIdentity } from './proc.ts';

/** A run as last-run.json names it: enough to tell whether that very process still runs. */
export interface RecordedRun {
  pid: number;
  startTime?: string;
  bootId?: string;
  host: string;
  command: string;
  startedAt: string;
}

/** last-run.json as read back: the last finished run's summary, and a run started or failed since. */
export interface LastRunRecord {
  /** The last finished run (startedAt, finishedAt, counts), without the two fields below. */
  finished?: Record<string, unknown>;
  /** A run marked started and not ended since: in progress, or cut short. */
  running?: RecordedRun;
  /** A run that ended on an error since the last finished one. */
  failed?: RecordedRun & { endedAt: string; error: string };
}

/** Where the last run is recorded. */
function lastRunPath(stateDir: string): string {
  return join(stateDir, 'last-run.json');
}

function write(stateDir: string, record: Record<string, unknown>): void {
  writeFileAtomically(lastRunPath(stateDir), (emit) => emit(`${JSON.stringify(record, null, 2)}\n`));
}

/** Records the last run's times and outcome, whole or not at all; this ends the run's `running` mark. */
export function writeLastRun(stateDir: string, report: { startedAt: string; finishedAt: string; outcome: ApplyOutcome }): void {
  const outcome = report.outcome;
  write(stateDir, {
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    downloaded: outcome.downloaded,
    uploaded: outcome.uploaded,
    purged: outcome.purged,
    adopted: outcome.adopted,
    failures: outcome.failures.length,
    verifiedBy: outcome.verifiedBy,
  });
}

/**
 * Marks a run of this process as started (under the lock, before it moves anything). Returns the
 * mark of an earlier run that never ended (killed, power cut), if there was one.
 */
export async function markRunStarted(stateDir: string, command: string, startedAt: string): Promise<RecordedRun | undefined> {
  const before = await readLastRun(stateDir);
  const identity = ownIdentity();
  const running: RecordedRun = { pid: process.pid, ...(identity && { startTime: identity.startTime, bootId: identity.bootId }), host: hostname(), command, startedAt };
  write(stateDir, { ...before?.finished, running });
  return before?.running;
}

/** Ends this run's mark without an outcome: with the error it ended on, or (nothing applied) without a trace. */
export async function markRunEnded(stateDir: string, ended: { endedAt: string; error?: string }): Promise<void> {
  const before = await readLastRun(stateDir);
  const run = before?.running;
  const failed = run !== undefined && ended.error !== undefined ? { failed: { ...run, endedAt: ended.endedAt, error: ended.error } } : {};
  write(stateDir, { ...before?.finished, ...failed });
}

/** The last run as recorded, or undefined when none was (or it cannot be read). */
export async function readLastRun(stateDir: string): Promise<LastRunRecord | undefined> {
  const text = await readFile(lastRunPath(stateDir), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { running, failed, ...finished } = parsed;
  return {
    ...(Object.keys(finished).length > 0 && { finished }),
    ...(isRecordedRun(running) && { running }),
    ...(isRecordedRun(failed) && { failed: failed as LastRunRecord['failed'] }),
  };
}

function isRecordedRun(value: unknown): value is RecordedRun {
  return typeof value === 'object' && value !== null && Number.isInteger((value as RecordedRun).pid) && typeof (value as RecordedRun).startedAt === 'string';
}
