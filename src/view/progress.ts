import type { Hop, ProgressSink } from '../model/apply.ts';
import { formatBytes } from '../config/units.ts';

interface HopCounters {
  objects: number;
  bytes: number;
  doneObjects: number;
  doneBytes: number;
  failed: number;
  startedMs: number;
  /** When the first object finished: the rate is measured from there, not from start(). */
  firstDoneMs?: number;
  /** Completions inside the rate window, oldest first. */
  recent: { ms: number; bytes: number }[];
}

/**
 * The rate (and so the ETA) is measured over the last RATE_WINDOW_MS, from the first completion
 * on: uploads wait for downloads and a run starts with a burst of small objects, so an average
 * from the start said "ETA 5m13s" for an apply that ended 6.9 s later.
 */
const RATE_WINDOW_MS = 10_000;
/** No ETA before this much of the window has been seen: one early object says little. */
const ETA_AFTER_MS = 1_000;

/**
 * Per-hop progress: objects, bytes, rate and ETA. On a terminal one line is redrawn in place;
 * elsewhere (logs, CI) a plain line is printed every `intervalMs` and when a hop finishes.
 */
export class Progress implements ProgressSink {
  readonly #hops = new Map<Hop, HopCounters>();
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #nowMs: () => number;
  readonly #intervalMs: number;
  #lastPrintMs = 0;

  constructor(options: { write: (text: string) => void; tty: boolean; nowMs: () => number; intervalMs?: number }) {
    this.#write = options.write;
    this.#tty = options.tty;
    this.#nowMs = options.nowMs;
    this.#intervalMs = options.intervalMs ?? (options.tty ? 250 : 10_000);
  }

  start(hop: Hop, objects: number, bytes: number): void {
    this.#hops.set(hop, { objects, bytes, doneObjects: 0, doneBytes: 0, failed: 0, startedMs: this.#nowMs(), recent: [] });
    this.#maybePrint(true);
  }

  done(hop: Hop, bytes: number): void {
    const counters = this.#hops.get(hop);
    if (!counters) return;
    counters.doneObjects++;
    counters.doneBytes += bytes;
    const now = this.#nowMs();
    counters.firstDoneMs ??= now;
    counters.recent.push({ ms: now, bytes });
    this.#maybePrint(counters.doneObjects + counters.failed === counters.objects);
  }

  failed(hop: Hop): void {
    const counters = this.#hops.get(hop);
    if (!counters) return;
    counters.failed++;
    this.#maybePrint(counters.doneObjects + counters.failed === counters.objects);
  }

  /** Ends the redrawn line so that what follows starts on a fresh one. */
  finish(): void {
    if (this.#tty && this.#hops.size > 0) this.#write(`\r${this.line()}\n`);
  }

  /** The current progress as one line. */
  line(): string {
    const parts: string[] = [];
    const now = this.#nowMs();
    for (const [hop, c] of this.#hops) {
      while (c.recent.length > 0 && c.recent[0]!.ms <= now - RATE_WINDOW_MS) c.recent.shift();
      const measuredMs = c.firstDoneMs === undefined ? 0 : Math.min(RATE_WINDOW_MS, now - c.firstDoneMs);
      const windowBytes = c.recent.reduce((sum, event) => sum + event.bytes, 0);
      const rate = measuredMs > 0 ? windowBytes / (measuredMs / 1000) : 0;
      const left = c.bytes - c.doneBytes;
      const eta = rate > 0 && left > 0 && measuredMs >= ETA_AFTER_MS ? ` ETA ${formatSeconds(left / rate)}` : '';
      const failed = c.failed > 0 ? `, ${c.failed} failed` : '';
      parts.push(`${hop} ${c.doneObjects}/${c.objects} (${formatBytes(c.doneBytes)}/${formatBytes(c.bytes)}, ${formatBytes(rate)}/s${eta}${failed})`);
    }
    return parts.join(' | ');
  }

  #maybePrint(force: boolean): void {
    const now = this.#nowMs();
    if (!force && now - this.#lastPrintMs < this.#intervalMs) return;
    this.#lastPrintMs = now;
    if (this.#tty) this.#write(`\r${this.line()}\x1b[K`);
    else this.#write(`progress: ${this.line()}\n`);
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
