/**
 * Who a process is, from Linux's /proc: a pid alone does not say it, because pids are reused
 * (a container's main process is pid 1 on every restart). A process is named here by its pid,
 * its start time (in clock ticks after boot, /proc/PID/stat field 22) and the boot id: the same
 * three values mean the same process; any other value means another one (or none).
 *
 * Everything here is synchronous and cheap (one or two small reads), so that it can be called
 * right after a spawn, before the child is given any work, and from an exit hook.
 */
import { readFileSync } from 'node:fs';

/** A process as it can be recognised again later, even after its pid was reused. */
export interface ProcessIdentity {
  pid: number;
  /** /proc/PID/stat field 22: clock ticks after boot at which it started. */
  startTime: string;
  /** /proc/sys/kernel/random/boot_id: start times count from this boot only. */
  bootId: string;
}

/** What /proc/PID/stat says of a process now. */
export interface ProcessStat {
  /** The executable's name as the kernel keeps it (at most 15 bytes). */
  comm: string;
  /** R, S, D, Z, ... (field 3). */
  state: string;
  /** Field 4. */
  parentPid: number;
  /** Field 22, as text (it can pass 2^53 in principle; it is only compared). */
  startTime: string;
}

let cachedBootId: string | undefined;

/** This boot's id, or undefined where there is no /proc. */
export function bootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return undefined;
    }
  }
  return cachedBootId;
}

/**
 * Parses /proc/PID/stat. The name (field 2) is in parentheses and may itself hold spaces and
 * parentheses, so the fields after it are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcessStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open === -1 || close < open) return undefined;
  // After ") ": field 3 (state) is at index 0, so field N is at index N - 3.
  const fields = text.slice(close + 2).trim().split(' ');
  const state = fields[0];
  const parentPid = Number(fields[1]);
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime) || !Number.isInteger(parentPid)) return undefined;
  return { comm: text.slice(open + 1, close), state, parentPid, startTime };
}

/** /proc/PID/stat of a process, or undefined when it does not exist (or there is no /proc). */
export function processStat(pid: number): ProcessStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The identity of a running process, or undefined when it is gone or there is no /proc. */
export function identityOf(pid: number): ProcessIdentity | undefined {
  const stat = processStat(pid);
  const boot = bootId();
  if (stat === undefined || boot === undefined) return undefined;
  return { pid, startTime: stat.startTime, bootId: boot };
}

/** This process's identity (undefined where there is no /proc). */
export function ownIdentity(): ProcessIdentity | undefined {
  return identityOf(process.pid);
}

/**
 * Whether the process that `identity` names still runs: same pid, same start time, same boot,
 * and not a zombie (a zombie has exited; it only waits to be reaped). Undefined where /proc
 * cannot tell (no /proc); callers decide what an unknown means for them.
 */
export function stillRunning(identity: ProcessIdentity): boolean | undefined {
  const boot = bootId();
  if (boot === undefined) return undefined;
  if (identity.bootId !== boot) return false;
  const stat = processStat(identity.pid);
  if (stat === undefined) return false;
  return stat.startTime === identity.startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/** Reads a ProcessIdentity back from parsed JSON, or undefined when it is not one. */
export function asIdentity(value: unknown): ProcessIdentity | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { pid, startTime, bootId: boot } = value as Record<string, unknown>;
  if (!Number.isInteger(pid) || typeof startTime !== 'string' || !/^\d+$/.test(startTime) || typeof boot !== 'string' || boot === '') return undefined;
  return { pid: pid as number, startTime, bootId: boot };
}
