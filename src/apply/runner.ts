import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { commOf, recordChild, type RecordedChild } from './children.ts';
import { running } from './running-hops.ts';
import { formatStallTimeout, watchForStall, type StallWatch } from './watchdog.ts';
import { sampleLink } from './link-progress.ts';
import type { Hop } from '../model/apply.ts';

/** A success line of `s5cmd --json`: the exact source and destination of one finished copy. */
export interface S5Success {
  source: string;
  destination: string;
  size?: number;
}

/** An error line of `s5cmd --json` (stderr): the command as s5cmd re-joined it, and its error. */
export interface S5Failure {
  command: string;
  error: string;
}

export interface HopRunResult {
  exitCode: number | undefined;
  failures: S5Failure[];
  /** stderr lines that were not JSON (panics, usage errors). */
  otherErrors: string[];
  /** Set when the process was killed by a signal. */
  signal?: string;
  /** Set when the watchdog stopped the hop: why ("no progress for 2m0s on the download hop"). */
  stalled?: string;
}

/** Stop the hop when it makes no progress for `timeoutMs` (see watchdog.ts). */
export interface StallOptions {
  timeoutMs: number;
  hop: Hop;
}

/**
 * One long-lived `s5cmd --json run` for one hop. Lines written with `send` run as they arrive
 * (s5cmd reads its standard input line by line), so apply can feed each upload as soon as its
 * download is verified. Credentials travel in `env` only, never in the argument list.
 *
 * s5cmd runs detached, in a process group of its own: Ctrl-C on a terminal signals the whole
 * foreground group, and s5cmd would die on it with every transfer in flight, while dualsync
 * promises to finish the cycle. So only dualsync decides when s5cmd stops: through `signal`
 * (a second Ctrl-C), or `killRunningHops` when dualsync exits. A kill -9 of dualsync runs no
 * exit hook: where util-linux's `setpriv` is on the PATH, s5cmd is started through it with a
 * parent-death signal (it execs s5cmd, so the pid stays s5cmd's), and dies with dualsync. Either
 * way the child is recorded in the state directory, so the next run stops one that survived
 * (no setpriv, or dualsync died before setpriv set the signal).
 */
export class HopRunner {
  readonly #process;
  readonly #done: Promise<HopRunResult>;
  #ended = false;
  #sent = 0;
  #finished = 0;
  /** Lines sent in this turn of the event loop, written together at its end. */
  #unwritten = '';
  #writeSoon: NodeJS.Immediate | undefined;
  #stalled: string | undefined;
  readonly #watch: StallWatch | undefined;

