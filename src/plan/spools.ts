/** The spools one plan's actions go to, by kind and source (./builder.ts fills them, in key order). */
import { ACTION_ORDER, type Action, type ActionKind, type ActionList } from '../model/plan.ts';
import type { KindSegment, RankedSpool, SpoolFactory } from '../model/spool.ts';

/** The spools one plan's actions go to; each is in key order (rank order). */
export class PlanSpools {
  readonly download: RankedSpool;
  readonly redownload: RankedSpool;
  readonly adopt: RankedSpool;
  readonly stagedUpload: RankedSpool;
  readonly chainedUpload: RankedSpool;
  readonly passPurge: RankedSpool;
  readonly stagedPurge: RankedSpool;
  readonly chainedPurge: RankedSpool;
  readonly keySkip: RankedSpool;
  readonly linkSkip: RankedSpool;
  /** Uploads of accepted downloads, before the upload budget (which staged copies get first) has its say. */
  readonly chain: RankedSpool;

  constructor(spool: SpoolFactory) {
    this.download = spool();
    this.redownload = spool();
    this.adopt = spool();
    this.stagedUpload = spool();
    this.chainedUpload = spool();
    this.passPurge = spool();
    this.stagedPurge = spool();
    this.chainedPurge = spool();
    this.keySkip = spool();
    this.linkSkip = spool();
    this.chain = spool();
  }

  actions(): SpooledActions {
    for (const spool of Object.values(this) as RankedSpool[]) spool.end();
    const segments: Record<ActionKind, RankedSpool[]> = {
      download: [this.download],
      redownload: [this.redownload],
      adopt: [this.adopt],
      upload: [this.stagedUpload, this.chainedUpload],
      purge: [this.passPurge, this.stagedPurge, this.chainedPurge],
      skip: [this.keySkip, this.linkSkip],
    };
    return new SpooledActions(ACTION_ORDER.map((kind) => ({ kind, spools: segments[kind] })));
  }
}

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
