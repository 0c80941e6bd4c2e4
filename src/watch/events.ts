/**
 * What the watch loop reports, as values: each cycle's result, each decision it took (back off,
 * stop) and why. The loop words nothing; src/view/watch.ts turns these into the human lines and
 * the structured log's events. Types only.
 */
import type { ApplyOutcome, CycleFacts, CycleResultKind, Side } from '../model/index.ts';

/** A hop that could not be reached this cycle, with the cause; the other hop worked without it. */
export interface HopDown {
  hop: Side;
  cause: string;
}

/** What one cycle did, as the loop decides on it. */
export interface CycleResult {
  /** Transfers, purges and adoptions this cycle; 0 means the sites were in sync. */
  changes: number;
  failures: number;
  /** What the apply did (the per-hop counts and the failures); absent when nothing was to do. */
  outcome?: ApplyOutcome;
  /** False when nothing changed but a listing was incomplete: that is not "in sync". */
  inSync?: boolean;
  /** Objects left out because they back off after failures: the sites are not in sync yet. */
  waiting?: number;
  /** Hops that could not be reached this cycle, with the cause; the other hop worked without them. */
  hopsDown?: HopDown[];
  /** What the cycle planned, moved and met: the structured log's and the metrics' source. */
  facts?: CycleFacts;
}

/** Why watch stopped: what its last line says. */
export type WatchStop =
  | { by: 'signal'; signal: string }
  | { by: 'stop-requested' }
  | { by: 'once' }
  | { by: 'internal-error' }
  | { by: 'not-retryable'; code: string };

/** One thing the loop did or decided, in the order it happened. */
export type WatchEvent =
  | { event: 'cycle_start'; cycle: number }
  | { event: 'hop_up'; cycle: number; hop: Side }
  | { event: 'hop_down'; cycle: number; hop: Side; cause: string }
  /**
   * A cycle that ended. `repeated`: the same idle state (in sync, or only objects waiting) as
   * the cycle before, which a person is told once.
   */
  | { event: 'cycle_end'; cycle: number; kind: CycleResultKind; result: CycleResult; repeated: boolean }
  /** A cycle that threw. `ends`: why this error ends watch; absent when it is retried. */
  | { event: 'cycle_error'; cycle: number; error: unknown; code: string; retryable: boolean; ends?: 'internal-error' | 'not-retryable' }
  | { event: 'backoff'; cycle: number; retryInSeconds: number; failedCyclesInARow: number }
  /** The state directory's lock could not be taken yet (a retryable cause such as a full disk). */
  | { event: 'lock_wait'; error: unknown; retryInSeconds: number }
  | { event: 'watch_stopped'; cycles: number; stop: WatchStop };
