import { describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { canonicalFrame, CanonicalPlanWriter, canonicalPlanJson, serializePlanFile, writeCanonicalPlan, writePlanFile } from '../../src/planfile/write.ts';
import { parsePlanFile } from '../../src/planfile/format.ts';
import { readPlanFile } from '../../src/planfile/read.ts';
import { digestPlan } from '../../src/planfile/digest.ts';
import { memorySpools } from '../../src/plan/spools.ts';
import type { ActionOutOfOrder } from '../../src/model/saved-plan.ts';
import { removeTempDirs, tempDirSync } from '../harness/temp.ts';
import type { Action, Plan as AnyPlan, PlanFile } from '../../src/model/plan.ts';
import { inventory, spooledActions, testConfig, planOf } from '../builders.ts';

/** The pure planner's plan: its actions in an array. */
type Plan = AnyPlan<Action[]>;

const plan: Plan = await planOf(
  testConfig({ source: { maxConnections: 500 } }),
  inventory()
    .volume('/v1', { free: 100, reserve: 5 })
    .source('new "quoted" caf\u00e9', 10)
    .staged('/v1', 'staged', 4)
    .source('a//b', 1)
    .destIncomplete('cut short')
    .build(),
);

const planFile: PlanFile = {
  formatVersion: 1,
  createdAt: '2025-01-02T03:04:05.000Z',
  configDigest: 'c'.repeat(64),
  inputDigest: 'i'.repeat(64),
  ledgerSerial: 7,
  planDigest: 'p'.repeat(64),
  plan,
};

function userErrorOf(run: () => unknown): { code: string; message: string; hint?: string } {
  try {
    run();
  } catch (error) {
    if (isDualsyncError(error) && error.kind === 'user') return { code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) };
    throw error;
  }
  throw new Error('expected a user error');
}

