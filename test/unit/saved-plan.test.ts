import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { readSavedPlan } from '../../src/planfile/check.ts';
import { savedPlanRefusalError } from '../../src/view/saved-plan.ts';
import type { SavedPlanRefusal } from '../../src/model/saved-plan.ts';
import { digestConfig, digestConfigFields, digestPlan } from '../../src/planfile/digest.ts';
import { manifestPaths } from '../../src/planfile/save.ts';
import { STALE_DIFF_LINES, STALE_DIFF_MAX_LINES, stalePlan, type FreshRun } from '../../src/planfile/stale.ts';
import { serializePlanFile, writePlanFile } from '../../src/planfile/write.ts';
import { renderManifests } from '../../src/manifest/s5cmd.ts';
import { SpooledActions } from '../../src/plan/spools.ts';
import { FileSpool, SpoolFolder } from '../../src/files/spool.ts';
import type { Action, Config, Plan, PlanFile } from '../../src/model/index.ts';
import { ACTION_ORDER } from '../../src/plan/planner.ts';
import { inventory, planOf, testConfig } from '../builders.ts';
import { removeTempDirs, tempDirSync } from '../harness/temp.ts';

afterAll(removeTempDirs);
const tempDir = (): string => tempDirSync('saved-plan-test-');

interface Scene {
  dir: string;
  volume: string;
  config: Config;
  planPath: string;
}

function scene(): Scene {
  const dir = tempDir();
  const volume = join(dir, 'v1');
  mkdirSync(volume);
  return { dir, volume, config: testConfig({ staging: { volumes: [volume] } }), planPath: join(dir, 'plan.json') };
}

/** Actions moved into file spools (one per kind, spilling past `memoryEntries`), as the planner hands a large plan over. */
function spooled(actions: readonly Action[], folder: SpoolFolder): SpooledActions {
  return new SpooledActions(
    ACTION_ORDER.map((kind) => {
      const spool = new FileSpool(folder);
      actions.forEach((action, rank) => action.kind === kind && spool.push(rank, action));
      spool.end();
      return { kind, spools: [spool] };
    }),
  );
}

function planFileOf(plan: Plan, config: Config): PlanFile {
  return {
    formatVersion: 1,
    createdAt: '2026-11-29T12:00:00.000Z',
    configDigest: digestConfig(config),
    configFields: digestConfigFields(config),
    inputDigest: 'i'.repeat(64),
    ledgerSerial: 3,
    planDigest: digestPlan(plan),
    plan,
  };
}

function writeFile(path: string, planFile: PlanFile): void {
  const pieces: string[] = [];
  writePlanFile(planFile, (piece) => pieces.push(piece));
  writeFileSync(path, pieces.join(''));
}

/** A plan of `adopts` adopts and `downloads` downloads (each with its upload and purge) on the scene's volume. */
async function scenePlan(s: Scene, adopts: number, downloads: number): Promise<Plan<Action[]>> {
  const builder = inventory().volume(s.volume, { free: 1e15 });
  for (let i = 0; i < adopts; i++) builder.source(`a/${String(i).padStart(6, '0')}`, 1000 + i).dest(`a/${String(i).padStart(6, '0')}`, 1000 + i);
  for (let i = 0; i < downloads; i++) builder.source(`d/${String(i).padStart(6, '0')}`, 2000 + i);
  return await planOf(s.config, builder.build());
}

/** The saved plan, or its refusal thrown as apply throws it: worded by the view, with the code of the data kept. */
async function readOrRefuse(...args: Parameters<typeof readSavedPlan>) {
  const read = await readSavedPlan(...args);
  if (read.refusal !== undefined) throw Object.assign(savedPlanRefusalError(read.refusal), { refusal: read.refusal });
  return read.saved;
}

async function refusal(run: () => Promise<unknown>): Promise<{ code: string; message: string; details?: string[]; refusal?: string }> {
  try {
    await run();
  } catch (error) {
    if (isDualsyncError(error) && error.kind === 'user') return { code: error.code, message: error.message, details: error.details, ...('refusal' in error && { refusal: (error as { refusal: SavedPlanRefusal }).refusal.code }) };
    throw error;
  }
  throw new Error('expected a refusal');
}

