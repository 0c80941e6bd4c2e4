/**
 * Actions spooled as they are decided, and read back in plan order, so that a plan of tens of
 * millions of actions need not sit in memory. Each entry carries its key's rank (its position
 * in the merged pass), so spools that are each in key order merge by number. Pure: a spool
 * here lives in memory; the planner is handed a factory, and the engine's makes spools that
 * move to files past a few thousand entries (src/files/spool.ts).
 */
import type { Action, ActionKind, ActionList } from '../model/plan.ts';

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

/** A spool in memory. */
export class MemorySpool implements RankedSpool {
  readonly #ranks: number[] = [];
  readonly #actions: Action[] = [];
  bytes = 0;

  get length(): number {
    return this.#actions.length;
  }

  push(rank: number, action: Action): void {
    const last = this.#ranks[this.#ranks.length - 1];
    if (last !== undefined && rank < last) throw new Error(`spool entries out of rank order: ${rank} after ${last}`);
    this.#ranks.push(rank);
    this.#actions.push(action);
    this.bytes += action.size;
  }

  *entries(): Generator<[number, Action]> {
    for (let i = 0; i < this.#actions.length; i++) yield [this.#ranks[i] as number, this.#actions[i] as Action];
  }

  end(): void {}
}

export const memorySpools: SpoolFactory = () => new MemorySpool();

/** Entries of spools that are each in rank order, merged into one rank order (ties: earlier spool first). */
function* byRank(spools: readonly RankedSpool[]): Generator<Action> {
  if (spools.length === 1) {
    for (const [, action] of (spools[0] as RankedSpool).entries()) yield action;
    return;
  }
  const iterators = spools.map((spool) => spool.entries()[Symbol.iterator]());
  const heads = iterators.map((iterator) => iterator.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i] as IteratorResult<[number, Action]>;
      if (head.done === true) continue;
      if (best === -1 || head.value[0] < (heads[best] as IteratorYieldResult<[number, Action]>).value[0]) best = i;
    }
    if (best === -1) return;
    yield (heads[best] as IteratorYieldResult<[number, Action]>).value[1];
    heads[best] = (iterators[best] as Iterator<[number, Action]>).next();
  }
}

/** One kind's actions: spools merged by rank (uploads of staged copies and chained uploads, say). */
export interface KindSegment {
  kind: ActionKind;
  spools: RankedSpool[];
}

/** A plan's action list over spools: kinds in the given order, each kind's spools merged by rank. */
export class SpooledActions implements ActionList {
  readonly #segments: KindSegment[];

  constructor(segments: KindSegment[]) {
    this.#segments = segments;
  }

  get length(): number {
    let count = 0;
    for (const segment of this.#segments) for (const spool of segment.spools) count += spool.length;
    return count;
  }

  totals(kind: ActionKind): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const segment of this.#segments) {
      if (segment.kind !== kind) continue;
      for (const spool of segment.spools) {
        count += spool.length;
        bytes += spool.bytes;
      }
    }
    return { count, bytes };
  }

  *ofKinds(kinds: readonly ActionKind[]): Generator<Action> {
    for (const segment of this.#segments) if (kinds.includes(segment.kind)) yield* byRank(segment.spools);
  }

  *[Symbol.iterator](): Generator<Action> {
    for (const segment of this.#segments) yield* byRank(segment.spools);
  }
}

/** The actions of these kinds in plan order: without reading the others when the list can. */
export function actionsOfKinds(list: ActionList, kinds: readonly ActionKind[]): Iterable<Action> {
  if (list.ofKinds !== undefined) return list.ofKinds(kinds);
  return (function* () {
    for (const action of list) if (kinds.includes(action.kind)) yield action;
  })();
}

/** How many actions of these kinds: from the list's totals when it keeps them, else counted. */
export function countOfKinds(list: ActionList, kinds: readonly ActionKind[]): number {
  if (list.totals !== undefined) return kinds.reduce((sum, kind) => sum + list.totals!(kind).count, 0);
  let count = 0;
  for (const _action of actionsOfKinds(list, kinds)) count += 1;
  return count;
}

/** Whether any action passes `test` (stops at the first). */
export function someAction(list: Iterable<Action>, test: (action: Action) => boolean): boolean {
  for (const action of list) if (test(action)) return true;
  return false;
}
