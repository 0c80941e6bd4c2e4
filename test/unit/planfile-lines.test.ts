import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDualsyncError } from '../../src/errors.ts';
import { serializePlanFile } from '../../src/planfile/write.ts';
import { readPlanFile, type ReadPlanFile } from '../../src/planfile/read.ts';
import { digestPlan } from '../../src/planfile/digest.ts';
import { memorySpools } from '../../src/plan/spools.ts';
import { removeTempDirs, tempDirSync } from '../harness/temp.ts';
import type { Action, Plan, PlanFile } from '../../src/model/plan.ts';
import { planSummary } from '../builders.ts';

afterAll(removeTempDirs);

/** Enough actions that the file spans many of the reader's chunks, so that lines are cut between them. */
const COUNT = 20_000;

function action(index: number): Action {
  const key = `cam-${String(index).padStart(6, '0')}/frame-${'x'.repeat(index % 97)}-caf\u00e9-\u{1F600}.jpg`;
  return index < COUNT / 2 ? { kind: 'download', key, size: index * 7, etag: `e${index}`, volume: '/v1' } : { kind: 'upload', key, size: index * 7, etag: `e${index}`, volume: '/v1', afterDownload: true };
}

const plan: Plan<Action[]> = {
  formatVersion: 1,
  actions: Array.from({ length: COUNT }, (_, index) => action(index)),
  summary: planSummary(),
  volumes: [{ root: '/v1', freeBytes: 100, reserveBytes: 0, plannedDownloadBytes: 0, plannedDownloads: 0 }],
  hops: { download: { workers: 1, concurrency: 1 }, upload: { workers: 1, concurrency: 1 } },
  warnings: [],
  notes: [],
};
const planFile: PlanFile = { formatVersion: 1, createdAt: 'now', configDigest: 'c', inputDigest: 'i', ledgerSerial: 1, planDigest: digestPlan(plan), plan };
const text = serializePlanFile(planFile);
const plainActions = JSON.parse(JSON.stringify(plan.actions)) as Action[];

function read(content: string): ReadPlanFile & { actions: Action[] } {
  const file = join(tempDirSync('planfile-lines-'), 'plan.json');
  writeFileSync(file, content);
  try {
    const result = readPlanFile(file, memorySpools);
    return { ...result, actions: [...result.saved.plan.actions] };
  } catch (error) {
    if (isDualsyncError(error)) error.message = error.message.replaceAll(file, 'plan.json');
    throw error;
  }
}

function refusal(content: string): string {
  try {
    read(content);
  } catch (error) {
    if (isDualsyncError(error) && error.code === 'E_PLAN_FILE') return error.message;
    throw error;
  }
  throw new Error('expected E_PLAN_FILE');
}

/** The text with the line of action `index` replaced by what `change` makes of it. */
function withLine(index: number, change: (line: string) => string): string {
  const lines = text.split('\n');
  const at = lines.indexOf('    "actions": [') + 1 + index;
  lines[at] = change(lines[at] as string);
  return lines.join('\n');
}

describe('readPlanFile: the writer\'s own layout read as lines', () => {
  it('reads every action of a file as dualsync wrote it as a line, with the digest of the plan', () => {
    expect(Buffer.byteLength(text)).toBeGreaterThan(2 << 20);
    const result = read(text);
    expect(result.actionsAsLines).toBe(COUNT);
    expect(result.actions).toEqual(plainActions);
    expect(result.digest).toBe(planFile.planDigest);
    expect(result.outOfOrder).toBeUndefined();
  });

  it('reads a re-indented file (jq .) as tokens only, to the same actions and digest', () => {
    const result = read(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
    expect(result.actionsAsLines).toBe(0);
    expect(result.actions).toEqual(plainActions);
    expect(result.digest).toBe(planFile.planDigest);
  });

  it.each<[string, (line: string) => string]>([
    ['laid over two lines', (line) => line.replace('","size"', '",\n"size"')],
    ['indented by hand', (line) => `  ${line}`],
    ['with a space after its comma', (line) => `${line} `],
    ['joined with the next action on one line', (line) => `${line}${text.split('\n').find((next) => next.includes(`cam-005001/`))?.trim() ?? ''}`],
  ])('an action in the middle %s: the actions before it as lines, the rest as tokens, the same plan and digest', (_how, change) => {
    // Action 5,000 is changed; for the join, action 5,001's line is then dropped.
    const changed = withLine(5_000, change);
    const content = _how.startsWith('joined') ? changed.split('\n').filter((line, index, all) => !(line.includes('cam-005001/') && all[index - 1]?.includes('cam-005000/'))).join('\n') : changed;
    const result = read(content);
    expect(result.actionsAsLines).toBe(5_000);
    expect(result.actions).toEqual(plainActions);
    expect(result.digest).toBe(planFile.planDigest);
  });

  it('an edited size on one line is read, and gives another digest', () => {
    const result = read(withLine(7_000, (line) => line.replace(/"size":(\d+)/, (_, size: string) => `"size":${Number(size) + 1}`)));
    expect(result.actionsAsLines).toBe(COUNT);
    expect(result.digest).not.toBe(planFile.planDigest);
  });

  it.each<[string, string, RegExp]>([
    ['a comma lost after a line-read action', withLine(3_000, (line) => line.slice(0, -1)), /^plan\.json is not a plan file: it is not valid JSON \(/],
    ['a comma after the last action', withLine(COUNT - 1, (line) => `${line},`), /^plan\.json is not a plan file: it is not valid JSON \(/],
    ['an action line that is not JSON', withLine(4_000, (line) => line.replace('"size":', '"size":;')), /^plan\.json is not a plan file: it is not valid JSON \(/],
    ['cut short in the lines', text.slice(0, text.indexOf('cam-006000/')), /^plan\.json is not a plan file: it is not valid JSON \(.*the file ends early, after 6000 actions\)/],
    ['something after the end', `${text}[]\n`, /^plan\.json is not a plan file: it is not valid JSON \(/],
  ])('refuses %s as the tokens would', (_name, content, message) => {
    expect(refusal(content)).toMatch(message);
  });

  it('refuses a line-read action with a wrong field, naming it', () => {
    expect(refusal(withLine(6_500, (line) => line.replace(/"size":\d+/, '"size":-1')))).toContain('plan.json: plan.actions[6500].size should be a whole number of at least 0');
  });

  it('reads no line as an action of the plan unless it sits in plan.actions', () => {
    // A field before the plan holds an "actions" array laid out as the plan's would be.
    const decoy = text.replace('  "plan": {', '  "aside": {\n    "actions": [\n      {"kind":"purge","key":"x","size":1,"etag":"e"}\n    ]\n  },\n  "plan": {');
    const result = read(decoy);
    expect(result.actions).toEqual(plainActions);
    expect(result.digest).toBe(planFile.planDigest);
  });
});
