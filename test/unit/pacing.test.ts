import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseBandwidth } from '../../src/config/bandwidth.ts';
import type { HopEvents, HopRunResult, OpenHop, TransferHop } from '../../src/apply/hop.ts';
import { openPacedHop, PACED_IN_FLIGHT } from '../../src/apply/pacing.ts';
import type { Action } from '../../src/model/index.ts';
import { renderPlan } from '../../src/view/plan.ts';
import { inventory, planOf, testConfig } from '../builders.ts';

const MiB = 1024 * 1024;

/** A hop that records when each line arrives; `instant` finishes each object as it arrives. */
class RecordingHop implements TransferHop {
  readonly arrived: { key: string; size: number; atMs: number }[] = [];
  ended = false;
  stalled: string | undefined;
  readonly events: HopEvents;
  readonly #instant: boolean;
  #resolve: (result: HopRunResult) => void = () => undefined;
  readonly #done = new Promise<HopRunResult>((resolve) => (this.#resolve = resolve));

  constructor(events: HopEvents, instant: boolean) {
    this.events = events;
    this.#instant = instant;
  }

  send(_line: string, action: Action): void {
    this.arrived.push({ key: action.key, size: action.size, atMs: Date.now() });
    if (this.#instant) queueMicrotask(() => this.events.onSuccess(action));
  }

  end(): void {
    this.ended = true;
    this.#resolve({ exitCode: 0, signal: undefined, otherErrors: [] } as unknown as HopRunResult);
  }

  done(): Promise<HopRunResult> {
    return this.#done;
  }

  bytesBy(ms: number): number {
    return this.arrived.filter((a) => a.atMs <= ms).reduce((n, a) => n + a.size, 0);
  }
}

function objects(count: number, size: number): Action[] {
  return Array.from({ length: count }, (_, i) => ({ kind: 'upload', key: `k${String(i).padStart(4, '0')}`, size, etag: 'e', volume: '/v' }) as Action);
}

function open(bandwidth: string | undefined, options: { instant?: boolean; workers?: number; signal?: AbortSignal } = {}) {
  let opened: RecordingHop | undefined;
  const openHop: OpenHop = (_hop, events) => (opened = new RecordingHop(events, options.instant ?? true));
  const hop = openPacedHop(
    openHop,
    'upload',
    { onSuccess: () => undefined, onFailure: () => undefined },
    { workers: options.workers ?? 256, signal: options.signal ?? new AbortController().signal },
    { bandwidth: bandwidth === undefined ? undefined : parseBandwidth(bandwidth), now: () => new Date() },
  );
  return { hop, inner: opened! };
}

describe('admission pacing (a fake hop, a fake clock)', () => {
  let startMs: number;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date(2026, 11, 7, 11, 0, 0)); // local time: a Monday, 11:00
    startMs = Date.now();
  });
  afterEach(() => vi.useRealTimers());

  it('no limit: the hop is opened as it is and every line goes at once', () => {
    const { hop, inner } = open(undefined);
    expect(hop).toBe(inner);
  });

  it('4MiB/s: over any 10 s the hop admits the rate x 10 s, give or take one object', async () => {
    const { hop, inner } = open('4MiB/s');
    for (const action of objects(200, MiB)) hop.send(`cp ${action.key}`, action);
    hop.end();
    for (let second = 1; second <= 40; second++) await vi.advanceTimersByTimeAsync(1000);
    for (const [from, to] of [[0, 10], [5, 15], [13, 23], [30, 40]] as const) {
      const admitted = inner.bytesBy(startMs + to * 1000) - inner.bytesBy(startMs + from * 1000);
      expect(admitted, `${from}s to ${to}s`).toBeGreaterThanOrEqual(40 * MiB - MiB);
      expect(admitted, `${from}s to ${to}s`).toBeLessThanOrEqual(40 * MiB + MiB);
    }
    expect(inner.ended).toBe(false); // 200 MiB take 50 s
    await vi.advanceTimersByTimeAsync(11_000);
    expect(inner.arrived).toHaveLength(200);
    expect(inner.ended).toBe(true);
  });

  it('an object larger than a second at the rate goes, and the ones after it wait for its bytes', async () => {
    const { hop, inner } = open('1MiB/s');
    hop.send('cp big', { ...objects(1, 8 * MiB)[0]!, key: 'big' });
    for (const action of objects(3, MiB)) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.arrived.map((a) => a.key)).toEqual(['big']);
    await vi.advanceTimersByTimeAsync(7_900);
    expect(inner.arrived).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(inner.arrived).toHaveLength(2);
  });

  it('the timetable is read at each admission: limited before 12:00 local time, off from 12:00', async () => {
    vi.setSystemTime(new Date(2026, 11, 7, 11, 59, 50));
    const switchMs = new Date(2026, 11, 7, 12, 0, 0).getTime();
    const { hop, inner } = open('00:00,1MiB/s 12:00,off');
    // 4 MiB objects at 1 MiB/s: each owes the bucket 4 s.
    for (const action of objects(30, 4 * MiB)) hop.send(`cp ${action.key}`, action);
    hop.end();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(inner.bytesBy(switchMs - 1)).toBe(12 * MiB); // at 0 s, 4 s and 8 s
    // The wait before the next admission is at most a second, so the switch is seen within one.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(inner.arrived).toHaveLength(30);
    expect(inner.arrived.at(-1)!.atMs).toBeLessThanOrEqual(switchMs + 1000);
    expect(inner.ended).toBe(true);
  });

  it('a limit that starts during the run: off until 12:00, then 1MiB/s', async () => {
    vi.setSystemTime(new Date(2026, 11, 7, 11, 59, 59, 500));
    const { hop, inner } = open('00:00,off 12:00,1MiB/s');
    for (const action of objects(5, MiB)) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.arrived).toHaveLength(5); // all before the switch
    await vi.advanceTimersByTimeAsync(1000);
    for (const action of objects(10, MiB).map((a) => ({ ...a, key: `later-${a.key}` }))) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(3_500);
    expect(inner.arrived.length - 5).toBeGreaterThanOrEqual(3);
    expect(inner.arrived.length - 5).toBeLessThanOrEqual(5);
  });

  it('while limited, at most a bounded number of objects are in flight', async () => {
    const { hop, inner } = open('1GiB/s', { instant: false });
    const actions = objects(100, 1024);
    for (const action of actions) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(inner.arrived).toHaveLength(PACED_IN_FLIGHT);
    inner.events.onSuccess(actions[0]);
    inner.events.onFailure(actions[1], 'broken');
    expect(inner.arrived).toHaveLength(PACED_IN_FLIGHT + 2);
  });

  it('fewer workers than the bound: the workers are the bound', async () => {
    const { hop, inner } = open('1GiB/s', { instant: false, workers: 3 });
    for (const action of objects(10, 1024)) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(inner.arrived).toHaveLength(3);
  });

  it('a stopped hop gets the waiting lines at once (it drops them as an unpaced hop would)', async () => {
    const { hop, inner } = open('1MiB/s');
    for (const action of objects(10, MiB)) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(0);
    expect(inner.arrived).toHaveLength(1);
    inner.stalled = 'no progress for 2m';
    hop.end();
    expect(inner.arrived).toHaveLength(10);
    expect(inner.ended).toBe(true);
  });

  it('an aborted run hands the waiting lines on at once', async () => {
    const controller = new AbortController();
    const { hop, inner } = open('1MiB/s', { signal: controller.signal });
    for (const action of objects(10, MiB)) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(0);
    controller.abort();
    expect(inner.arrived).toHaveLength(10);
  });

  it('a hop that ended (s5cmd gone) admits nothing more and leaves no timer behind', async () => {
    const { hop, inner } = open('1MiB/s');
    for (const action of objects(10, MiB)) hop.send(`cp ${action.key}`, action);
    await vi.advanceTimersByTimeAsync(0);
    inner.end(); // resolves done(), as an exited s5cmd does
    await vi.advanceTimersByTimeAsync(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(inner.arrived).toHaveLength(1);
  });
});

