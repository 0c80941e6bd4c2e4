/**
 * Actions spooled as they are decided, and read back in plan order, so that a plan of tens of
 * millions of actions need not sit in memory. Each entry carries its key's rank (its position
 * in the merged pass), so spools that are each in key order merge by number. The planner is
 * handed a factory: in memory by default (plan/spools.ts), and the engine's makes spools that
 * move to files past a few thousand entries (src/files/spool.ts). Types only.
 */
import type { Action, ActionKind } from './plan.ts';

/** One list of ranked actions, pushed in rank order and read back in that order (as often as needed). */
export interface RankedSpool {
  readonly length: number;
  /** The sum of the actions' sizes. */
  readonly bytes: number;
  push(rank: number, action: Action): void;
  entries(): Iterable<[rank: number, action: Action]>;
  /** No more pushes. */
  end(): void;
}

/** Makes the spools of one plan. */
export type SpoolFactory = () => RankedSpool;

/** One kind's actions: spools merged by rank (uploads of staged copies and chained uploads, say). */
export interface KindSegment {
  kind: ActionKind;
  spools: RankedSpool[];
}
