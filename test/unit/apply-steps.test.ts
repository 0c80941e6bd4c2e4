/**
 * Apply's steps with a fake hop: no s5cmd, no server. The volumes are a tmp folder, the ledger an
 * in-memory sink behind the real Recorder, the destination a map the fake upload hop fills.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executePlan } from '../../src/apply/execute.ts';
import type { HopEvents, HopRunResult, OpenHop, TransferHop } from '../../src/apply/hop.ts';
import { Recorder } from '../../src/apply/recorder.ts';
import type { ExecuteContext } from '../../src/apply/run.ts';
import { uploadLine } from '../../src/manifest/s5cmd.ts';
import type { Action, Hop, LedgerEvent, ObjectEntry, Plan } from '../../src/model/index.ts';
import { localPath, tempPath } from '../../src/plan/volume-paths.ts';
import { testConfig } from '../builders.ts';

/** What the fake hop does with one line: report it done, report it failed, or never report it. */
type LineResult = { ok: true } | { ok: false; error: string } | 'unreported';

/**
 * A hop that carries out each line itself: a download writes the temporary file, an upload puts
 * the staged file's size into `destination`. It reports asynchronously, as s5cmd does, and stops
 * reporting once its signal is aborted (s5cmd killed).
 */
class FakeHop implements TransferHop {
  readonly sent: Action[] = [];
  readonly stalled = undefined;
  #ended = false;
  #endedNow: () => void = () => {};
  readonly #endedPromise = new Promise<void>((resolve) => (this.#endedNow = resolve));
  readonly #pending: Promise<void>[] = [];
  readonly #hop: Hop;
  readonly #events: HopEvents;
  readonly #signal: AbortSignal;
  readonly #world: World;

  constructor(hop: Hop, events: HopEvents, signal: AbortSignal, world: World) {
    this.#hop = hop;
    this.#events = events;
    this.#signal = signal;
    this.#world = world;
  }

