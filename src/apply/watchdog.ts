/**
 * A watchdog per hop. s5cmd 2.2.2 has no short idle timeout: over a link that drops every
 * packet a transfer waits minutes with nothing printed, and the whole apply (holding the lock)
 * with it. A hop that has work in flight and makes no progress for `timeoutMs` is reported
 * stalled, once; the caller stops its s5cmd.
 *
 * Progress is bytes moving or lines completing. The bytes are the `wchar` counter of
 * /proc/<pid>/io: every byte s5cmd writes, to a socket (the upload hop sends the object) or to a
 * file (the download hop writes s5cmd's temporary file), so one measure serves both hops and
 * needs no walk of the temporary folders. A black-holed connection writes nothing on a download;
 * on an upload the kernel's socket buffer fills and the writes block. Where the counter cannot be
 * read (no /proc), no hop is ever stopped: a guess must not kill a slow but live transfer.
 */
import { readFile } from 'node:fs/promises';

export interface StallWatchOptions {
  timeoutMs: number;
  /** A counter of the bytes the hop has moved that only grows; undefined when it cannot be read. */
  bytesMoved: () => Promise<number | undefined>;
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
  let lastBytes: number | undefined;
  let checking = false;
  let stopped = false;
  const check = async () => {
    if (checking || stopped) return;
    checking = true;
    try {
      const bytes = await options.bytesMoved();
      if (bytes === undefined || bytes !== lastBytes || !options.busy()) lastProgress = now();
      lastBytes = bytes;
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
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** Bytes a process has written so far (`wchar` of /proc/<pid>/io), or undefined where that cannot be read. */
export async function bytesWrittenBy(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const match = /^wchar:\s*(\d+)$/m.exec(await readFile(`/proc/${pid}/io`, 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
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