const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('a saved plan read back as a stream into spools', () => {
  it('a plan of 50,000 objects written through file spools reads back with the same actions and digest', async () => {
    const s = scene();
    const planned = await scenePlan(s, 40_000, 10_000);
    expect(planned.actions.length).toBe(70_000);
    const written = spooled(planned.actions, SpoolFolder.at(join(s.dir, 'write'), 500));
    const planFile = planFileOf({ ...planned, actions: written }, s.config);
    expect(planFile.planDigest).toBe(digestPlan(planned));
    writeFile(s.planPath, planFile);

    const readFolder = SpoolFolder.at(join(s.dir, 'read'), 500);
    const saved = await readOrRefuse(s.planPath, s.config, readFolder.spools);
    // The actions went to spool files, not into memory.
    expect(saved.plan.actions).toBeInstanceOf(SpooledActions);
    expect(readdirSync(readFolder.path!).length).toBeGreaterThanOrEqual(4);
    expect(saved.plan.actions.length).toBe(70_000);
    expect([...saved.plan.actions]).toEqual(plain(planned.actions));
    expect([...(saved.plan.actions.ofKinds?.(['upload']) ?? [])]).toEqual(plain(planned.actions.filter((a) => a.kind === 'upload')));
    expect(digestPlan(saved.plan)).toBe(planFile.planDigest);
    expect(serializePlanFile(saved)).toBe(serializePlanFile(planFile));
  });

  // readline ends a line at U+2028 and U+2029 too: a key holding one once made the file unreadable.
  it.each([
    ['in memory', 100_000],
    ['through spool files', 2],
  ])('keys that hold line and paragraph separators, NEL, a form feed or a tab read back as written (%s)', async (_how, memoryEntries) => {
    const s = scene();
    const keys = ['line\u2028separator', 'para\u2029graph/inside.txt', 'both\u2028\u2029/x', 'next\u0085line', 'form\ffeed', 'tab\there', '\u2028', 'plain'];
    const builder = inventory().volume(s.volume, { free: 1e15 });
    for (const [i, key] of keys.entries()) builder.source(key, 10 + i);
    const planned = await planOf(s.config, builder.build());
    expect(planned.actions.filter((a) => a.kind === 'download').map((a) => a.key).sort()).toEqual(keys.filter((k) => !/[\f\t]/.test(k)).sort());
    writeFile(s.planPath, planFileOf(planned, s.config));
    const saved = await readOrRefuse(s.planPath, s.config, SpoolFolder.at(join(s.dir, 'read'), memoryEntries).spools);
    expect([...saved.plan.actions]).toEqual(plain(planned.actions));
    expect(digestPlan(saved.plan)).toBe(digestPlan(planned));
  });

  it('reads a plan without actions', async () => {
    const s = scene();
    const planFile = planFileOf({ ...(await scenePlan(s, 0, 0)), actions: [] }, s.config);
    writeFile(s.planPath, planFile);
    const saved = await readOrRefuse(s.planPath, s.config, SpoolFolder.at(join(s.dir, 'read')).spools);
    expect(saved.plan.actions.length).toBe(0);
    expect(saved.plan.summary).toEqual(planFile.plan.summary);
  });

  it('checks the manifests beside the file as they are rendered: the same pass, a changed one refused', async () => {
    const s = scene();
    const planFile = planFileOf(await scenePlan(s, 3, 3), s.config);
    writeFile(s.planPath, planFile);
    const paths = manifestPaths(s.planPath);
    const rendered = renderManifests(planFile.plan, s.config);
    writeFileSync(paths.download, rendered.download);
    writeFileSync(paths.upload, rendered.upload);
    await readOrRefuse(s.planPath, s.config, SpoolFolder.at(join(s.dir, 'read')).spools);
    for (const edit of [`${rendered.upload}# one more line\n`, rendered.upload.slice(0, -1), rendered.upload.replace('d/000001', 'd/000009')]) {
      writeFileSync(paths.upload, edit);
      const refused = await refusal(() => readOrRefuse(s.planPath, s.config, SpoolFolder.at(join(s.dir, 'read')).spools));
      expect(refused).toMatchObject({ code: 'E_PLAN_TAMPERED', message: `the manifest ${paths.upload} differs from its plan file ${s.planPath}` });
    }
  });

  describe('refuses a file dualsync did not write that way', () => {
    const act = (kind: Action['kind'], key: string): Action => ({ kind, key, size: 1, etag: 'e', ...(kind === 'skip' ? { reason: { code: 'key-empty' as const } } : {}) });
    const read = (s: Scene) => readOrRefuse(s.planPath, s.config, SpoolFolder.at(join(s.dir, 'read')).spools);

    it.each<[string, Action[], RegExp]>([
      ['a kind out of apply order', [act('upload', 'a'), act('download', 'b')], /plan\.actions\[1\] is a download after the uploads/],
      ['keys out of order within a kind', [act('skip', 'b'), act('skip', 'a')], /plan\.actions\[1\] \(skip "a"\) comes after "b"/],
    ])('%s, even with its digest recomputed', async (_name, actions, message) => {
      const s = scene();
      writeFile(s.planPath, planFileOf({ ...(await scenePlan(s, 0, 0)), actions }, s.config));
      const refused = await refusal(() => read(s));
      expect(refused.code).toBe('E_PLAN_TAMPERED');
      expect(refused.refusal).toBe('actions-out-of-order');
      expect(refused.message).toMatch(/has its actions out of plan order/);
      expect(refused.message).toMatch(message);
    });

    it('keys out of order after an edit: the digest speaks first', async () => {
      const s = scene();
      const planFile = planFileOf({ ...(await scenePlan(s, 0, 0)), actions: [act('skip', 'a'), act('skip', 'b')] }, s.config);
      writeFileSync(s.planPath, serializePlanFile(planFile).replace('"key":"a"', '"key":"c"'));
      expect(await refusal(() => read(s))).toMatchObject({ code: 'E_PLAN_TAMPERED', refusal: 'plan-edited', message: `the plan file ${s.planPath} was changed after it was written` });
    });

    it('a file re-indented by hand reads as written; an edit made with it is refused by the digest', async () => {
      const s = scene();
      const planFile = planFileOf(await scenePlan(s, 2, 2), s.config);
      writeFileSync(s.planPath, `${JSON.stringify(planFile, null, 4)}\n`);
      const saved = await read(s);
      expect([...saved.plan.actions]).toEqual(plain([...planFile.plan.actions]));
      const edited = plain(planFile) as PlanFile<Action[]>;
      edited.plan.actions[0]!.size += 1;
      writeFileSync(s.planPath, JSON.stringify(edited));
      expect(await refusal(() => read(s))).toMatchObject({ code: 'E_PLAN_TAMPERED', message: `the plan file ${s.planPath} was changed after it was written` });
    });

    it('a field error names the action', async () => {
      const s = scene();
      writeFile(s.planPath, planFileOf(await scenePlan(s, 2, 2), s.config));
      const { readFileSync } = await import('node:fs');
      writeFileSync(s.planPath, readFileSync(s.planPath, 'utf8').replace(/("kind":"upload","key":"d\/000001","size":)\d+/, '$1-1'));
      expect(await refusal(() => read(s))).toMatchObject({ code: 'E_PLAN_FILE', message: expect.stringContaining('plan.actions[5].size should be a whole number of at least 0') });
    });

    it('a file that is not there', async () => {
      const s = scene();
      expect(await refusal(() => read(s))).toMatchObject({ code: 'E_PLAN_MISSING', message: expect.stringContaining(`cannot read the plan file ${s.planPath}`) });
    });

    it('a folder in its place: a read that fails is "cannot read", a spool write that fails is itself', async () => {
      const s = scene();
      mkdirSync(s.planPath);
      expect(await refusal(() => read(s))).toMatchObject({ code: 'E_PLAN_MISSING', message: `cannot read the plan file ${s.planPath}: EISDIR` });
      rmSync(s.planPath, { recursive: true });
      writeFile(s.planPath, planFileOf(await scenePlan(s, 2, 2), s.config));
      const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const failing = () => ({ length: 0, bytes: 0, push: () => { throw full; }, entries: () => [], end: () => {} });
      await expect(readOrRefuse(s.planPath, s.config, failing)).rejects.toBe(full);
    });
  });
});

