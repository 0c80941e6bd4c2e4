/** What the commands that change state ask first: no other dualsync at work, and the operator's "yes". */
import { createInterface } from 'node:readline/promises';
import type { BaseContext } from 'clipanion';
import type { LockHolder } from '../apply/lock.ts';
import { describeHolder } from '../apply/lock.ts';
import { userError } from '../errors.ts';
import { isTty } from './context.ts';

/** Refuses while another dualsync holds the state directory's lock; `then` is the command to run once it is stopped. */
export function refuseWhileLocked(stateDir: string, lock: LockHolder | undefined, then: string): void {
  if (lock === undefined) return;
  throw userError('E_LOCKED', `another dualsync holds the lock on ${stateDir}: ${describeHolder(lock)}`, {
    hint: `stop it first (Ctrl-C, or kill -TERM the pid), then ${then}`,
  });
}

/** Asks `question` on the command's terminal; true only for "yes". */
export async function answeredYes(context: BaseContext, question: string): Promise<boolean> {
  const rl = createInterface({ input: context.stdin, output: context.stdout });
  try {
    return (await rl.question(`\n${question} Only "yes" will be accepted: `)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

/**
 * The confirmation a command needs unless `--yes` was given: refused without a terminal to ask
 * on (`command` names it in the error), else the operator's answer to `question`.
 */
export async function confirmedOrYes(context: BaseContext, yes: boolean, command: string, question: string): Promise<boolean> {
  if (yes) return true;
  if (!isTty(context.stdin) || !isTty(context.stdout)) {
    throw userError('E_CONFIRM', `${command} needs a confirmation, and there is no terminal to ask on`, { hint: 'run it on a terminal, or pass --yes' });
  }
  return answeredYes(context, question);
}
