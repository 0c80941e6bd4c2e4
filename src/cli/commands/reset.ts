import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { formatBytes } from '../../config/units.ts';
import { CLAIM_FILE, TEMP_DIR } from '../../model/volume-layout.ts';
import type { ResetStep } from '../../ops/reset-intent.ts';
import type { ResetPlan } from '../../ops/reset.ts';

const AFTER_RESET =
  'After a reset dualsync remembers nothing it moved: the next plan lists everything again. Objects the destination ' +
  'provably already holds (equal ETags, or equal content as apply compares it) are adopted without moving; kept staged files ' +
  'are uploaded only once their MD5 matches the source; everything else is downloaded and uploaded again.';

function describePlan(plan: ResetPlan): string {
  const lines: string[] = ['dualsync reset will:'];
  if (plan.unfinished !== undefined) {
    const backup = plan.unfinished.backup === undefined ? '' : ` (its backup: ${plan.stateDir}/${plan.unfinished.backup}/)`;
    lines.push(`  finish the reset that was interrupted${backup}:`);
  }
  if (plan.stateFiles.length > 0) {
    lines.push(`  move the ledger (${plan.ledger.objects} object(s)) into ${plan.stateDir}/backup-<time>/:`);
    for (const file of plan.stateFiles) lines.push(`    ${file}`);
  } else if (plan.unfinished === undefined) {
    lines.push(`  find no ledger in ${plan.stateDir}`);
  }
  if (plan.keepStaged) {
    lines.push('  keep the staged files, and the volumes\' claims (--keep-staged)');
  } else {
    for (const v of plan.volumes) {
      if (v.owner === 'other') {
        lines.push(`  leave ${v.root} alone: ${v.ownerDescription ?? 'another state directory claims it'}`);
        continue;
      }
      if (v.owner === 'none') {
        lines.push(`  leave ${v.root} alone: this state directory does not claim it (released?), and another one may hold its files`);
        continue;
      }
      const temporary = v.temporaryFiles > 0 ? `, ${v.temporaryFiles} of them interrupted downloads in ${TEMP_DIR}/` : '';
      if (v.files === 0) lines.push(`  find nothing this ledger staged in ${v.root}`);
      else lines.push(`  remove from ${v.root} the ${v.files} file(s) this ledger staged (${formatBytes(v.bytes)}${temporary})`);
      if (v.keptFiles > 0) lines.push(`  leave the ${v.keptFiles} other file(s) in ${v.root}: this ledger did not stage them (or they changed since)`);
      if (v.owner === 'ours') lines.push(`  release ${v.root} (remove ${CLAIM_FILE}), so that another config may use it`);
    }
  }
  if (!plan.keepStaged && plan.ledger.stagedNotDelivered > 0) {
    lines.push(
      '',
      `Warning: ${plan.ledger.stagedNotDelivered} staged object(s) (${formatBytes(plan.ledger.stagedNotDeliveredBytes)}) have not reached the destination yet.`,
      '  Their staged copies are deleted; if the source no longer has them (a device already shipped back), they are lost.',
      '  Use --keep-staged to keep them: the next apply uploads them.',
    );
  }
  lines.push('', `Warning: ${AFTER_RESET}`);
  return `${lines.join('\n')}\n`;
}