describe('serializePlanFile and parsePlanFile', () => {
  it('round-trips a plan file', async () => {
    expect(parsePlanFile(serializePlanFile(planFile), 'plan.json')).toEqual(planFile);
  });

  it('round-trips the config field digests, right after the config digest', async () => {
    const withFields: PlanFile = { ...planFile, configFields: { 'source.prefix': 'a'.repeat(16), 'transfer.partSize': 'b'.repeat(16) } };
    const text = serializePlanFile(withFields);
    expect(parsePlanFile(text, 'plan.json')).toEqual(withFields);
    expect(text.split('\n')[4]).toMatch(/^ {2}"configFields": /);
  });

  it('is stable: the same plan file gives the same text, whatever order its fields were set in', async () => {
    const reordered = JSON.parse(JSON.stringify({ plan: planFile.plan, planDigest: planFile.planDigest, ledgerSerial: 7, inputDigest: planFile.inputDigest, configDigest: planFile.configDigest, createdAt: planFile.createdAt, formatVersion: 1 })) as PlanFile;
    expect(serializePlanFile(reordered)).toBe(serializePlanFile(planFile));
  });

  it('reads well: fixed key order, one action per line, a trailing newline', async () => {
    const text = serializePlanFile(planFile);
    const lines = text.split('\n');
    expect(lines.slice(0, 3)).toEqual(['{', '  "formatVersion": 1,', '  "createdAt": "2025-01-02T03:04:05.000Z",']);
    expect(text).toContain('      {"kind":"download","key":"new \\"quoted\\" caf\u00e9","size":10,"etag":');
    expect(text).toContain('"download": {"workers":100,"concurrency":5,"maxConnections":500}');
    expect(lines.filter((line) => line.includes('"kind":')).length).toBe(plan.actions.length);
    expect(text.endsWith('}\n')).toBe(true);
  });

  it.each<[string, string, RegExp, string?]>([
    ['not JSON', '{"formatVersion": 1,', /^plan\.json is not a plan file: it is not valid JSON/],
    ['JSON but not an object', '[1, 2]', /^plan\.json: the file should be an object/],
    ['no formatVersion', '{}', /^plan\.json: formatVersion should be 1/],
    ['an older or odd formatVersion', '{"formatVersion": 0}', /^plan\.json: formatVersion should be 1/],
    ['written by a newer dualsync', '{"formatVersion": 2}', /^plan\.json was written by a newer dualsync \(plan format 2; this one reads format 1\)$/, 'E_PLAN_FILE_NEWER'],
  ])('refuses a file that is %s, naming the file', async (_name, text, message, code = 'E_PLAN_FILE') => {
    const error = userErrorOf(() => parsePlanFile(text, 'plan.json'));
    expect(error.message).toMatch(message);
    expect(error.code).toBe(code);
    expect(error.hint).toBeDefined();
  });

  it.each<[string, (pf: Record<string, unknown> & { plan: Record<string, unknown> }) => void, string]>([
    ['a plan of a newer format', (pf) => (pf.plan.formatVersion = 3), 'was written by a newer dualsync (plan format 3'],
    ['a missing digest', (pf) => delete pf.planDigest, 'planDigest should be a string'],
    ['a negative ledger serial', (pf) => (pf.ledgerSerial = -1), 'ledgerSerial should be a whole number'],
    ['an unknown action kind', (pf) => ((pf.plan.actions as Record<string, unknown>[])[0]!.kind = 'delete'), 'plan.actions[0].kind should be one of download, redownload, upload, purge, adopt, skip'],
    ['a fractional size', (pf) => ((pf.plan.actions as Record<string, unknown>[])[1]!.size = 1.5), 'plan.actions[1].size should be a whole number'],
    ['a volume that is not a string', (pf) => ((pf.plan.actions as Record<string, unknown>[])[0]!.volume = 1), 'plan.actions[0].volume should be a string'],
    ['afterDownload that is not a boolean', (pf) => ((pf.plan.actions as Record<string, unknown>[])[0]!.afterDownload = 'yes'), 'plan.actions[0].afterDownload should be true or false'],
    [
      'an adopt without the rule that proves it (an older plan, made when size alone adopted)',
      (pf) => ((pf.plan.actions as Record<string, unknown>[])[0] = { kind: 'adopt', key: 'k', size: 1, etag: 'e' }),
      'plan.actions[0].adoptBy should be one of md5, multipart-etag, content, size (make a new plan)',
    ],
    ['a proof that is not one', (pf) => ((pf.plan.actions as Record<string, unknown>[])[0]!.localProof = 'size'), 'plan.actions[0].localProof should be one of md5, multipart-etag'],
    ['no summary', (pf) => delete pf.plan.summary, 'plan.summary should be an object'],
    ['hops without workers', (pf) => delete (pf.plan.hops as { upload: Record<string, unknown> }).upload.workers, 'plan.hops.upload.workers should be'],
    ['a warning that is not an object', (pf) => ((pf.plan.warnings as unknown[])[0] = 5), 'plan.warnings[0] should be an object'],
    ['a warning of an older dualsync (a sentence)', (pf) => ((pf.plan.warnings as unknown[])[0] = 'source unreachable: ...'), 'plan.warnings[0] should be an object with a code (a plan file of an older dualsync holds a sentence here: make a new plan)'],
    ['a warning with an unknown code', (pf) => ((pf.plan.warnings as unknown[])[0] = { code: 'nope' }), 'plan.warnings[0].code should be one of source-unreachable,'],
    ['a reason of an older dualsync (a sentence)', (pf) => ((pf.plan.actions as Record<string, unknown>[])[0]!.reason = 'destination lost it'), 'plan.actions[0].reason should be an object with a code (a plan file of an older dualsync holds a sentence here: make a new plan)'],
    ['a reason whose fact is not text or a number', (pf) => ((pf.plan.actions as Record<string, unknown>[])[0]!.reason = { code: 'retry', attempts: [1] }), 'plan.actions[0].reason.attempts should be a string or a number'],
    ['config field digests that are not text', (pf) => (pf.configFields = { 'transfer.partSize': 5 }), 'configFields.transfer.partSize should be a string'],
  ])('refuses %s, naming the field', async (_name, damage, message) => {
    const pf = JSON.parse(serializePlanFile(planFile)) as Record<string, unknown> & { plan: Record<string, unknown> };
    damage(pf);
    expect(userErrorOf(() => parsePlanFile(JSON.stringify(pf), '/state/plans/p.json')).message).toContain(message);
  });
});

