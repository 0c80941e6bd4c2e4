/**
 * The refusal of a saved plan that the world has moved past: what changed per manifest, which
 * hop went down or came back, and the diff of the two manifests, walked in step a command at a
 * time (a merge of two sorted lists), so that neither manifest is held.
 */
import type { Config, Plan, PlanFile } from '../model/index.ts';
import type { Hop } from '../model/apply.ts';
import { ACTION_ORDER } from '../model/plan.ts';
import { compareKeys } from '../plan/keys.ts';
import { actionsOfKinds } from '../manifest/spool.ts';
import { downloadLine, HOP_KINDS, uploadLine } from '../manifest/s5cmd.ts';
import type { ReachabilityChange, SavedPlanRefusal, StaleFacts } from '../model/saved-plan.ts';

/** A stale plan's diff longer than this is summarised unless `--diff` asks for it. */
export const STALE_DIFF_LINES = 40;

/** Lines of the diff that `--diff` shows at most; the rest are counted. */
export const STALE_DIFF_MAX_LINES = 100_000;

/** What {@link stalePlan} needs of the fresh run: its plan and what it was made from. */
export interface FreshRun {
  plan: Plan;
  gathered: { inventory: { source: { unreachable?: string }; destination: { unreachable?: string }; ledger: { serial: number } } };
}

/** One command line of a manifest, with what orders it there: kind (in apply order), then key. */
interface CommandLine {
  kindRank: number;
  key: string;
  text: string;
}

/** A manifest's command lines in file order (the plan's order: by kind, then key), made one at a time. */
function* commandLines(plan: Plan, config: Config, hop: Hop): Generator<CommandLine> {
  for (const action of actionsOfKinds(plan.actions, HOP_KINDS[hop])) {
    const text = hop === 'download' ? downloadLine(action, config, plan.hops.download) : uploadLine(action, config, plan.hops.upload);
    yield { kindRank: ACTION_ORDER.indexOf(action.kind), key: action.key, text };
  }
}

function byPlanOrder(a: CommandLine, b: CommandLine): number {
  return a.kindRank - b.kindRank || compareKeys(a.key, b.key);
}

/** The lines of a diff, kept up to a limit and counted past it. */
class DiffLines {
  readonly lines: string[] = [];
  count = 0;
  readonly #keep: number;

  constructor(keep: number) {
    this.#keep = keep;
  }

  add(line: string): void {
    this.count += 1;
    if (this.lines.length < this.#keep) this.lines.push(line);
  }
}

/**
 * Walks the saved and the fresh manifest of one hop in step, both in plan order (a merge, as of
 * two sorted listings), adding to `diff` a `-` line for each command only the saved plan has,
 * a `+` line for each only the fresh one has, and both for a key whose command changed.
 */
function diffManifest(saved: Plan, fresh: Plan, config: Config, hop: Hop, diff: DiffLines): { removed: number; added: number } {
  const old = commandLines(saved, config, hop);
  const now = commandLines(fresh, config, hop);
  let removed = 0;
  let added = 0;
  const change = (sign: '-' | '+', line: CommandLine) => {
    if (removed + added === 0) {
      diff.add(`--- ${hop}.s5cmd (saved plan)`);
      diff.add(`+++ ${hop}.s5cmd (now)`);
    }
    if (sign === '-') removed += 1;
    else added += 1;
    diff.add(`${sign}${line.text}`);
  };
  let a = old.next();
  let b = now.next();
  while (a.done !== true || b.done !== true) {
    const order = a.done === true ? 1 : b.done === true ? -1 : byPlanOrder(a.value, b.value);
    if (order < 0) {
      change('-', a.value as CommandLine);
      a = old.next();
    } else if (order > 0) {
      change('+', b.value as CommandLine);
      b = now.next();
    } else {
      if ((a.value as CommandLine).text !== (b.value as CommandLine).text) {
        change('-', a.value as CommandLine);
        change('+', b.value as CommandLine);
      }
      a = old.next();
      b = now.next();
    }
  }
  return { removed, added };
}

/**
 * The refusal of a stale saved plan, as data: what moved per manifest, which hop went down or
 * came back, and the diff of their commands, kept up to {@link STALE_DIFF_LINES} lines (a longer
 * one is summarised) or, when `showDiff` asks for it, {@link STALE_DIFF_MAX_LINES}.
 * After a power cut the diff can run to hundreds of lines, and the step is the same whatever it
 * says: make a fresh plan. Both manifests are walked in step, a command at a time, so the check
 * holds no manifest in memory.
 */
export function stalePlan(planPath: string, saved: PlanFile, fresh: FreshRun, config: Config, showDiff: boolean): SavedPlanRefusal {
  const manifests: StaleFacts['manifests'] = [];
  const diff = new DiffLines(showDiff ? STALE_DIFF_MAX_LINES : STALE_DIFF_LINES);
  for (const hop of ['download', 'upload'] as const) {
    const { removed, added } = diffManifest(saved.plan, fresh.plan, config, hop, diff);
    if (removed + added > 0) manifests.push({ hop, removed, added });
  }
  return {
    code: 'plan-stale',
    planPath,
    ledgerSerialThen: saved.ledgerSerial,
    ledgerSerialNow: fresh.gathered.inventory.ledger.serial,
    reachability: reachabilityChanges(saved.plan, fresh.gathered.inventory),
    manifests,
    diff: { lines: diff.lines, count: diff.count },
    showDiff,
  };
}

/** Which hop went down or came back since a saved plan was made (its warnings say which hop was unreachable). */
export function reachabilityChanges(saved: Plan, now: { source: { unreachable?: string }; destination: { unreachable?: string } }): ReachabilityChange[] {
  const changes: ReachabilityChange[] = [];
  for (const side of ['source', 'destination'] as const) {
    const then = saved.warnings.some((warning) => warning.code === `${side}-unreachable`);
    const cause = now[side].unreachable;
    if (then && cause === undefined) changes.push({ side, change: 'back' });
    else if (!then && cause !== undefined) changes.push({ side, change: 'down', cause });
  }
  return changes;
}
