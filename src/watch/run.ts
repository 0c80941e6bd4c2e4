/**
 * `dualsync watch` as a whole: take the state directory's lock for the life of watch, run the
 * loop (src/watch/loop.ts) with one plan-and-apply per cycle, note each cycle in the lock,
 * release it and say why watch stopped. Everything it has to say goes out as events
 * (src/watch/events.ts); the command words and prints them.
 */
import { stat } from 'node:fs/promises';
import type { HeapInfo } from 'node:v8';
import { ledgerOptions, runApply, type ApplyReport, type EngineDeps } from '../engine.ts';
import { KeptClients } from './clients.ts';
import { LedgerStore } from '../ledger/store.ts';
import type { LedgerSummary } from '../ledger/queries.ts';
import { acquireLock, type Lock } from '../apply/lock.ts';
import { describeError, isDualsyncError } from '../errors.ts';
import type { Config, CycleFacts, Side } from '../model/index.ts';
import { cycleFacts } from './facts.ts';
import { backoffMs, stopOf, watchLoop, type WatchSummary } from './loop.ts';
import type { CycleResult, HopDown, WatchEvent } from './events.ts';
import { memoryTracer, type MemoryTracer } from './memory-trace.ts';
import { memoryReturn, type MemoryReturned } from './malloc-trim.ts';

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** What the metrics get after each cycle. */
export interface WatchCycleObservation {
  facts?: CycleFacts;
  error?: unknown;
  /** The ledger's counts by stage, read on watch's own connection; absent when it is not open (after an error). */
  ledgerStages?: () => LedgerSummary['stages'];
}

/** The engine's dependencies for one cycle, and what ends its progress display once the cycle is through. */
export interface CycleDeps {
  deps: EngineDeps;
  finish?: () => void;
}

export interface RunWatchOptions {
  /** The config, with the interval watch runs at in `watch.intervalMs`: one cycle is the unit of an object's backoff. */
  config: Config;
  once: boolean;
  /** In the first cycle, try the objects that back off after failures (`--retry-failed`). */
  retryFailed: boolean;
  /** The first stop signal: finish the cycle, start no other. */
  stop: AbortSignal;
  cycleDeps: () => CycleDeps;
  emit: (event: WatchEvent) => void;
  /** Each cycle's facts or error, once it ended, and a read of the ledger's counts by stage while it is open (the metrics). */
  onCycle?: (cycle: WatchCycleObservation) => void;
  warn: (message: string) => void;
  /** The note the lock keeps about the last cycle, for `status` (words: src/view/watch.ts). */
  lastCycleNote: (ended: { result: CycleResult } | { error: unknown }) => string;
  now?: () => Date;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Runs watch until it is stopped, `--once` is done, or an error that a retry cannot fix (or a bug) ends it. */
export async function runWatch(options: RunWatchOptions): Promise<WatchSummary> {
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const wait = options.sleep ?? sleep;
  const intervalMs = options.config.watch.intervalMs;
  // Held for the whole life of watch, not per cycle: between cycles no apply or reset may
  // change the ledger under it, and status names it.
  const lock = await takeLock(options.config, options.stop, { ...options, now, random, sleep: wait });
  if (!lock) {
    const summary: WatchSummary = { cycles: 0, failedCycles: 0, stoppedBy: stopOf(options.stop) };
    options.emit({ event: 'watch_stopped', cycles: 0, stop: summary.stoppedBy });
    return summary;
  }
  let summary: WatchSummary;
  const ledger = new KeptLedger(options.config.stateDir);
  try {
    const cycles = new WatchCycles(options.config, lock, ledger);
    let cycleNumber = 0;
    // Made at the first cycle from its environment; undefined (no cost) unless DUALSYNC_MEMORY_TRACE is set.
    let traceMemory: MemoryTracer | undefined | null = null;
    // After each cycle, memory goes back to the system: a full collection and malloc_trim (malloc-trim.ts says why).
    let returnMemory: (() => MemoryReturned) | undefined | null = null;
    summary = await watchLoop({
      intervalMs,
      once: options.once,
      stop: options.stop,
      random,
      sleep: wait,
      emit: options.emit,
      onCycle: options.onCycle && ((cycle) => options.onCycle!({ ...cycle, ...ledger.stagesReader() })),
      cycle: async () => {
        const number = ++cycleNumber;
        let ended: { result: CycleResult } | { error: unknown } = { error: 'stopped' };
        const cycleDeps = options.cycleDeps();
        if (traceMemory === null) traceMemory = memoryTracer(cycleDeps.deps.env, options.warn);
        if (returnMemory === null) returnMemory = memoryReturn(cycleDeps.deps.env, options.warn);
        try {
          const result = await cycles.run(cycleDeps, options.retryFailed && number === 1);
          ended = { result };
          return result;
        } catch (error) {
          ended = { error };
          throw error;
        } finally {
          await lock.update({ lastCycle: { number, endedAt: now().toISOString(), result: options.lastCycleNote(ended) } }).catch((error: unknown) => {
            options.warn(`could not note the cycle in the lock: ${describeError(error)}`);
          });
          // Called whether or not memory is traced: `traceMemory?.(…)` would skip evaluating its arguments.
          const returned = returnMemory?.();
          if (traceMemory) traceMemory(number, returned, await ledger.writerHeapStatistics());
        }
      },
    });
  } finally {
    await ledger.close().catch((error: unknown) => options.warn(`could not close the ledger: ${describeError(error)}`));
    await lock.release();
  }
  // The last line says that watch stopped, and why: a journal read later has nothing else to go by.
  options.emit({ event: 'watch_stopped', cycles: summary.cycles, stop: summary.stoppedBy });
  return summary;
}

/** The hops a cycle could not reach, with the cause. */
function hopsDownIn(inventory: Record<Side, { unreachable?: string }>): HopDown[] {
  const down: HopDown[] = [];
  for (const hop of ['source', 'destination'] as const) {
    const cause = inventory[hop].unreachable;
    if (cause !== undefined) down.push({ hop, cause });
  }
  return down;
}

/** The cycles of one watch: each a plan and apply under the lock watch holds, remembering which hops were down. */
class WatchCycles {
  readonly #config: Config;
  readonly #lock: Lock;
  readonly #ledger: KeptLedger;
  readonly #clients = new KeptClients();
  /** Hops that were down last cycle: probed briefly first, not listed with the long timeouts while still down. */
  #wasDown = new Set<Side>();