describe('piece by piece, for plans too large for one string', async () => {
  const big: Plan = await planOf(testConfig(), (() => {
    const builder = inventory().volume('/v1', { free: 1e12 });
    for (let i = 0; i < 10_000; i++) builder.source(`k${i}`, i);
    return builder.build();
  })());

  it('the pieces of the plan file join to the plan file, in batches rather than one piece per action', async () => {
    const pieces: string[] = [];
    writePlanFile({ ...planFile, plan: big }, (piece) => pieces.push(piece));
    expect(pieces.join('')).toBe(serializePlanFile({ ...planFile, plan: big }));
    expect(pieces.length).toBeLessThan(big.actions.length / 100);
  });

  it('the pieces of the canonical form join to the canonical form', async () => {
    const pieces: string[] = [];
    writeCanonicalPlan(big, (piece) => pieces.push(piece));
    expect(pieces.join('')).toBe(canonicalPlanJson(big));
    expect(JSON.parse(canonicalPlanJson(big))).toEqual(JSON.parse(JSON.stringify(big)));
  });
});

describe('canonicalPlanJson', () => {
  it('is compact JSON with sorted keys, omitting undefined fields', async () => {
    const small: Plan = { ...plan, actions: [{ kind: 'download', key: 'k', size: 1, etag: 'e', volume: '/v1', reason: undefined }], warnings: [] };
    const text = canonicalPlanJson(small);
    expect(text.startsWith('{"actions":[{"etag":"e","key":"k","kind":"download","size":1,"volume":"/v1"}],"formatVersion":1,"hops":{')).toBe(true);
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(small)));
  });

  it('does not depend on the order fields were set in', async () => {
    const reordered = JSON.parse(JSON.stringify({ notes: plan.notes, warnings: plan.warnings, hops: plan.hops, volumes: plan.volumes, summary: plan.summary, actions: plan.actions, formatVersion: 1 })) as Plan;
    expect(canonicalPlanJson(reordered)).toBe(canonicalPlanJson(plan));
  });

  it('keeps a field named __proto__ as a field', async () => {
    const odd = JSON.parse('{"formatVersion":1,"actions":[{"kind":"skip","key":"k","size":1,"etag":"e","__proto__":"x"}],"warnings":[]}') as Plan;
    expect(canonicalPlanJson(odd)).toBe('{"actions":[{"__proto__":"x","etag":"e","key":"k","kind":"skip","size":1}],"formatVersion":1,"warnings":[]}');
  });

  it('changes when anything in the plan changes', async () => {
    const edited: Plan = { ...plan, actions: plan.actions.map((a, i) => (i === 0 ? { ...a, volume: '/elsewhere' } : a)) };
    expect(canonicalPlanJson(edited)).not.toBe(canonicalPlanJson(plan));
  });

  it('survives the plan file round trip unchanged, so the digest still matches', async () => {
    const parsed = parsePlanFile(serializePlanFile(planFile), 'plan.json');
    expect(canonicalPlanJson(parsed.plan)).toBe(canonicalPlanJson(plan));
  });
});


describe('any action list, not only an array', () => {
  it('writes the same plan file and the same canonical form for spooled actions as for an array', async () => {
    const list = spooledActions(plan.actions);
    expect(Array.isArray(list)).toBe(false);
    expect(serializePlanFile({ ...planFile, plan: { ...plan, actions: list } })).toBe(serializePlanFile(planFile));
    expect(canonicalPlanJson({ ...plan, actions: list })).toBe(canonicalPlanJson(plan));
  });

  it('writes an empty spooled list as [] (not {})', async () => {
    const empty: AnyPlan = { ...plan, actions: spooledActions([]) };
    expect(serializePlanFile({ ...planFile, plan: empty })).toBe(serializePlanFile({ ...planFile, plan: { ...plan, actions: [] } }));
    expect(canonicalPlanJson(empty)).toContain('{"actions":[],');
  });

  it('CanonicalPlanWriter, fed the actions one by one, emits the canonical form', async () => {
    for (const actions of [plan.actions, []]) {
      const pieces: string[] = [];
      const { actions: _, ...rest } = { ...plan, actions };
      const frame = canonicalFrame(rest);
      const writer = new CanonicalPlanWriter(frame.head, (piece) => pieces.push(piece));
      for (const action of actions) writer.action(action);
      writer.end(frame.tail);
      expect(pieces.join('')).toBe(canonicalPlanJson({ ...plan, actions }));
    }
  });
});

afterAll(removeTempDirs);

/** Writes `text` to a plan file and reads it back as apply does: the header, the actions, the digest of the plan as read. */
function readText(text: string, name = 'plan.json'): { header: PlanFile; actions: Action[]; digest: string; outOfOrder?: ActionOutOfOrder } {
  const file = join(tempDirSync('planfile-test-'), name);
  writeFileSync(file, text);
  try {
    const { saved, digest, outOfOrder } = readPlanFile(file, memorySpools);
    return { header: { ...saved, plan: { ...saved.plan, actions: [] } }, actions: [...saved.plan.actions], digest, ...(outOfOrder === undefined ? {} : { outOfOrder }) };
  } catch (error) {
    // The tests name the file plan.json: the temporary folder is left out of the message.
    if (isDualsyncError(error)) error.message = error.message.replaceAll(file, name);
    throw error;
  }
}

