/**
 * The record of a reset under way (`reset-unfinished.json`) and the names a reset gives: its
 * steps, where a test may stop it, and its backup folder. A reset killed half way is finished by
 * the next one from this record (src/ops/reset.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { userError } from '../errors.ts';
import { writeFileAtomically } from '../files/atomic.ts';
import { fsyncDirectory } from '../files/fsync.ts';
import { RESET_INTENT_FILE, unfinishedReset } from '../ledger/integrity.ts';

/**
 * The points between a reset's steps, in order. `executeReset` calls its `afterStep` hook at each;
 * the command stops there when DUALSYNC_CRASH_AT names it, so tests can kill -9 a reset at each.
 */
export const RESET_STEPS = ['ledger-moved', 'state-moved', 'started-over', 'chain-started', 'staged-file-removed', 'claim-released'] as const;
export type ResetStep = (typeof RESET_STEPS)[number];

/** `backup-YYYYMMDDTHHMMSSZ` (UTC), so backups sort by time. */
export function backupName(now: Date): string {
  return `backup-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}`;
}

export async function freeBackupDir(stateDir: string, now: Date): Promise<string> {
  const base = join(stateDir, backupName(now));
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if ((await stat(candidate).catch(() => undefined)) === undefined) return candidate;
  }
}

export interface ResetIntent {
  /** The backup folder's name in the state directory; none when there was no ledger to move. */
  backup?: string;
  /** The head of the chain being replaced, for the new chain's first event; none for a ledger an earlier reset started and nothing wrote. */
  previousHead?: string;
  keepStaged: boolean;
  /** 'moving' until every state file is in the backup; 'moved' after (a ledger in the state directory is then the new one). */
  phase: 'moving' | 'moved';
}

/** The unfinished reset of `stateDir`, or undefined. */
export async function readResetIntent(stateDir: string): Promise<ResetIntent | undefined> {
  const path = join(stateDir, RESET_INTENT_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as ResetIntent;
  } catch {
    throw userError('E_RESET_UNSAFE', `${path} does not hold the record of an unfinished reset (it does not parse)`, {
      hint: `a reset writes it whole, so it was edited; look at the backup-* folders in ${stateDir}, remove ${path} and run \`dualsync reset\` again`,
    });
  }
}

/**
 * Refuses a run in a state directory whose reset was interrupted: a plan or apply there would
 * start the new ledger before the reset's own first event (or take a half-moved ledger for one).
 */
export async function refuseUnfinishedReset(stateDir: string, command: string): Promise<void> {
  const path = join(stateDir, RESET_INTENT_FILE);
  if ((await stat(path).catch(() => undefined)) === undefined) return;
  throw unfinishedReset(stateDir, path, command);
}

/** Writes the record of the reset under way, durably. */
export async function writeResetIntent(stateDir: string, intent: ResetIntent): Promise<void> {
  writeFileAtomically(join(stateDir, RESET_INTENT_FILE), (emit) => emit(`${JSON.stringify(intent)}\n`));
  await fsyncDirectory(stateDir);
}