  constructor(config: Config, lock: Lock, ledger: KeptLedger) {
    this.#config = config;
    this.#lock = lock;
    this.#ledger = ledger;
  }

  /** One plan-and-apply cycle, and what it did as the loop decides on it. */
  async run(cycle: CycleDeps, retryFailed: boolean): Promise<CycleResult> {
    let report: ApplyReport;
    try {
      const ledger = await this.#ledger.open(cycle.deps);
      const clients = this.#clients.get(this.#config);
      report = await runApply(this.#config, cycle.deps, { confirm: async () => true, command: 'dualsync watch', lock: this.#lock, retryFailed, probeFirst: this.#wasDown, ledger, clients });
      await this.#ledger.remember();
    } catch (error) {
      this.#clients.renew();
      if (isDualsyncError(error) && error.code === 'E_HOPS_UNREACHABLE') this.#wasDown = new Set(['source', 'destination']);
      // A store that met an error (a full disk, a writer that stopped) is not trusted with the next cycle: it is opened afresh.
      await this.#ledger.close().catch(() => undefined);
      throw error;
    }
    cycle.finish?.();
    const hopsDown = hopsDownIn(report.run.gathered.inventory);
    if (hopsDown.length > 0) this.#clients.renew();
    this.#wasDown = new Set(hopsDown.map((down) => down.hop));
    const waiting = report.run.plan.summary.waiting?.count;
    const extra = { facts: cycleFacts(report), ...(hopsDown.length > 0 ? { hopsDown } : {}), ...(waiting ? { waiting } : {}) };
    if (!report.outcome) return { changes: 0, failures: 0, ...extra };
    const outcome = report.outcome;
    // Actions per hop, not their sum: 20 objects downloaded, delivered and purged are 20 objects.
    const changes = outcome.downloaded.count + outcome.uploaded.count + outcome.purged.count + outcome.adopted;
    const { source, destination } = report.run.gathered.inventory;
    if (changes === 0 && !(source.complete && destination.complete)) return { changes, failures: 0, inSync: false, outcome, ...extra };
    return { changes, failures: outcome.failures.length, outcome, ...extra };
  }
}

/**
 * Takes the state directory's lock for the life of watch. Another holder ends watch at once
 * (it names who); a full state disk is waited out, backing off, since freeing space fixes it.
 * Undefined when stopped while waiting.
 */
async function takeLock(
  config: Config,
  stop: AbortSignal,
  options: Pick<RunWatchOptions, 'emit' | 'warn'> & { now: () => Date; random: () => number; sleep: (ms: number, signal: AbortSignal) => Promise<void> },
): Promise<Lock | undefined> {
  const intervalMs = config.watch.intervalMs;
  for (let failures = 1; !stop.aborted; failures++) {
    try {
      return await acquireLock(config.stateDir, 'dualsync watch', options.now, options.warn);
    } catch (error) {
      if (!isDualsyncError(error) || !error.retryable) throw error;
      const wait = backoffMs(intervalMs, failures, Math.max(intervalMs, 15 * 60_000), options.random);
      options.emit({ event: 'lock_wait', error, retryInSeconds: Math.round(wait / 1000) });
      await options.sleep(wait, stop);
    }
  }
  return undefined;
}

/** The identity of a file (device and inode), or undefined when there is none at `path`. */
async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    const found = await stat(path);
    return `${found.dev}:${found.ino}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The ledger, opened once for many cycles instead of once a cycle (each open checks the
 * ledger's integrity and each store starts a writer thread: per cycle, that grew watch's
 * memory). Opened again when the file at the ledger's path is no longer the one this store
 * holds (deleted, replaced, moved back from a backup): the open then checks it as a first
 * open does, and refuses a lost ledger (invariant 12) instead of writing to a file nobody reads.
 */
class KeptLedger {
  readonly #stateDir: string;
  #store: LedgerStore | undefined;
  /** The ledger file's identity when the last cycle ended. */
  #identity: string | undefined;

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
  }

  /** The store for the next cycle. */
  async open(deps: EngineDeps): Promise<LedgerStore> {
    if (this.#store !== undefined && (await fileIdentity(this.#store.file)) !== this.#identity) await this.close();
    this.#store ??= await LedgerStore.open(this.#stateDir, ledgerOptions(deps));
    return this.#store;
  }

  /** Notes which file the store holds, once a cycle ended (the first apply creates it). */
  async remember(): Promise<void> {
    if (this.#store !== undefined) this.#identity = await fileIdentity(this.#store.file);
  }

  /** The ledger writer's V8 heap while it runs (the memory trace). */
  async writerHeapStatistics(): Promise<HeapInfo | undefined> {
    return this.#store?.writerHeapStatistics();
  }

  /** A read of the counts by stage on this store, while it is open. */
  stagesReader(): { ledgerStages?: () => LedgerSummary['stages'] } {
    const store = this.#store;
    return store === undefined ? {} : { ledgerStages: () => store.summary(0).stages };
  }

  async close(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    this.#identity = undefined;
    await store?.close();
  }
}
