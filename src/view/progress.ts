import type { Hop, ProgressSink } from '../apply/execute.ts';
import { formatBytes } from '../config/units.ts';

interface HopCounters {
  objects: number;
  bytes: number;
  doneObjects: number;
  doneBytes: number;
  failed: number;
  startedMs: number;
}

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

  done(hop: Hop, bytes: number): void {
    const counters = this.#hops.get(hop);
    if (!counters) return;
    counters.doneObjects++;
    counters.doneBytes += bytes;
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
    for (const [hop, c] of this.#hops) {
      const seconds = Math.max(0.001, (this.#nowMs() - c.startedMs) / 1000);
      const rate = c.doneBytes / seconds;
      const left = c.bytes - c.doneBytes;
      const eta = rate > 0 && left > 0 ? ` ETA ${formatSeconds(left / rate)}` : '';
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
