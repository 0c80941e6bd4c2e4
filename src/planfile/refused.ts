/**
 * A saved plan's refusal thrown as a value: the engine throws it with the refusal's code and
 * facts, and the command line words it (view/saved-plan.ts) before it reaches the operator.
 * Pure.
 */
import { DualsyncError } from '../errors.ts';
import type { SavedPlanRefusal } from '../model/saved-plan.ts';

/** The error code of each refusal: an edit is "tampered", a world that moved is "stale". */
const REFUSAL_CODES = {
  'plan-edited': 'E_PLAN_TAMPERED',
  'actions-out-of-order': 'E_PLAN_TAMPERED',
  'actions-never-planned': 'E_PLAN_TAMPERED',
  'manifest-differs': 'E_PLAN_TAMPERED',
  'config-changed': 'E_PLAN_STALE',
  'volumes-gone': 'E_PLAN_STALE',
  'plan-stale': 'E_PLAN_STALE',
  'volumes-full': 'E_PLAN_STALE',
} as const satisfies Record<SavedPlanRefusal['code'], string>;

/** A user error that carries why a saved plan is refused; its message is only the code until a view words it. */
export class SavedPlanRefused extends DualsyncError {
  readonly refusal: SavedPlanRefusal;

  constructor(refusal: SavedPlanRefusal) {
    super('user', REFUSAL_CODES[refusal.code], `the saved plan ${refusal.planPath} is refused: ${refusal.code}`);
    this.refusal = refusal;
  }
}