describe('the stale-plan refusal walks both manifests in step', async () => {
  const config = testConfig();
  const hops: Plan['hops'] = { download: { workers: 4, concurrency: 5 }, upload: { workers: 4, concurrency: 5 } };
  const download = (key: string, volume = '/v1'): Action => ({ kind: 'download', key, size: 1, etag: 'e', volume });
  const upload = (key: string): Action => ({ kind: 'upload', key, size: 1, etag: 'e', volume: '/v1', afterDownload: true });
  const empty = await planOf(config, inventory().volume('/v1', { free: 1e9 }).build());
  const planWith = (actions: Action[]): Plan => ({ ...empty, actions, hops });
  const savedFile = (actions: Action[]): PlanFile => ({ formatVersion: 1, createdAt: '', configDigest: '', inputDigest: '', ledgerSerial: 4, planDigest: '', plan: planWith(actions) });
  const fresh = (actions: Action[]): FreshRun => ({ plan: planWith(actions), gathered: { inventory: { source: {}, destination: {}, ledger: { serial: 9 } } } });

  it('counts the commands only in the saved plan and only in the fresh one, and shows a short diff', async () => {
    const saved = savedFile([download('a'), download('b'), download('c'), { ...download('r'), kind: 'redownload' }, upload('a'), upload('b')]);
    const now = fresh([download('b', '/v2'), download('c'), download('d'), upload('b'), upload('d')]);
    const error = savedPlanRefusalError(stalePlan('plan.json', saved, now, config, false));
    expect(error.code).toBe('E_PLAN_STALE');
    expect(error.message).toContain('(ledger serial 4 -> 9)');
    expect(error.details).toEqual([
      'download.s5cmd: 3 commands no longer planned, 2 new',
      'upload.s5cmd: 1 command no longer planned, 1 new',
      '--- download.s5cmd (saved plan)',
      '+++ download.s5cmd (now)',
      '-cp --raw --concurrency 5 "s3://edge/sensors/a" "/v1/.dualsync-tmp/a"',
      '-cp --raw --concurrency 5 "s3://edge/sensors/b" "/v1/.dualsync-tmp/b"',
      '+cp --raw --concurrency 5 "s3://edge/sensors/b" "/v2/.dualsync-tmp/b"',
      '+cp --raw --concurrency 5 "s3://edge/sensors/d" "/v1/.dualsync-tmp/d"',
      '-cp --raw --concurrency 5 "s3://edge/sensors/r" "/v1/.dualsync-tmp/r"',
      '--- upload.s5cmd (saved plan)',
      '+++ upload.s5cmd (now)',
      '-cp --raw --concurrency 5 --part-size 50 "/v1/a" "s3://archive/site-7/a"',
      '+cp --raw --concurrency 5 --part-size 50 "/v1/d" "s3://archive/site-7/d"',
    ]);
  });

  it('summarises a long diff unless --diff asks for it, and says when the manifests are the same', async () => {
    const keys = Array.from({ length: STALE_DIFF_LINES }, (_, i) => `k${String(i).padStart(3, '0')}`);
    const saved = savedFile(keys.map((key) => download(key)));
    const short = savedPlanRefusalError(stalePlan('plan.json', saved, fresh([]), config, false));
    expect(short.details).toEqual(['download.s5cmd: 40 commands no longer planned, 0 new', '(the diff has 42 lines: `dualsync apply --diff plan.json` shows it)']);
    const long = savedPlanRefusalError(stalePlan('plan.json', saved, fresh([]), config, true));
    expect(long.details).toHaveLength(1 + 42);
    expect(long.details?.at(-1)).toBe('-cp --raw --concurrency 5 "s3://edge/sensors/k039" "/v1/.dualsync-tmp/k039"');
    expect(savedPlanRefusalError(stalePlan('plan.json', saved, fresh(keys.map((key) => download(key))), config, false)).details).toEqual([
      '(the manifests are the same; the ledger or the listings moved in ways the plan does not show)',
    ]);
  });

  it('with --diff shows at most 100,000 lines, and says how many more there are', async () => {
    const keys = Array.from({ length: STALE_DIFF_MAX_LINES }, (_, i) => `k${String(i).padStart(6, '0')}`);
    const error = savedPlanRefusalError(stalePlan('plan.json', savedFile(keys.map((key) => download(key))), fresh([]), config, true));
    expect(error.details).toHaveLength(1 + STALE_DIFF_MAX_LINES + 1);
    expect(error.details?.[0]).toBe('download.s5cmd: 100000 commands no longer planned, 0 new');
    expect(error.details?.at(-1)).toBe('(2 more lines of the diff left out: the first 100000 are shown)');
  });

  it('says first which hop went down or came back', async () => {
    const saved = savedFile([]);
    saved.plan.warnings.push({ code: 'destination-unreachable', cause: 'connect ECONNREFUSED' });
    const now = fresh([]);
    now.gathered.inventory.source.unreachable = 'timeout';
    expect(savedPlanRefusalError(stalePlan('plan.json', saved, now, config, false)).details?.slice(0, 2)).toEqual(['the source is unreachable now: timeout', 'the destination was unreachable when the plan was made, and is reachable now']);
  });
});
