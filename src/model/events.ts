/**
 * What watch and apply report as they go, as values: the structured log (`--log-format json`)
 * and the metrics are two consumers of these, the human lines a third. Types only.
 */
import type { Hop } from './apply.ts';
import type { ObjectFailure } from './failure.ts';
import type { PlanWarning } from './plan.ts';
import type { Side } from './side.ts';

/** Objects and bytes. */
export interface Amount {
  objects: number;
  bytes: number;
}

/** What one cycle (or one apply) planned, moved and met, for the log and the metrics. */
export interface CycleFacts {
  /** What the plan asked of each hop. */
  planned: Record<Hop, Amount>;
  /** What each hop moved and verified. */
  moved: Record<Hop, Amount>;
  purged: Amount;
  adopted: number;
  /** Each object that failed, with its code and facts (src/view/failure.ts words them). */
  failures: ObjectFailure[];
  /** Objects left out because they back off after failures. */
  waiting: number;
  /** The plan's warnings (listings that were incomplete, links not followed, leftovers). */
  warnings: PlanWarning[];
  /** Listing and planning are one streamed pass (the plan reads the listings as they arrive), so they are timed together. */
  listAndPlanSeconds: number;
  /** From the end of the plan to the end of the apply; 0 when nothing was applied. */
  applySeconds: number;
  volumes: { root: string; freeBytes: number }[];
  /** Hops whose endpoint could not be reached, with the cause. */
  hopsDown: { hop: Side; cause: string }[];
  /** Each hop's bandwidth limit in bytes per second as the cycle's plan found it in force; 0: none. */
  bandwidthLimit: Record<Hop, number>;
}

/** How an event matters to whoever reads the log. */
export type LogLevel = 'info' | 'warn' | 'error';

/** What a cycle ended as. */
export type CycleResultKind = 'changed' | 'in_sync' | 'waiting' | 'failures' | 'incomplete' | 'hops_down' | 'error';

/** One event of `watch` or `apply`, one JSON line with `--log-format json`. */
export type RunEvent =
  | { event: 'cycle_start'; cycle: number }
  | {
      event: 'cycle_end';
      cycle: number;
      result: CycleResultKind;
      /** The human summary ("20 downloaded (1 MiB), ..."). */
      summary: string;
      downloaded: Amount;
      uploaded: Amount;
      purged: Amount;
      adopted: number;
      failures: number;
      waiting: number;
      listAndPlanSeconds: number;
      applySeconds: number;
    }
  | { event: 'cycle_error'; cycle: number; code: string; message: string; retryable: boolean }
  | { event: 'failure'; cycle?: number; key: string; hop: Hop | 'purge'; code: string; message: string }
  | { event: 'stall'; cycle?: number; hop: Hop; message: string }
  | { event: 'listing_warning'; cycle?: number; code: PlanWarning['code']; message: string }
  | { event: 'hop_down'; cycle: number; hop: Side; cause: string }
  | { event: 'hop_up'; cycle: number; hop: Side }
  | { event: 'backoff'; cycle: number; retryInSeconds: number; failedCyclesInARow: number }
  | { event: 'lock_wait'; message: string }
  | { event: 'watch_stopped'; cycles: number; reason: string; message: string }
  | { event: 'metrics_listen'; url: string }
  | { event: 'apply_end'; downloaded: Amount; uploaded: Amount; purged: Amount; adopted: number; failures: number; waiting: number };

/** The name of an event. */
export type RunEventName = RunEvent['event'];
