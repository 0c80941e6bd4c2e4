/**
 * One apply's shared state: what it has done so far (the outcome), its one door to the ledger,
 * and the signal that stops the hops when that door fails. Every step of apply records through
 * here, so that "not recorded, did not happen" holds in one place.
 */
import type { Action, ApplyOutcome, Config, FailureFacts, FailureHop, LedgerEvent, LedgerRecord, ObjectEntry, ProgressSink, Side, VerifiedBy } from '../model/index.ts';
import { describeError, isDualsyncError } from '../errors.ts';
import type { OpenHop } from './hop.ts';
import type { Recorder } from './recorder.ts';
import { VolumeRoots } from './safe-path.ts';
import { timelineFromEnv, type Timeline } from './timeline.ts';

export interface ExecuteContext {
  config: Config;
  s5cmd: string;
  recorder: Recorder;
  /** The ledger record of a key as it was when the plan was made (for MD5s carried between hops). */
  ledgerRecord(key: string): LedgerRecord | undefined;
  /** The destination's listed entries for these relative keys (undefined: not listed), read in one go. */
  describeDestination(keys: string[]): Promise<Map<string, ObjectEntry | undefined>>;
  /** The MD5 of one hop's object as listed (its plain MD5 ETag, or its bytes read through MD5), for adopts by content. */
  contentMd5(side: Side, object: ObjectEntry): Promise<string>;
  /** Why the destination accepted the upload of a key but does not list it (the failure's reason). */
  explainUnlisted?(key: string): Promise<string>;
  progress?: ProgressSink;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** The clock that stamps each failure: the object backs off from that time. */
  now: () => Date;
  /** How a hop's lines run: one `s5cmd run` per hop unless given (unit tests pass a fake hop). */
  openHop?: OpenHop;
}

export class ApplyRun {
  readonly ctx: ExecuteContext;
  readonly config: Config;
  readonly outcome: ApplyOutcome = {
    downloaded: { count: 0, bytes: 0 },
    uploaded: { count: 0, bytes: 0 },
    purged: { count: 0, bytes: 0 },
    adopted: 0,
    failures: [],
    verifiedBy: {},
  };
  /** Every file operation of dualsync's own below a volume root goes through safe-path: no link is followed. */
  readonly volumeRoots = new VolumeRoots();
  /** MD5s learnt while verifying downloads or proving local copies, carried to the destination check. */
  readonly md5ByKey = new Map<string, string>();
  /** When each object reached each step (DUALSYNC_TIMELINE); notes nothing unless asked. */
  readonly timeline: Timeline;
  /** Aborted when the ledger fails, or when the caller's signal is: the hops stop. */
  readonly hopSignal: AbortSignal;
  // A ledger write that fails (a full state disk) stops the run: what is not recorded did not
  // happen, so nothing may follow from it (no upload line, no purge). The hops are stopped, every
  // task settles, and only then is the error thrown: no ledger write outlives the run.
  #ledgerError: unknown;
  readonly #halt = new AbortController();

  constructor(ctx: ExecuteContext) {
    this.ctx = ctx;
    this.config = ctx.config;
    this.timeline = timelineFromEnv(ctx.env);
    this.hopSignal = ctx.signal ? AbortSignal.any([ctx.signal, this.#halt.signal]) : this.#halt.signal;
  }

  /** Whether a ledger write failed: the run is halting and nothing more may follow. */
  get halted(): boolean {
    return this.#ledgerError !== undefined;
  }

  /** Throws the ledger's error if a write failed. */
  throwIfHalted(): void {
    if (this.#ledgerError !== undefined) throw this.#ledgerError;
  }

  /** Records one event; false when the ledger could not take it (the run is then halting). */
  async record(event: LedgerEvent): Promise<boolean> {
    if (this.#ledgerError !== undefined) return false;
    try {
      await this.ctx.recorder.record(event);
      return true;
    } catch (error) {
      this.#ledgerError ??= error;
      this.#halt.abort();
      return false;
    }
  }

  /**
   * Whether the operator stopped the transfers (the caller's signal: a second Ctrl-C). What was
   * in flight then is stopped, not failed: neither s5cmd's fault nor an attempt that backs off.
   */
  get stoppedByOperator(): boolean {
    return this.ctx.signal?.aborted === true;
  }

  /** Reports a failed action and records it in the ledger (the object backs off from now; a stop is no attempt). */
  async fail(action: Action, hop: FailureHop, failure: FailureFacts): Promise<void> {
    this.outcome.failures.push({ key: action.key, hop, ...failure });
    if (hop !== 'purge') this.ctx.progress?.failed(hop);
    const at = this.ctx.now().toISOString();
    await this.record({ type: 'failed', key: action.key, size: action.size, etag: action.etag, hop: hop === 'purge' ? 'upload' : hop, failure, at });
  }

  /** Reports a failure that is not recorded (a purge, a line never started): the ledger's record stays as it is. */
  report(key: string, hop: FailureHop, failure: FailureFacts): void {
    this.outcome.failures.push({ key, hop, ...failure });
  }

  countVerified(by: VerifiedBy): void {
    this.outcome.verifiedBy[by] = (this.outcome.verifiedBy[by] ?? 0) + 1;
  }
}

/** A thrown value as a failure's cause: its secret-free message, and its code when it is dualsync's. */
export function causeOf(error: unknown): { cause: string; errorCode?: string } {
  return isDualsyncError(error) ? { cause: describeError(error), errorCode: error.code } : { cause: describeError(error) };
}
