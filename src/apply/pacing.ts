/**
 * A hop's bandwidth limit, kept by admission pacing: s5cmd has no rate option, so apply hands it
 * each object's line only when a token bucket, filled at the rate the hop's timetable gives at
 * that moment, holds enough for the object's size. What this guarantees (docs/operations.md,
 * "Bandwidth per hop"): over a window of W seconds the hop admits at most rate x W plus one
 * object, so the average is held for objects much smaller than rate x W; one object larger than
 * that still goes at link speed, since s5cmd cannot be slowed while it copies.
 *
 * The rate is read from the timetable at each admission, so a long `apply` or `watch` follows the
 * clock without a restart. While limited, at most a bounded number of objects are in flight, so
 * that a link slower than the limit does not pile lines up in s5cmd that a lower rate could no
 * longer hold back. Only the timing of lines changes, never the lines.
 */
import type { Action, Bandwidth, Hop } from '../model/index.ts';
import { bandwidthAt } from '../config/bandwidth.ts';
import type { HopEvents, HopRunResult, OpenHop, TransferHop } from './hop.ts';

/** Objects in flight on a limited hop, at most (fewer when the hop has fewer workers). */
export const PACED_IN_FLIGHT = 16;
/** Tokens an idle hop saves up: one second at the rate, so a hop that was idle does not burst. */
const BURST_SECONDS = 1;
/** The longest wait before the timetable is read again, so a change of rate takes effect within it. */
const LONGEST_WAIT_MS = 1000;

export interface PacingOptions {
  /** The hop's limit; undefined: no limit, and the hop is opened as it is. */
  bandwidth: Bandwidth | undefined;
  /** The clock the timetable and the bucket read (local time for the timetable). */
  now: () => Date;
}

/** Opens `hop` through `openHop`, with its lines admitted at the limit's rate (or as they come when it has none). */
export function openPacedHop(
  openHop: OpenHop,
  hop: Hop,
  events: HopEvents,
  options: { workers: number; signal: AbortSignal },
  pacing: PacingOptions,
): TransferHop {
  if (pacing.bandwidth === undefined) return openHop(hop, events, options);
  const paced = new PacedHop(pacing.bandwidth, pacing.now, Math.max(1, Math.min(PACED_IN_FLIGHT, options.workers)), options.signal);
  paced.attach(openHop(hop, paced.settling(events), options));
  return paced;
}

/** A hop whose lines wait in a queue until the bucket admits them. */
class PacedHop implements TransferHop {
  readonly #bandwidth: Bandwidth;
  readonly #now: () => Date;
  readonly #maxInFlight: number;
  readonly #signal: AbortSignal;
  readonly #queue: { line: string; action: Action }[] = [];
  readonly #inFlight = new Set<string>();
  #inner: TransferHop | undefined;
  #ended = false;
  #innerEnded = false;
  #finished = false;
  /** Bytes the bucket holds (negative: owed by the last admission). */
  #tokens = 0;
  #filledAtMs: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(bandwidth: Bandwidth, now: () => Date, maxInFlight: number, signal: AbortSignal) {
    this.#bandwidth = bandwidth;
    this.#now = now;
    this.#maxInFlight = maxInFlight;
    this.#signal = signal;
  }

  /** The hop's events, with each settled object leaving the in-flight count first. */
  settling(events: HopEvents): HopEvents {
    return {
      onSuccess: (action) => {
        if (action) this.#inFlight.delete(action.key);
        events.onSuccess(action);
        this.#pump();
      },
      onFailure: (action, error) => {
        if (action) this.#inFlight.delete(action.key);
        events.onFailure(action, error);
        this.#pump();
      },
    };
  }

  attach(inner: TransferHop): void {
    this.#inner = inner;
    // Whatever ends the hop (its end, a stop, s5cmd dying), nothing is admitted after it.
    void inner.done().then(
      () => this.#finish(),
      () => this.#finish(),
    );
    this.#signal.addEventListener('abort', () => this.#pump(), { once: true });
  }

  send(line: string, action: Action): void {
    this.#queue.push({ line, action });
    this.#pump();
  }

  end(): void {
    this.#ended = true;
    this.#pump();
  }

  done(): Promise<HopRunResult> {
    return this.#inner!.done();
  }

  get stalled(): string | undefined {
    return this.#inner?.stalled;
  }

  #finish(): void {
    this.#finished = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Admits what the bucket allows now; waits (by a timer) for the rest. */
  #pump(): void {
    const inner = this.#inner;
    if (inner === undefined || this.#finished) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // A stopped hop drops lines and an aborted one is being stopped: hand them on at once, as an
    // unpaced hop would have had them, so that what becomes of them is decided there.
    const stopping = inner.stalled !== undefined || this.#signal.aborted;
    while (this.#queue.length > 0) {
      const wait = stopping ? 0 : this.#waitMs(this.#queue[0]!.action);
      if (wait === undefined) break; // an object in flight must finish first
      if (wait > 0) {
        this.#timer = setTimeout(() => this.#pump(), Math.min(wait, LONGEST_WAIT_MS));
        break;
      }
      const { line, action } = this.#queue.shift()!;
      this.#inFlight.add(action.key);
      inner.send(line, action);
    }
    if (this.#ended && this.#queue.length === 0 && !this.#innerEnded) {
      this.#innerEnded = true;
      inner.end();
    }
  }

  /**
   * Milliseconds until `action` may go (0: now, and its bytes are taken from the bucket), or
   * undefined while too many objects are in flight. The bucket may go below zero by one object's
   * size: an object larger than a second's worth is never held back for ever, and the debt holds
   * back the objects after it.
   */
  #waitMs(action: Action): number | undefined {
    const at = this.#now();
    const nowMs = at.getTime();
    const rate = bandwidthAt(this.#bandwidth, at);
    if (rate === undefined) {
      // No limit now: the bucket starts afresh when a limit returns.
      this.#tokens = 0;
      this.#filledAtMs = nowMs;
      return 0;
    }
    if (this.#inFlight.size >= this.#maxInFlight) return undefined;
    const elapsedMs = Math.max(0, nowMs - (this.#filledAtMs ?? nowMs));
    this.#tokens = Math.min(rate * BURST_SECONDS, this.#tokens + (rate * elapsedMs) / 1000);
    this.#filledAtMs = nowMs;
    if (this.#tokens < 0) return Math.max(1, Math.ceil((-this.#tokens / rate) * 1000));
    this.#tokens -= action.size;
    return 0;
  }
}