/** Every object's keys sorted, recursively, as `jq -S` writes them. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.keys(value).sort().map((name) => [name, sortedKeys((value as Record<string, unknown>)[name])]));
}

describe('readPlanFile: a plan file read as a stream of JSON, in any layout', () => {
  const plainActions = JSON.parse(JSON.stringify(plan.actions)) as Action[];

  it('gives back the header and every action of the file, in order, and the digest of the plan', async () => {
    const { header, actions, digest, outOfOrder } = readText(serializePlanFile(planFile));
    expect(actions).toEqual(plainActions);
    expect({ ...header, plan: { ...header.plan, actions } }).toEqual(JSON.parse(JSON.stringify(planFile)));
    expect(digest).toBe(digestPlan(plan));
    expect(outOfOrder).toBeUndefined();
  });

  it('reads a plan without actions', async () => {
    const empty: PlanFile = { ...planFile, plan: { ...plan, actions: [] } };
    const read = readText(serializePlanFile(empty));
    expect(read.actions).toEqual([]);
    expect(read.digest).toBe(digestPlan({ ...plan, actions: [] }));
  });

  it.each<[string, (text: string) => string]>([
    ['re-indented with 4 spaces (jq --indent 4)', (text) => `${JSON.stringify(JSON.parse(text), null, 4)}\n`],
    ['re-indented by JSON.stringify (jq .)', (text) => `${JSON.stringify(JSON.parse(text), null, 2)}\n`],
    ['minified (jq -c)', (text) => JSON.stringify(JSON.parse(text))],
    ['keys sorted in every object, tabs (jq -S --tab)', (text) => JSON.stringify(sortedKeys(JSON.parse(text)), null, '\t')],
    ['the plan before the file\'s other fields, the actions first in the plan', (text) => {
      const parsed = JSON.parse(text) as PlanFile<Action[]>;
      const { actions, ...planRest } = parsed.plan;
      const { plan: _plan, ...rootRest } = parsed;
      return JSON.stringify({ plan: { actions, ...planRest }, ...rootRest });
    }],
    ['with Windows line ends', (text) => text.replaceAll('\n', '\r\n')],
    ['an action indented by hand', (text) => text.replace('      {"kind":"download"', '        {"kind":"download"')],
    ['keys written with escapes (\\u0061 for a)', (text) => text.replaceAll('"kind":', '"\\u006bind":')],
  ])('reads a file %s as the same plan, with the same digest', async (_layout, relayout) => {
    const text = serializePlanFile(planFile);
    const relaid = relayout(text);
    expect(relaid).not.toBe(text);
    const read = readText(relaid);
    expect(read.actions).toEqual(plainActions);
    expect({ ...read.header, plan: { ...read.header.plan, actions: read.actions } }).toEqual(JSON.parse(JSON.stringify(planFile)));
    expect(read.digest).toBe(digestPlan(plan));
  });

  it('a field that sorts before "actions", given after them, still gives the digest of the plan it holds', async () => {
    const text = serializePlanFile(planFile);
    const parsed = JSON.parse(text) as PlanFile<Action[]> & { plan: Record<string, unknown> };
    const odd = { ...parsed, plan: { ...parsed.plan, aardvark: 1 } };
    const read = readText(JSON.stringify(odd));
    expect(read.digest).toBe(digestPlan(odd.plan as unknown as Plan));
    expect(read.digest).not.toBe(digestPlan(plan));
  });

  it('an edited value in another layout gives another digest', async () => {
    const parsed = JSON.parse(serializePlanFile(planFile)) as PlanFile<Action[]>;
    parsed.plan.actions[0]!.size += 1;
    expect(readText(JSON.stringify(parsed, null, 4)).digest).not.toBe(digestPlan(plan));
  });

  it('notes a kind out of apply order, and keys out of order within a kind, without refusing yet', async () => {
    const a = (kind: Action['kind'], key: string): Action => ({ kind, key, size: 1, etag: 'e', volume: '/v1' });
    const kinds = readText(serializePlanFile({ ...planFile, plan: { ...plan, actions: [a('upload', 'a'), a('download', 'b')] } }));
    expect(kinds.actions).toHaveLength(2);
    expect(kinds.outOfOrder).toEqual({ index: 1, kind: 'download', key: 'b', by: 'kind', previousKind: 'upload', previousKey: 'a' });
    const keys = readText(serializePlanFile({ ...planFile, plan: { ...plan, actions: [a('download', 'b'), a('download', 'b'), a('download', 'a')] } }));
    expect(keys.outOfOrder).toEqual({ index: 2, kind: 'download', key: 'a', by: 'key', previousKind: 'download', previousKey: 'b' });
    // Keys compare in UTF-8 byte order: an astral character after U+FFFD is in order.
    expect(readText(serializePlanFile({ ...planFile, plan: { ...plan, actions: [a('download', 'x\ufffd'), a('download', 'x\u{1F600}')] } })).outOfOrder).toBeUndefined();
  });

  it.each<[string, (text: string) => string, RegExp]>([
    ['cut short in the header', (text) => text.slice(0, 60), /^plan\.json is not a plan file: it is not valid JSON \(.*the file ends early, after 0 actions\)/],
    ['cut short in an action', (text) => text.slice(0, text.indexOf('"kind":"download"') + 10), /^plan\.json is not a plan file: it is not valid JSON \(.*the file ends early, after 0 actions\)/],
    ['cut short after an action', (text) => text.slice(0, text.indexOf('\n', text.indexOf('"kind":"download"')) + 1), /^plan\.json is not a plan file: it is not valid JSON \(.*the file ends early, after 1 action\)/],
    ['a comma lost between actions', (text) => text.replace(/(\{"kind":"download".*),\n/, '$1\n'), /^plan\.json is not a plan file: it is not valid JSON \(.*near byte 0\)/],
    ['something after the end', (text) => `${text}{}\n`, /^plan\.json is not a plan file: it is not valid JSON/],
    ['the actions twice', (text) => text.replace('    "actions": [', '    "actions": [],\n    "actions": ['), /^plan\.json is not a plan file: it is not valid JSON \(plan\.actions appears twice\)/],
    ['not a plan at all: an array', () => '[1, 2, 3]', /^plan\.json: the file should be an object/],
  ])('refuses a file %s, naming the file', async (_name, damage, message) => {
    const error = userErrorOf(() => readText(damage(serializePlanFile(planFile))));
    expect(error.code).toBe('E_PLAN_FILE');
    expect(error.message).toMatch(message);
    expect(error.hint).toMatch(/dualsync plan --out FILE/);
  });

  it('refuses a header past 16 MiB (a warning of 17 MiB), without holding more of it', async () => {
    const huge = { ...planFile, plan: { ...plan, warnings: [{ code: 'volume-symlink', path: 'x'.repeat(17 << 20) }] } } as unknown as PlanFile;
    const error = userErrorOf(() => readText(serializePlanFile(huge)));
    expect(error).toMatchObject({ code: 'E_PLAN_FILE', message: 'plan.json is not a plan file: its fields besides the actions run past 16 MiB' });
  });

  it('a field named __proto__ is read as a field, as JSON.parse reads it, not as the prototype', async () => {
    const text = serializePlanFile(planFile).replace('"formatVersion": 1,', '"__proto__": {"polluted": 1},\n  "formatVersion": 1,');
    const read = readText(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(read.header)).toBe(Object.prototype);
    expect(read.digest).toBe(digestPlan(plan));
  });

  it('refuses bytes that are not UTF-8, naming where', async () => {
    const file = join(tempDirSync('planfile-test-'), 'plan.json');
    const text = Buffer.from(serializePlanFile(planFile));
    writeFileSync(file, Buffer.concat([text.subarray(0, 40), Buffer.from([0xff, 0xfe]), text.subarray(40)]));
    const error = userErrorOf(() => readPlanFile(file, memorySpools));
    expect(error.message).toBe(`${file} is not a plan file: it is not valid JSON (it is not UTF-8 text near byte 0)`);
  });

  it.each<[string, (text: string) => string, string]>([
    ['a fractional size', (text) => text.replace(/"size":\d+/, '"size":1.5'), 'plan.json: plan.actions[0].size should be a whole number'],
    ['an unknown kind', (text) => text.replace('"kind":"upload"', '"kind":"delete"'), '.kind should be one of download, redownload, upload, purge, adopt, skip'],
    ['a summary without counts', (text) => text.replace(/"upload": \{"count":\d+,/, '"upload": {'), 'plan.json: plan.summary.upload.count should be a whole number'],
  ])('refuses %s with the field checks of parsePlanFile, naming the field', async (_name, damage, message) => {
    const text = damage(serializePlanFile(planFile));
    expect(text).not.toBe(serializePlanFile(planFile));
    expect(userErrorOf(() => readText(text)).message).toContain(message);
    expect(userErrorOf(() => parsePlanFile(text, 'plan.json')).message).toContain(message);
  });
});

describe('the plan\'s notes in the plan file', async () => {
  const noted: Plan = await planOf(
    testConfig({ transfer: { maxBatchBytes: 10 } }),
    inventory().volume('/v1', { free: 1_000 }).source('a', 10).source('b', 5).source('c', 5).source('d', 5).source('e', 5).ledger({ key: 'gone', size: 1, stage: 'purged' }).build(),
  );
  const notedFile: PlanFile = { ...planFile, plan: noted };

  it('writes each note on one line, after the warnings and before the actions, and reads it back', async () => {
    expect(noted.notes?.map((note) => note.code)).toEqual(['lost-not-redeliverable', 'deferred-download-batch-cap']);
    const text = serializePlanFile(notedFile);
    const lines = text.split('\n');
    expect(lines).toContain('      {"code":"lost-not-redeliverable","count":1,"examples":["gone"]},');
    expect(lines).toContain('      {"code":"deferred-download-batch-cap","count":4,"bytes":20,"limitBytes":10,"examples":["b","c","d"]}');
    expect(lines.findIndex((line) => line.startsWith('    "notes": ['))).toBeGreaterThan(lines.findIndex((line) => line.startsWith('    "warnings": ')));
    expect(parsePlanFile(text, 'plan.json')).toEqual(notedFile);
    const { header, actions } = readText(text);
    expect({ ...header, plan: { ...header.plan, actions } }).toEqual(JSON.parse(JSON.stringify(notedFile)));
  });

  it('are part of the digested plan', async () => {
    expect(canonicalPlanJson(noted)).toContain('"notes":[{"code":"lost-not-redeliverable","count":1,"examples":["gone"]},');
    const edited: Plan = { ...noted, notes: noted.notes?.map((note) => ({ ...note, count: note.count + 1 })) };
    expect(canonicalPlanJson(edited)).not.toBe(canonicalPlanJson(noted));
  });

  it('a plan file of an older version, without notes, still reads', async () => {
    const { notes: _notes, ...older } = noted;
    expect(parsePlanFile(serializePlanFile({ ...planFile, plan: older }), 'plan.json').plan.notes).toBeUndefined();
  });

  it.each<[string, (notes: Record<string, unknown>[]) => void, string]>([
    ['an unknown note code', (notes) => (notes[0]!.code = 'something-new'), 'plan.notes[0].code should be one of stray-local-file,'],
    ['a count that is not one', (notes) => (notes[1]!.count = -1), 'plan.notes[1].count should be a whole number'],
    ['examples that are not keys', (notes) => (notes[0]!.examples = [1]), 'plan.notes[0].examples[0] should be a string'],
    ['bytes that are not a number', (notes) => (notes[1]!.bytes = '20'), 'plan.notes[1].bytes should be a whole number'],
  ])('refuses %s, naming the field', async (_name, damage, message) => {
    const pf = JSON.parse(serializePlanFile(notedFile)) as { plan: { notes: Record<string, unknown>[] } };
    damage(pf.plan.notes);
    expect(userErrorOf(() => parsePlanFile(JSON.stringify(pf), 'plan.json')).message).toContain(message);
  });
});

describe('the saved plan has one owner, src/planfile/', () => {
  const text = (name: string) => readFileSync(join(import.meta.dirname, '..', '..', 'src', 'planfile', name), 'utf8');

  // The lint rule on pure folders does not cover src/planfile/, which also reads files and hashes.
  it.each(['format.ts', 'write.ts', 'json.ts'])('%s is pure: it imports no node:* module and no view', (name) => {
    expect(text(name)).not.toMatch(/from 'node:|from '\.\.\/view\//);
  });

  it('no file of it imports a view: its refusals are data, worded in view/saved-plan.ts', () => {
    for (const name of ['check.ts', 'stale.ts', 'read.ts', 'digest.ts', 'save.ts']) expect(text(name)).not.toMatch(/from '\.\.\/view\//);
  });
});
