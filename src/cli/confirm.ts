/** What the commands that change state ask first: the operator's "yes" (they hold the state directory's lock meanwhile: `withLock`). */
import { createInterface } from 'node:readline/promises';
import type { BaseContext } from 'clipanion';
import { userError } from '../errors.ts';
import { isTty } from './context.ts';

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
