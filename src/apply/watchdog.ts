/**
 * A watchdog per hop. s5cmd 2.2.2 has no short idle timeout: over a link that drops every
 * packet a transfer waits minutes with nothing printed, and the whole apply (holding the lock)
 * with it. A hop that has work in flight and makes no progress for `timeoutMs` is reported
 * stalled, once; the caller stops its s5cmd.
 *
 * Progress is lines completing or the link moving (DESIGN invariant 15): a sample of what
 * s5cmd's link carries (link-progress.ts: its writes, and the queues of its TCP sockets)
 * that differs from the previous one. Bytes s5cmd has written alone are not enough: the last
 * megabytes of an upload drain from socket buffers at link speed while s5cmd writes nothing, and
 * a slow link that still moves must never be called stalled. Where the sample cannot be read (no
 * /proc), no hop is ever stopped: a guess must not kill a slow but live transfer.
 *
 * The link is read only when no line completed since the previous check: a line completing is
 * progress already, and a reading walks s5cmd's fds and the whole tcp table of the host (a few
 * ms each, twice a second with two hops, taken from the transfers on a small box). The sample
 * after such a pause is a new baseline and counts as progress, as the first one does, so a hop is
 * called stalled at most one check later than it would have been.
 */
import { linkMoved, type LinkSample } from './link-progress.ts';

export interface StallWatchOptions {
  timeoutMs: number;
  /** A sample of what the hop's link carries (see sampleLink); undefined when it cannot be read. */
  sampleLink: () => Promise<LinkSample | undefined>;
  /** Whether the hop has work in flight (an idle hop waiting for lines is not stalled). */
  busy: () => boolean;
  onStall: () => void;
  checkEveryMs?: number;
  now?: () => number;
}

export interface StallWatch {
  /** Progress seen elsewhere (a line completed). */
  touch(): void;
  stop(): void;
}

/** Watches a hop for `timeoutMs` without progress; calls `onStall` once when it happens. */
export function watchForStall(options: StallWatchOptions): StallWatch {
  const now = options.now ?? Date.now;
  let lastProgress = now();
  let lastSample: LinkSample | undefined;
  let touchedSinceCheck = false;
  let checking = false;
  let stopped = false;
  const check = async () => {
    if (checking || stopped) return;
    if (touchedSinceCheck) {
      touchedSinceCheck = false;
      lastSample = undefined;
      return;
    }
    checking = true;
    try {
      const sample = await options.sampleLink();
      if (sample === undefined || lastSample === undefined || linkMoved(lastSample, sample) || !options.busy()) lastProgress = now();
      lastSample = sample;
      if (!stopped && now() - lastProgress >= options.timeoutMs) {
        stopped = true;
        clearInterval(timer);
        options.onStall();
      }
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), options.checkEveryMs ?? Math.max(50, Math.min(1000, options.timeoutMs / 4)));
  timer.unref();
  return {
    touch: () => {
      lastProgress = now();
      touchedSinceCheck = true;
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** A duration as Go prints it, the way s5cmd users read them: `2m0s`, `1h0m0s`, `3s`, `1.5s`. */
export function formatStallTimeout(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = `${Number(((ms % 60_000) / 1000).toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}
