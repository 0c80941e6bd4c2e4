/**
 * Why `apply FILE` refuses a saved plan, and what it warns about, as data: a code and its facts.
 * src/planfile/ decides; src/view/saved-plan.ts words them. Types only.
 */
import type { Hop } from './apply.ts';
import type { ActionKind, ActionReason } from './plan.ts';
import type { Side } from './side.ts';

/** An action of a saved plan that dualsync never plans (the file was edited and its digest recomputed). */
export interface NeverPlannedAction {
  kind: ActionKind;
  key: string;
  /** `volume`: on a folder that is not a configured volume; `replaces`: replacing a copy outside them, or not a re-download; `key`: a key no volume can hold safely. */
  problem: 'volume' | 'replaces' | 'key';
  volume?: string;
  replaces?: string;
  reason?: ActionReason;
}

/** The first action of a file out of the order dualsync writes: by kind (apply order), or by key within a kind. */
export interface ActionOutOfOrder {
  index: number;
  kind: ActionKind;
  key: string;
  by: 'kind' | 'key';
  previousKind: ActionKind;
  previousKey: string;
}

/** Volumes on one filesystem (or one volume) with less free space than the plan downloads to them. */
export interface RoomShortfall {
  roots: string[];
  plannedBytes: number;
  freeBytes: number;
  /** The free space the plan saw. */
  freeBytesThen: number;
}

/** Volumes whose planned downloads now reach into their reserve: applied, with a warning. */
export interface ReserveWarning {
  roots: string[];
  plannedBytes: number;
  intoReserveBytes: number;
}

/** A hop that went down or came back since the plan was made. */
export interface ReachabilityChange {
  side: Side;
  change: 'down' | 'back';
  cause?: string;
}

/** What moved between a saved plan and a fresh one made now. */
export interface StaleFacts {
  ledgerSerialThen: number;
  ledgerSerialNow: number;
  reachability: ReachabilityChange[];
  /** Per manifest that differs: commands only the saved plan has, and only the fresh one. */
  manifests: { hop: Hop; removed: number; added: number }[];
  /** The unified diff's lines (`---`/`+++` headers, `-`/`+` commands), up to a limit, and how many there are. */
  diff: { lines: string[]; count: number };
  /** Whether the whole diff was asked for (`apply --diff`). */
  showDiff: boolean;
}

/** Why a saved plan is refused. Each names the plan file as `planPath`. */
export type SavedPlanRefusal =
  | { code: 'plan-edited'; planPath: string }
  | { code: 'actions-out-of-order'; planPath: string; first: ActionOutOfOrder }
  | { code: 'config-changed'; planPath: string; configFile: string; fields: string[] }
  | { code: 'volumes-gone'; planPath: string; volumes: string[] }
  | { code: 'actions-never-planned'; planPath: string; count: number; examples: NeverPlannedAction[] }
  | { code: 'manifest-differs'; planPath: string; manifest: string }
  | ({ code: 'plan-stale'; planPath: string } & StaleFacts)
  | { code: 'volumes-full'; planPath: string; full: RoomShortfall[] };