  send(line: string, action: Action): void {
    if (this.#ended) throw new Error('assertion failed: line sent after the hop input was closed');
    this.sent.push(action);
    this.#world.journal.push(`send ${this.#hop} ${action.key}`);
    this.#world.onSend?.(this.#hop, line, action);
    this.#pending.push(this.#carryOut(action));
  }

  async #carryOut(action: Action): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#signal.aborted) return;
    const result = this.#world.lineResult(this.#hop, action);
    if (result === 'unreported') return;
    if (!result.ok) return this.#events.onFailure(action, result.error);
    if (this.#hop === 'download') {
      const path = tempPath(action.volume!, action.key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, Buffer.alloc(this.#world.downloadedSize?.(action) ?? action.size));
    } else {
      const size = (await stat(localPath(action.volume!, action.key))).size;
      this.#world.destination.set(action.key, { key: action.key, size: this.#world.listedSize?.(action) ?? size, etag: action.etag });
    }
    if (this.#signal.aborted) return;
    this.#events.onSuccess(action);
  }

  /** Whether the run stopped this hop (its signal was aborted). */
  get killed(): boolean {
    return this.#signal.aborted;
  }

  end(): void {
    this.#ended = true;
    this.#endedNow();
  }

  async done(): Promise<HopRunResult> {
    // Like s5cmd: ends when its input is closed and its lines are done, or at once when killed.
    if (!this.#signal.aborted) await Promise.race([this.#endedPromise, new Promise((resolve) => this.#signal.addEventListener('abort', resolve))]);
    if (this.#signal.aborted) return { exitCode: undefined, failures: [], otherErrors: [], signal: 'SIGTERM' };
    await Promise.all(this.#pending);
    return { exitCode: 0, failures: [], otherErrors: [] };
  }
}

interface World {
  volume: string;
  journal: string[];
  destination: Map<string, ObjectEntry>;
  hops: Partial<Record<Hop, FakeHop>>;
  lineResult: (hop: Hop, action: Action) => LineResult;
  downloadedSize?: (action: Action) => number;
  listedSize?: (action: Action) => number;
  onSend?: (hop: Hop, line: string, action: Action) => void;
  /** The ledger refuses this event (a full state disk): the write fails. */
  refuse?: (event: LedgerEvent) => boolean;
  /** Every ledger write, as the batches the recorder handed over. */
  writes: LedgerEvent[][];
}

const config = () => testConfig({ staging: { volumes: [world.volume] } });
const settings = { workers: 4, concurrency: 1 };
let world: World;

beforeEach(async () => {
  const volume = await mkdtemp(join(tmpdir(), 'apply-steps-'));
  world = { volume, journal: [], destination: new Map(), hops: {}, lineResult: () => ({ ok: true }), writes: [] };
});
afterEach(async () => {
  await rm(world.volume, { recursive: true, force: true });
});

function context(): ExecuteContext {
  const recorder = new Recorder({
    append: async (events) => {
      world.writes.push(events);
      if (events.some((e) => world.refuse?.(e) === true)) throw new Error('ENOSPC: no space left on the state disk');
      for (const event of events) world.journal.push(`record ${event.type} ${event.key}`);
    },
  });
  const openHop: OpenHop = (hop, events, options) => (world.hops[hop] = new FakeHop(hop, events, options.signal, world));
  return {
    config: config(),
    s5cmd: 'not-run',
    recorder,
    ledgerRecord: () => undefined,
    describeDestination: async (keys) => new Map(keys.map((key) => [key, world.destination.get(key)])),
    contentMd5: () => Promise.reject(new Error('not compared here')),
    now: () => new Date('2026-01-01T00:00:00Z'),
    openHop,
  };
}

function planOf(actions: Action[]): Plan {
  const none = { count: 0, bytes: 0 };
  return {
    formatVersion: 1,
    actions,
    summary: { download: none, upload: none, purge: none, adopt: none, skip: { count: 0 }, deferred: none, noChanges: false },
    volumes: [],
    hops: { download: settings, upload: settings },
    warnings: [],
  };
}

/** A download that travels all the way in the plan: download, chained upload, purge. */
function travelling(key: string, size = 10): Action[] {
  const base = { key, size, etag: `etag-${key}`, volume: world.volume };
  return [
    { ...base, kind: 'download' },
    { ...base, kind: 'upload', afterDownload: true },
    { ...base, kind: 'purge', afterDownload: true },
  ];
}

/** A copy staged by an earlier run, uploaded (and purged) now. */
async function stagedEarlier(key: string, size = 10): Promise<Action[]> {
  await mkdir(dirname(localPath(world.volume, key)), { recursive: true });
  await writeFile(localPath(world.volume, key), Buffer.alloc(size));
  const base = { key, size, etag: `etag-${key}`, volume: world.volume };
  return [{ ...base, kind: 'upload' }, { ...base, kind: 'purge' }];
}

/** The plan's actions sorted the way the planner writes them (download, upload, purge). */
function ordered(actions: Action[]): Action[] {
  const rank = { download: 0, redownload: 1, upload: 2, purge: 3, adopt: 4, skip: 5 };
  return actions.sort((a, b) => rank[a.kind] - rank[b.kind]);
}

const position = (entry: string) => world.journal.indexOf(entry);

describe('apply, with a fake hop: chaining', () => {
  it('an upload line is sent only once its download is verified, in place and recorded staged', async () => {
    const keys = ['a/one', 'a/two', 'b/three', 'four'];
    const plan = planOf(ordered(keys.flatMap((key) => travelling(key))));
    const inPlaceWhenSent: boolean[] = [];
    world.onSend = (hop, line, action) => {
      if (hop !== 'upload') return;
      inPlaceWhenSent.push(existsSync(localPath(action.volume!, action.key)));
      expect(line).toBe(uploadLine(action, config(), settings));
    };
    const outcome = await executePlan(context(), plan);
    expect(outcome.failures).toEqual([]);
    expect(outcome.downloaded).toEqual({ count: 4, bytes: 40 });
    expect(outcome.uploaded).toEqual({ count: 4, bytes: 40 });
    expect(outcome.purged).toEqual({ count: 4, bytes: 40 });
    expect(inPlaceWhenSent).toEqual([true, true, true, true]);
    for (const key of keys) {
      const steps = [`send download ${key}`, `record staged ${key}`, `send upload ${key}`, `record delivered ${key}`, `record purged ${key}`].map(position);
      expect(steps.every((at) => at !== -1), `${key}: ${world.journal.join(', ')}`).toBe(true);
      expect([...steps].sort((a, b) => a - b), `${key}: ${world.journal.join(', ')}`).toEqual(steps);
      expect(existsSync(localPath(world.volume, key))).toBe(false);
    }
    // Purges emptied a/ and b/: tidied at the end.
    expect(existsSync(join(world.volume, 'a'))).toBe(false);
    expect(existsSync(join(world.volume, 'b'))).toBe(false);
  });

  it('a download that fails verification never has its upload line sent', async () => {
    const plan = planOf(ordered([...travelling('good'), ...travelling('short')]));
    world.downloadedSize = (action) => (action.key === 'short' ? 3 : action.size);
    const outcome = await executePlan(context(), plan);
    expect(world.hops.upload!.sent.map((a) => a.key)).toEqual(['good']);
    expect(outcome.failures).toEqual([{ key: 'short', hop: 'download', code: 'size-mismatch', copy: 'local', actual: 3, expected: 10 }]);
    expect(existsSync(tempPath(world.volume, 'short'))).toBe(false);
    expect(world.journal).not.toContain('record staged short');
  });
});

describe('apply, with a fake hop: failure matching', () => {
  it("a hop's failure fails that action only, and a line the hop never reported fails at reconcile", async () => {
    const plan = planOf(ordered([...travelling('ok'), ...travelling('refused'), ...travelling('lost'), ...(await stagedEarlier('old'))]));
    world.lineResult = (hop, action) => {
      if (hop === 'download' && action.key === 'refused') return { ok: false, error: 'AccessDenied: no read on refused' };
      if (hop === 'download' && action.key === 'lost') return 'unreported';
      if (hop === 'upload' && action.key === 'old') return 'unreported';
      return { ok: true };
    };
    const outcome = await executePlan(context(), plan);
    const ended = { code: 's5cmd-exited', exitCode: 0 };
    expect(outcome.failures).toEqual([
      { key: 'refused', hop: 'download', code: 's5cmd-error', cause: 'AccessDenied: no read on refused' },
      { key: 'lost', hop: 'download', ...ended },
      { key: 'old', hop: 'upload', ...ended },
    ]);
    expect(outcome.uploaded.count).toBe(1);
    expect(outcome.purged.count).toBe(1);
    // The chained uploads of failed downloads were never sent, and are not reported twice.
    expect(world.hops.upload!.sent.map((a) => a.key).sort()).toEqual(['ok', 'old']);
    const failed = world.writes.flat().filter((e) => e.type === 'failed');
    expect(failed.map((e) => [e.key, e.type === 'failed' && e.hop, e.type === 'failed' && e.failure])).toEqual([
      ['refused', 'download', { code: 's5cmd-error', cause: 'AccessDenied: no read on refused' }],
      ['lost', 'download', ended],
      ['old', 'upload', ended],
    ]);
    // The copy whose upload was never reported is kept.
    expect(existsSync(localPath(world.volume, 'old'))).toBe(true);
  });
});

describe('apply, with a fake hop: purge only after a recorded delivery (invariant 1)', () => {
  it('an upload the destination lists with another size is not delivered, and its copy is kept', async () => {
    const plan = planOf(ordered(await stagedEarlier('x')));
    world.listedSize = () => 7;
    const outcome = await executePlan(context(), plan);
    expect(outcome.purged.count).toBe(0);
    expect(outcome.failures.map((f) => [f.key, f.hop])).toEqual([['x', 'upload']]);
    expect(world.journal.some((e) => e.startsWith('record delivered') || e.startsWith('record purged'))).toBe(false);
    expect(await readFile(localPath(world.volume, 'x'))).toHaveLength(10);
  });

  it('when the delivered record fails to write, nothing is purged and apply fails with the ledger error', async () => {
    const plan = planOf(ordered([...(await stagedEarlier('y')), ...travelling('z')]));
    world.refuse = (event) => event.type === 'delivered';
    await expect(executePlan(context(), plan)).rejects.toThrow('ENOSPC');
    expect(world.writes.flat().some((e) => e.type === 'purged')).toBe(false);
    expect(existsSync(localPath(world.volume, 'y'))).toBe(true);
  });

  it('a purge of a version delivered earlier checks the destination first, and keeps the copy it no longer holds', async () => {
    const [, purgeKept] = await stagedEarlier('kept');
    const [, purgeGone] = await stagedEarlier('gone');
    world.destination.set('gone', { key: 'gone', size: 10, etag: 'etag-gone' });
    const outcome = await executePlan(context(), planOf([purgeKept!, purgeGone!]));
    expect(outcome.purged).toEqual({ count: 1, bytes: 10 });
    expect(outcome.failures).toEqual([
      { key: 'kept', hop: 'purge', code: 'purge-unconfirmed' },
    ]);
    expect(existsSync(localPath(world.volume, 'kept'))).toBe(true);
    expect(existsSync(localPath(world.volume, 'gone'))).toBe(false);
  });
});

describe('apply, with a fake hop: a failing ledger halts the run', () => {
  it('the first staged record that fails stops both hops; no upload line, no purge, no write follows', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const plan = planOf(ordered(keys.flatMap((key) => travelling(key))));
    world.refuse = (event) => event.type === 'staged';
    await expect(executePlan(context(), plan)).rejects.toThrow('ENOSPC');
    expect(world.hops.upload!.sent).toEqual([]);
    // One write failed and nothing was written after it: not a failure record, not a purge.
    const failedWrite = world.writes.findIndex((batch) => batch.some((e) => e.type === 'staged'));
    expect(failedWrite).not.toBe(-1);
    expect(world.writes.slice(failedWrite + 1)).toEqual([]);
    expect(world.hops.download!.killed).toBe(true);
    expect(world.journal.filter((e) => e.startsWith('record'))).toEqual([]);
  });
});

describe("apply, with a fake hop: the operator's stop", () => {
  it('an object in flight when the operator stops the transfers is recorded as stopped, not as a failure of s5cmd', async () => {
    const stop = new AbortController();
    world.onSend = (hop) => {
      if (hop === 'upload') stop.abort();
    };
    world.lineResult = (hop) => (hop === 'upload' ? 'unreported' : { ok: true });
    const outcome = await executePlan({ ...context(), signal: stop.signal }, planOf(ordered(travelling('cut'))));
    expect(outcome.downloaded.count).toBe(1);
    expect(outcome.failures).toEqual([{ key: 'cut', hop: 'upload', code: 'stopped' }]);
    const failed = world.writes.flat().filter((e) => e.type === 'failed');
    expect(failed).toEqual([expect.objectContaining({ key: 'cut', hop: 'upload', failure: { code: 'stopped' } })]);
  });

  it('without the stop, the same unfinished line is s5cmd ending without it', async () => {
    world.lineResult = (hop) => (hop === 'upload' ? 'unreported' : { ok: true });
    const outcome = await executePlan(context(), planOf(ordered(travelling('lost'))));
    expect(outcome.failures).toEqual([{ key: 'lost', hop: 'upload', code: 's5cmd-exited', exitCode: 0 }]);
  });
});
