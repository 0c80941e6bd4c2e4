/**
 * A timeline of one apply, for finding where per-object time goes: when each object's line was
 * sent to a hop, reported done, verified, renamed, recorded, fed to upload, read back, recorded
 * delivered and purged. Opt-in through DUALSYNC_TIMELINE=FILE in the environment (the bench sets
 * it); off, every mark is a call to an empty function and nothing is kept.
 *
 * The file is JSON Lines, one step each, written once when the apply ends:
 * {"ms": 12.3, "step": "download-reported", "key": "a/b"}, ms counted from the process's start
 * (so the first run step, `execute-started`, shows what came before: start-up, listings, plan).
 * Keys are the relative keys of this run's objects; the file is a diagnosis tool, written only
 * where the operator (or the bench) points it.
 */
import { writeFileSync } from 'node:fs';

/** The steps of one object's way through apply, in the order they happen. */
export const TIMELINE_STEPS = [
  'download-sent',
  'download-reported',
  'verified',
  'renamed',
  'staged-recorded',
  'upload-sent',
  'upload-reported',
  'read-back',
  'delivered-recorded',
  'purged',
] as const;

/**
 * Steps of the run as a whole (noted with the key ''): where the hops end and what follows them,
 * which is the tail every apply waits for.
 */
export const RUN_STEPS = ['execute-started', 'downloads-done', 'uploads-done', 'deliveries-done', 'execute-ended'] as const;

export type TimelineStep = (typeof TIMELINE_STEPS)[number] | (typeof RUN_STEPS)[number];

/** One mark: a step of one key, `ms` after the apply started. */
export interface TimelineMark {
  ms: number;
  step: TimelineStep;
  key: string;
  /** On run steps: the CPU time this process (not its children) had used by then, ms. */
  cpuMs?: number;
}

export interface Timeline {
  /** Notes that `key` reached `step` now. */
  mark(step: TimelineStep, key: string): void;
  /** Writes what was noted (nothing when the timeline is off). */
  write(): void;
}

/** The timeline that notes nothing: what apply uses unless asked. */
export const NO_TIMELINE: Timeline = { mark: () => {}, write: () => {} };

/** The environment variable that names the timeline's file. */
export const TIMELINE_VARIABLE = 'DUALSYNC_TIMELINE';

/** A timeline written to `env.DUALSYNC_TIMELINE` when it is set, else {@link NO_TIMELINE}. */
export function timelineFromEnv(env: NodeJS.ProcessEnv | undefined): Timeline {
  const file = env?.[TIMELINE_VARIABLE];
  if (file === undefined || file === '') return NO_TIMELINE;
  const marks: TimelineMark[] = [];
  return {
    mark: (step, key) => {
      const ms = Math.round(performance.now() * 100) / 100;
      if (key !== '') {
        marks.push({ ms, step, key });
        return;
      }
      const cpu = process.cpuUsage();
      marks.push({ ms, step, key, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
    },
    write: () => {
      writeFileSync(file, marks.map((m) => `${JSON.stringify(m)}\n`).join(''));
    },
  };
}

/** Per step, the median and 90th percentile of the time since the object's previous step (ms). */
export interface StepFigures {
  step: TimelineStep;
  objects: number;
  medianMs: number;
  p90Ms: number;
}

/**
 * What a timeline says per step: for each object, the gap from its previous noted step to this
 * one, summarised over the objects. Steps an object never reached are left out of its figures.
 */
export function summariseTimeline(marks: readonly TimelineMark[]): StepFigures[] {
  const byKey = new Map<string, Map<TimelineStep, number>>();
  for (const mark of marks) {
    if (mark.key === '') continue; // a step of the run, not of an object
    let steps = byKey.get(mark.key);
    if (steps === undefined) byKey.set(mark.key, (steps = new Map()));
    if (!steps.has(mark.step)) steps.set(mark.step, mark.ms);
  }
  const gaps = new Map<TimelineStep, number[]>();
  // Only the object steps are walked: run steps were left out above.
  for (const steps of byKey.values()) {
    let previous: number | undefined;
    for (const step of TIMELINE_STEPS) {
      const at = steps.get(step);
      if (at === undefined) continue;
      if (previous !== undefined) {
        let list = gaps.get(step);
        if (list === undefined) gaps.set(step, (list = []));
        list.push(at - previous);
      }
      previous = at;
    }
  }
  const figures: StepFigures[] = [];
  for (const step of TIMELINE_STEPS) {
    const list = gaps.get(step);
    if (list === undefined) continue;
    list.sort((a, b) => a - b);
    const at = (q: number) => list[Math.min(list.length - 1, Math.floor(q * list.length))]!;
    figures.push({ step, objects: list.length, medianMs: at(0.5), p90Ms: at(0.9) });
  }
  return figures;
}