describe('plan shows the limit in force (the hops settings and one line under the hop table)', () => {
  const config = testConfig({ destination: { bandwidth: parseBandwidth('Mon-Fri,08:00,2MiB/s 18:00,off') } });
  const planAt = (at: Date) => planOf(config, inventory().source('a.bin', MiB).build(), { now: at.getTime() });

  it('at 09:00 on a Monday: the rate of the timetable, and the timetable as written', async () => {
    const plan = await planAt(new Date(2026, 11, 7, 9, 0));
    expect(plan.hops.upload.bandwidth).toEqual({ limit: 'Mon-Fri,08:00,2MiB/s 18:00,off', bytesPerSecond: 2 * MiB });
    expect(plan.hops.download.bandwidth).toBeUndefined();
    const text = renderPlan(plan, { color: false });
    expect(text).toContain('upload bandwidth: 2 MiB/s now (destination.bandwidth "Mon-Fri,08:00,2MiB/s 18:00,off")');
    expect(text).not.toContain('download bandwidth');
  });

  it('on a Saturday: no limit now, and the timetable still shown', async () => {
    const plan = await planAt(new Date(2026, 11, 12, 9, 0));
    expect(plan.hops.upload.bandwidth).toEqual({ limit: 'Mon-Fri,08:00,2MiB/s 18:00,off' });
    expect(renderPlan(plan, { color: false })).toContain('upload bandwidth: no limit now (destination.bandwidth "Mon-Fri,08:00,2MiB/s 18:00,off")');
  });

  it('no limit: no bandwidth in the settings and no line', async () => {
    const plan = await planOf(testConfig(), inventory().source('a.bin', MiB).build(), { now: Date.now() });
    expect(plan.hops.upload).not.toHaveProperty('bandwidth');
    expect(renderPlan(plan, { color: false })).not.toContain('bandwidth');
  });
});
