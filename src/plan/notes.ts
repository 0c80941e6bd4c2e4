/**
 * The planner's notes in the making: objects in one situation, counted, with their bytes where
 * they are deferred, and the first few keys as examples. Memory stays bounded whatever the
 * number of objects: one group per code (per volume for the few notes that name one), each with
 * at most {@link MAX_EXAMPLES} keys. The sentences are the views' (view/plan.ts).
 */
import type { PlanNote, PlanNoteCode } from '../model/plan.ts';

/** Keys kept per note: enough to find the objects, few enough for a plan of any size. */
export const MAX_EXAMPLES = 3;

/** What a note may say besides its objects: the facts its sentence needs. */
export interface NoteFacts {
  limitBytes?: number;
  collidesWith?: string;
  volume?: string;
}

/** Notes grouped by situation, in the order each situation first came up. */
export class NoteBook {
  readonly #groups = new Map<string, PlanNote>();

  /**
   * Counts `key` under `code`. `bytes`, when given, adds the object's size to the note's bytes (a
   * deferral). The facts of the first object of a group are the note's: a volume splits the
   * notes, a collision is named by its first example.
   */
  add(code: PlanNoteCode, key: string, bytes?: number, facts?: NoteFacts): void {
    const group = facts?.volume === undefined ? code : `${code}\u0000${facts.volume}`;
    let note = this.#groups.get(group);
    if (note === undefined) {
      note = { code, count: 0, ...(bytes === undefined ? {} : { bytes: 0 }), ...facts, examples: [] };
      this.#groups.set(group, note);
    }
    note.count += 1;
    if (bytes !== undefined) note.bytes = (note.bytes ?? 0) + bytes;
    if (note.examples.length < MAX_EXAMPLES) note.examples.push(key);
  }

  /** The notes, in the order their situations first came up. */
  notes(): PlanNote[] {
    return [...this.#groups.values()];
  }

  /** How many objects all the notes count, and their bytes. */
  totals(): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const note of this.#groups.values()) {
      count += note.count;
      bytes += note.bytes ?? 0;
    }
    return { count, bytes };
  }
}
