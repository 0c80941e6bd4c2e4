import type { Hop, ProgressSink } from '../model/apply.ts';
import { formatBytes } from '../config/units.ts';

interface HopCounters {
  objects: number;
  bytes: number;
  doneObjects: number;
  doneBytes: number;
  failed: number;
  startedMs: number;
  /** When the hop's first transfer was handed to s5cmd: the rate is measured from there. */
  firstSentMs?: number;
  /** When the last object finished: a hop with none for a while is stalled and shows no ETA. */
  lastDoneMs?: number;
}

/**
 * The rate is the hop's bytes done over the hop's own time, from its first transfer on: uploads
 * wait for their downloads, so an average from start() said "ETA 5m13s" for an apply that ended
 * 6.9 s later; measured from the first completion instead, a burst of small objects finishing
 * together said "1.8 GiB/s" on a 2-core box. No rate (and no ETA) before RATE_AFTER_MS: a few
 * objects in a fraction of a second say nothing about the link.
 */
const RATE_AFTER_MS = 1_000;
/** No completion for this long: the hop is stalled, and an ETA from its average would be a guess. */
const STALL_MS = 10_000;

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
    this.#hops.set(hop, { objects, bytes, doneObjects: 0, doneBytes: 0, failed: 0, startedMs: this.#nowMs() });
    this.#maybePrint(true);
  }

  sent(hop: Hop): void {
    const counters = this.#hops.get(hop);
    if (counters) counters.firstSentMs ??= this.#nowMs();
  }

  done(hop: Hop, bytes: number): void {
    const counters = this.#hops.get(hop);
    if (!counters) return;
    counters.doneObjects++;
    counters.doneBytes += bytes;
    counters.lastDoneMs = this.#nowMs();
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
      // A sink that reports no sent() (or a hop that sent nothing yet) counts from the hop's start.
      const measuredMs = now - (c.firstSentMs ?? c.startedMs);
      const rate = measuredMs >= RATE_AFTER_MS ? c.doneBytes / (measuredMs / 1000) : undefined;
      const left = c.bytes - c.doneBytes;
      const stalled = c.lastDoneMs === undefined || now - c.lastDoneMs >= STALL_MS;
      const eta = rate !== undefined && rate > 0 && left > 0 && !stalled ? ` ETA ${formatSeconds(left / rate)}` : '';
      const shown = rate === undefined ? '' : `, ${formatBytes(rate)}/s${eta}`;
      const failed = c.failed > 0 ? `, ${c.failed} failed` : '';
      parts.push(`${hop} ${c.doneObjects}/${c.objects} (${formatBytes(c.doneBytes)}/${formatBytes(c.bytes)}${shown}${failed})`);
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