  constructor(options: {
    s5cmd: string;
    args: string[];
    env: Record<string, string>;
    onSuccess: (result: S5Success) => void;
    onFailure?: (failure: S5Failure) => void;
    signal?: AbortSignal;
    stall?: StallOptions;
    /** The state directory in which the child is recorded while it runs (children.ts); none in tests of the runner alone. */
    recordIn?: string;
  }) {
    const setpriv = setprivOn(options.env.PATH);
    const [file, args] = setpriv === undefined ? [options.s5cmd, [...options.args, 'run']] : [setpriv, ['--pdeathsig', 'KILL', '--', options.s5cmd, ...options.args, 'run']];
    this.#process = execa(file, args, {
      env: options.env,
      extendEnv: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5000,
      detached: true,
    });
    const pid = this.#process.pid;
    let record: RecordedChild | undefined;
    if (pid !== undefined && options.recordIn !== undefined) {
      try {
        // Before the first line is sent: a child that has no record has had nothing to move.
        record = recordChild(options.recordIn, pid, { comm: commOf(options.s5cmd), hop: options.stall?.hop ?? 'transfer' });
      } catch (error) {
        this.#process.kill('SIGKILL');
        throw error;
      }
    }
    if (pid !== undefined) running.set(pid, record);
    const failures: S5Failure[] = [];
    const otherErrors: string[] = [];
    const stdoutDone = new Promise<void>((resolve) => {
      createInterface({ input: this.#process.stdout! }).on('line', (line) => {
        const parsed = parseJson(line);
        if (parsed) this.#lineDone();
        if (parsed && parsed.success === true && typeof parsed.source === 'string' && typeof parsed.destination === 'string') {
          const object = parsed.object as { size?: number } | undefined;
          options.onSuccess({ source: parsed.source, destination: parsed.destination, size: object?.size });
        }
      }).on('close', resolve);
    });
    const stderrDone = new Promise<void>((resolve) => {
      createInterface({ input: this.#process.stderr! }).on('line', (line) => {
        const parsed = parseJson(line);
        if (parsed && typeof parsed.error === 'string') {
          this.#lineDone();
          // Errors after the watchdog stopped s5cmd are that stop's doing (cancelled requests): the stall is the reason.
          if (this.#stalled !== undefined) return;
          const failure = { command: String(parsed.command ?? ''), error: parsed.error };
          failures.push(failure);
          options.onFailure?.(failure);
        } else if (line.trim() !== '') {
          otherErrors.push(line);
        }
      }).on('close', resolve);
    });
    // A broken pipe on stdin (s5cmd died) shows up in the exit result; do not crash on it.
    this.#process.stdin!.on('error', () => undefined);
    const stall = options.stall;
    if (stall !== undefined) {
      this.#watch = watchForStall({
        timeoutMs: stall.timeoutMs,
        sampleLink: () => sampleLink(this.#process.pid),
        busy: () => this.#sent > this.#finished,
        onStall: () => this.#stop(`no progress for ${formatStallTimeout(stall.timeoutMs)} on the ${stall.hop} hop`),
      });
    }
    this.#done = Promise.all([this.#process, stdoutDone, stderrDone]).then(([result]) => {
      this.#watch?.stop();
      if (pid !== undefined) running.delete(pid);
      record?.remove();
      return {
        exitCode: result.exitCode,
        failures,
        otherErrors,
        signal: result.signal ?? undefined,
        ...(this.#stalled === undefined ? {} : { stalled: this.#stalled }),
      };
    });
  }

  #lineDone(): void {
    this.#finished++;
    this.#watch?.touch();
  }

  /** Stops s5cmd (the watchdog saw no progress): what it had in flight fails with `reason`. */
  #stop(reason: string): void {
    this.#stalled = reason;
    this.#ended = true;
    this.#process.stdin!.destroy();
    this.#process.kill('SIGTERM');
  }

  /** Whether the watchdog stopped this hop; lines sent after that are dropped. */
  get stalled(): string | undefined {
    return this.#stalled;
  }

  /**
   * Queues one run-file line (without its newline). Lines sent in one turn of the event loop (the
   * downloads that one chunk of s5cmd's output reported, the uploads that one ledger commit
   * released) go to s5cmd's stdin in one write, at the end of that turn, instead of one write
   * (and one system call) each.
   */
  send(line: string): void {
    if (this.#stalled !== undefined) return;
    if (this.#ended) throw new Error('assertion failed: line sent after the hop input was closed');
    this.#sent++;
    this.#unwritten += `${line}\n`;
    this.#writeSoon ??= setImmediate(() => this.#writeQueued());
  }

  #writeQueued(): void {
    if (this.#writeSoon !== undefined) clearImmediate(this.#writeSoon);
    this.#writeSoon = undefined;
    const lines = this.#unwritten;
    this.#unwritten = '';
    // After a stall the input is destroyed: what was queued is dropped with it, as lines sent then are.
    if (lines !== '' && this.#stalled === undefined) this.#process.stdin!.write(lines);
  }

  /** No more lines: s5cmd finishes what it has and exits. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#writeQueued();
    this.#process.stdin!.end();
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  /** Resolves when s5cmd has exited and both its streams are read. */
  done(): Promise<HopRunResult> {
    return this.#done;
  }
}

const setprivByPath = new Map<string, string | undefined>();

/**
 * util-linux's `setpriv` on `path` (Linux), which can give s5cmd a parent-death signal: the
 * kernel sends it when dualsync dies, even by SIGKILL. The signal follows the thread that
 * spawned the child; Node spawns from its main thread, whose end is the process's end.
 */
function setprivOn(path: string | undefined): string | undefined {
  if (process.platform !== 'linux' || path === undefined) return undefined;
  if (!setprivByPath.has(path)) {
    let found: string | undefined;
    for (const dir of path.split(delimiter)) {
      if (dir === '') continue;
      try {
        accessSync(join(dir, 'setpriv'), constants.X_OK);
        found = join(dir, 'setpriv');
        break;
      } catch {
        // not here
      }
    }
    setprivByPath.set(path, found);
  }
  return setprivByPath.get(path);
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
