/**
 * Every process a test starts goes through here, so that none outlives its test: stop() ends
 * one, stopAllProcesses() (from afterAll) ends the rest, and an exit/signal hook kills whatever
 * a crashed test file left running.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_BYTES = 8_192;

export interface TrackedProcess {
  pid: number;
  child: ChildProcess;
  /** The last few KiB of stdout and stderr, for error messages. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

const running = new Set<TrackedProcess>();
const everStarted: number[] = [];
let hooked = false;

function killAllNow(): void {
  for (const tracked of running) {
    try {
      process.kill(tracked.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllNow();
      // Keep the default meaning of the signal when nobody else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

/** Starts a tracked process. `env` replaces the environment entirely (nothing is inherited by accident). */
export function startProcess(file: string, args: string[], options: { env: Record<string, string>; cwd?: string }): TrackedProcess {
  installHooks();
  const child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  const pid = child.pid;
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => {
      keep(Buffer.from(String(error)));
      resolve('spawn-error');
    });
  });
  const tracked: TrackedProcess = {
    pid,
    child,
    output: () => tail,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      running.delete(tracked);
    },
  };
  running.add(tracked);
  everStarted.push(pid);
  void exited.then(() => running.delete(tracked));
  return tracked;
}

/** Runs a tracked process to completion (killed after timeoutMs) and returns its code and output. */
export async function runProcess(
  file: string,
  args: string[],
  options: { env: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string },
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const tracked = startProcess(file, args, options);
  let stdout = '';
  let stderr = '';
  tracked.child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  tracked.child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  tracked.child.stdin?.end(options.input ?? '');
  const timer = setTimeout(() => void tracked.stop(), options.timeoutMs ?? 120_000);
  const code = await tracked.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Whether `pid` still runs (a zombie does not). */
export function alive(pid: number): boolean {
  try {
    // A zombie still has /proc/<pid>, but it no longer runs.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** A live process as /proc shows it: its pid, its name (comm) and its command line, spaces between the arguments. */
export interface LiveProcess {
  pid: number;
  comm: string;
  args: string;
}

/** The live (not zombie) processes whose parent is `pid`, from /proc; a process gone meanwhile is left out. */
export function liveChildren(pid: number): LiveProcess[] {
  const found: LiveProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie has finished already (and has no command line left).
      if (Number(parent) === pid && state !== 'Z') found.push({ pid: Number(name), comm, args: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ') });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The live s5cmd processes whose parent is `pid`. */
export function s5cmdChildren(pid: number): LiveProcess[] {
  return liveChildren(pid).filter((child) => child.comm === 's5cmd');
}

/** PIDs of processes this test process started that are still alive (checked in /proc). */
export function livingChildren(): number[] {
  return everStarted.filter(alive);
}

/** Stops every tracked process that is still running; for afterAll. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((tracked) => tracked.stop()));
}
