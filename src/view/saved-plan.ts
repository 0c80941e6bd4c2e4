/**
 * The words of a saved plan's refusals and warnings (src/planfile/ decides them as codes and
 * facts, see model/saved-plan.ts): each refusal becomes a user error with its stable code, the
 * plan file named, and the step to take. Pure.
 */
import { formatBytes } from '../config/units.ts';
import { userError, type DualsyncError } from '../errors.ts';
import { ACTION_ORDER } from '../model/plan.ts';
import type { ActionOutOfOrder, NeverPlannedAction, ReserveWarning, RoomShortfall, SavedPlanRefusal, StaleFacts } from '../model/saved-plan.ts';
import { SavedPlanRefused } from '../planfile/refused.ts';
import { reasonText } from './reasons.ts';

const NEW_PLAN = 'make a new plan with `dualsync plan --out FILE`';

function outOfOrderText(first: ActionOutOfOrder): string {
  const field = `plan.actions[${first.index}]`;
  if (first.by === 'kind') return `${field} is a ${first.kind} after the ${first.previousKind}s (dualsync writes the kinds in the order ${ACTION_ORDER.join(', ')})`;
  return `${field} (${first.kind} ${JSON.stringify(first.key)}) comes after ${JSON.stringify(first.previousKey)} (dualsync writes each kind's actions in key order)`;
}

function neverPlannedText(wrong: NeverPlannedAction): string {
  const action = `${wrong.kind} ${JSON.stringify(wrong.key)}`;
  switch (wrong.problem) {
    case 'volume':
      return `${action} on ${wrong.volume ?? ''}: not one of the configured staging volumes`;
    case 'replaces':
      return `${action} replacing a copy on ${wrong.replaces ?? ''}: not a re-download, or not one of the configured staging volumes`;
    case 'key':
      return `${action}: ${wrong.reason === undefined ? 'a key no volume can hold' : reasonText(wrong.reason)}`;
  }
}

function shortfallText(full: RoomShortfall): string {
  const has = full.roots.length === 1 ? 'which has' : 'which share one filesystem with';
  return `the plan downloads ${formatBytes(full.plannedBytes)} to ${full.roots.join(' and ')}, ${has} ${formatBytes(full.freeBytes)} free now (${formatBytes(full.freeBytesThen)} when the plan was made)`;
}

/** The lines under a stale plan's refusal: what moved, then the diff when it is short or asked for. */
function staleDetails(planPath: string, stale: StaleFacts): string[] {
  const details = stale.reachability.map((change) =>
    change.change === 'back' ? `the ${change.side} was unreachable when the plan was made, and is reachable now` : `the ${change.side} is unreachable now: ${change.cause ?? ''}`,
  );
  for (const { hop, removed, added } of stale.manifests) details.push(`${hop}.s5cmd: ${removed} command${removed === 1 ? '' : 's'} no longer planned, ${added} new`);
  const { lines, count } = stale.diff;
  if (count === 0) details.push('(the manifests are the same; the ledger or the listings moved in ways the plan does not show)');
  else if (stale.showDiff || count <= lines.length) details.push(...lines);
  else details.push(`(the diff has ${count} lines: \`dualsync apply --diff ${planPath}\` shows it)`);
  if (count > lines.length && stale.showDiff) details.push(`(${count - lines.length} more lines of the diff left out: the first ${lines.length} are shown)`);
  return details;
}

/** The user error that refuses a saved plan, worded from its code and facts. */
export function savedPlanRefusalError(refusal: SavedPlanRefusal): DualsyncError {
  const { planPath } = refusal;
  switch (refusal.code) {
    case 'plan-edited':
      return userError('E_PLAN_TAMPERED', `the plan file ${planPath} was changed after it was written`, {
        hint: `${NEW_PLAN}; a saved plan is applied exactly as reviewed or not at all`,
      });
    case 'actions-out-of-order':
      return userError('E_PLAN_TAMPERED', `the plan file ${planPath} has its actions out of plan order: ${outOfOrderText(refusal.first)}`, {
        hint: `${NEW_PLAN}; a plan file must not be edited`,
      });
    case 'config-changed': {
      const what = refusal.fields.length > 0 ? refusal.fields.join(', ') : 'this plan file does not record which fields';
      return userError('E_PLAN_STALE', `the config changed since this plan was made: ${what} (plan ${planPath}, config ${refusal.configFile})`, {
        hint: `${NEW_PLAN}, or apply this one with the config it was made with`,
      });
    }
    case 'actions-never-planned':
      return userError('E_PLAN_TAMPERED', `the plan ${planPath} has ${refusal.count} action(s) that dualsync never plans`, {
        details: refusal.examples.map(neverPlannedText),
        hint: `${NEW_PLAN}; a plan file must not be edited`,
      });
    case 'volumes-gone':
      return userError('E_PLAN_STALE', `the config changed since this plan was made: staging.volumes no longer matches ${refusal.volumes.join(', ')} (plan ${planPath})`, {
        hint: `mount the volume again (the plan stages or uploads objects there), or ${NEW_PLAN}`,
      });
    case 'manifest-differs':
      return userError('E_PLAN_TAMPERED', `the manifest ${refusal.manifest} differs from its plan file ${planPath}`, { hint: NEW_PLAN });
    case 'plan-stale':
      return userError('E_PLAN_STALE', `the plan ${planPath} is stale: the source, the destination, the staging volumes or the ledger changed since it was made (ledger serial ${refusal.ledgerSerialThen} -> ${refusal.ledgerSerialNow})`, {
        details: staleDetails(planPath, refusal),
        hint: `make a fresh plan: \`dualsync plan --out ${planPath}\`, review it and apply it, or \`dualsync apply\` to plan and apply in one step (after a power cut or a crash a saved plan is always stale: the ledger moved)`,
      });
    case 'volumes-full': {
      const count = refusal.full.length;
      return userError('E_PLAN_STALE', `the plan ${planPath} no longer fits the staging volumes: ${count === 1 ? 'a volume has' : `${count} volumes have`} less free space than it downloads`, {
        details: refusal.full.map(shortfallText),
        hint: `free space on the volume, or ${NEW_PLAN} (it defers what does not fit)`,
      });
    }
  }
}

/** The warning of a saved plan whose downloads now reach into a volume's reserve. */
export function reserveWarningText(warning: ReserveWarning): string {
  const its = warning.roots.length === 1 ? 'its' : 'their';
  return `the plan downloads ${formatBytes(warning.plannedBytes)} to ${warning.roots.join(' and ')}, which eats ${formatBytes(warning.intoReserveBytes)} into ${its} reserve: the disk filled since the plan was made`;
}

/** Rethrows `error` worded when it is a saved plan's refusal, as it is otherwise. */
export function wordedSavedPlanRefusal(error: unknown): never {
  throw error instanceof SavedPlanRefused ? savedPlanRefusalError(error.refusal) : error;
}
