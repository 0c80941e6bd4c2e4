/** What `dualsync status` reports: stages, failures, volumes and runs, as data. Types only; view/status.ts words them. */
import type { RecordedFailure } from './failure.ts';
import type { SkipReason, VolumeInfo } from './objects.ts';

export interface StageCount {
  objects: number;
  bytes: number;
}

export interface StatusReport {
  stateDir: string;
  ledgerSerial: number;
  stages: Record<'staged' | 'delivered' | 'purged', StageCount>;
  /**
   * Versions whose last attempt failed and that have not moved on since: the first ones in key
   * order, and how many in all. `nextTryAt` (ISO 8601, UTC): the earliest time a plan tries it
   * again (transfer.retryBackoff); absent when the next plan tries it.
   */
  failing: FailingObject[];
  failingCount: number;
  /** Versions whose last try the operator's stop cut short: not failing, tried at once by the next run. */
  stopped: { key: string; lastFailure: RecordedFailure }[];
  stoppedCount: number;
  /** Keys skipped with their reason (a code and its facts): the first ones in key order, and how many in all. */
  skipped: { key: string; reason: SkipReason }[];
  skippedCount: number;
  verifiedBy: Record<string, number>;
  etagNotComparable: number;
  volumes: (VolumeInfo & { stagedBytes: number; stagedFiles: number })[];
  /** The last run that finished: startedAt, finishedAt and its counts (last-run.json). */
  lastRun?: Record<string, unknown>;
  /**
   * A run since the last finished one: in progress now, cut short (its process is gone without
   * ending it: kill -9, a power cut), or ended on an error.
   */
  run?: { state: 'running' | 'cut-short' | 'failed'; pid: number; host: string; command: string; startedAt: string; endedAt?: string; error?: string };
  lock?: { pid: number; host: string; startedAt: string; command: string; lastCycle?: { number: number; endedAt: string; result: string } };
}

/** A failing object as status lists it. */
export interface FailingObject {
  key: string;
  attempts: number;
  /** The last failure: its code, hop and facts. */
  lastFailure: RecordedFailure;
  lastFailedAt?: string;
  nextTryAt?: string;
}