export class ResetCommand extends BaseCommand {
  static override paths = [['reset']];
  static override usage = Command.Usage({
    description: 'start over: back up the ledger, remove the files it staged, release the volumes',
    details: `
      Moves the ledger (and the record of the last run) into a timestamped backup folder in the
      state directory, \`backup-YYYYMMDDTHHMMSSZ/\`, removes from the volumes the files the ledger
      records as staged (and the interrupted downloads of this state directory), and releases the
      volumes' claims so that another config may use them. Nothing else is deleted: a file the
      ledger did not stage stays, a volume another state directory claims is left alone, and
      nothing in the state directory is removed. \`--keep-staged\` leaves the staged files and
      the claims in place.

      It shows what it will do first and asks for "yes" (on a terminal), unless \`--yes\` is given.
      It refuses while another dualsync holds the lock (a running \`watch\` holds it between its
      cycles too): stop that first. It holds the lock itself from its first look at the state
      directory to its end, question included, so no run changes what it showed meanwhile.

      After a reset dualsync remembers nothing it moved: the next plan lists everything again.
      Objects the destination provably already holds (equal ETags, or equal content as apply
      compares it; see transfer.adopt) are adopted without moving; everything else is transferred
      again. Staged files kept with --keep-staged are uploaded only once their MD5 matches the
      source's ETag, and downloaded again otherwise.
    `,
    examples: [
      ['See what a reset would remove, and confirm', 'dualsync reset'],
      ['Unattended', 'dualsync reset --yes'],
      ['Forget the ledger but keep what is staged', 'dualsync reset --keep-staged --yes'],
    ],
  });

  yes = Option.Boolean('--yes', false, { description: 'Do not ask for confirmation' });
  keepStaged = Option.Boolean('--keep-staged', false, { description: 'Leave the staged files on the volumes' });

  /** The test hooks: DUALSYNC_CRASH_AT=reset:STEP kills this process (kill -9) right after STEP; DUALSYNC_PAUSE_AT=reset:STEP stops it there (SIGSTOP), its lock held. */
  crashAt(): (step: ResetStep) => void {
    const wanted = this.context.env.DUALSYNC_CRASH_AT;
    const paused = this.context.env.DUALSYNC_PAUSE_AT;
    let stopped = false;
    return (step) => {
      if (wanted === `reset:${step}`) process.kill(process.pid, 'SIGKILL');
      if (paused === `reset:${step}` && !stopped) {
        stopped = true; // once: a step that repeats (a file removed, a volume released) stops only the first time
        process.kill(process.pid, 'SIGSTOP');
      }
    };
  }

  async run(): Promise<number> {
    const [{ loadConfigFor }, { confirmedOrYes }, { executeReset, planReset, resetIsEmpty }, { withLock }] = await Promise.all([
      import('../context.ts'),
      import('../confirm.ts'),
      import('../../ops/reset.ts'),
      import('../../apply/lock.ts'),
    ]);
    const config = await loadConfigFor(this.context, this.configPath());
    // Held from the first read to the last change: read outside it, another reset's work in progress looks like a conflict.
    return withLock(config.stateDir, 'dualsync reset', () => new Date(), async () => {
      const plan = await planReset(config, { keepStaged: this.keepStaged });
      const out = this.context.stdout;
      if (resetIsEmpty(plan)) {
        out.write(`Nothing to reset: no ledger in ${config.stateDir}${plan.keepStaged ? '' : ' and nothing staged'}.\n`);
        return 0;
      }
      out.write(describePlan(plan));
      if (!(await confirmedOrYes(this.context, this.yes, 'reset', 'Reset?'))) {
        out.write('Reset cancelled; nothing was changed.\n');
        return 0;
      }
      const outcome = await executeReset(config, plan, () => new Date(), this.crashAt());
      const moved = outcome.backupDir ? `ledger moved to ${outcome.backupDir}` : 'no ledger to move';
      const kept = outcome.keptFiles > 0 ? `, ${outcome.keptFiles} other file(s) left in place` : '';
      const released = outcome.releasedVolumes.length > 0 ? `; ${outcome.releasedVolumes.length} volume(s) released` : '';
      const removed = plan.keepStaged ? 'staged files kept' : `${outcome.removedFiles} staged file(s) (${formatBytes(outcome.removedBytes)}) removed${kept}${released}`;
      out.write(`\nReset complete: ${moved}; ${removed}.\nThe next \`dualsync plan\` starts from nothing and adopts what the destination already holds.\n`);
      return 0;
    });
  }
}
