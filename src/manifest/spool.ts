/**
 * Reading a plan's action list by kind, whatever holds it (spools: plan/spools.ts; an array).
 * Pure.
 */
import type { Action, ActionKind, ActionList } from '../model/plan.ts';

/** The actions of these kinds in plan order: without reading the others when the list can. */
export function actionsOfKinds(list: ActionList, kinds: readonly ActionKind[]): Iterable<Action> {
  if (list.ofKinds !== undefined) return list.ofKinds(kinds);
  return (function* () {
    for (const action of list) if (kinds.includes(action.kind)) yield action;
  })();
}

/** How many actions of these kinds: from the list's totals when it keeps them, else counted. */
export function countOfKinds(list: ActionList, kinds: readonly ActionKind[]): number {
  if (list.totals !== undefined) return kinds.reduce((sum, kind) => sum + list.totals!(kind).count, 0);
  let count = 0;
  for (const _action of actionsOfKinds(list, kinds)) count += 1;
  return count;
}

/** Whether any action passes `test` (stops at the first). */
export function someAction(list: Iterable<Action>, test: (action: Action) => boolean): boolean {
  for (const action of list) if (test(action)) return true;
  return false;
}
