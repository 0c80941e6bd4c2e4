import { describe, expect, it } from 'vitest';
import { formatStallTimeout, watchForStall } from '../../src/apply/watchdog.ts';
import type { LinkSample } from '../../src/apply/link-progress.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A link sample where s5cmd has written `written` bytes and holds one socket with `sendQueue` bytes unacknowledged. */
function sample(written: number, sendQueue = 0): LinkSample {
  return { written, sockets: new Map([['4711', { sendQueue, receiveQueue: 0 }]]) };
}

/** Runs a watchdog with a 150 ms timeout for `forMs`; says whether it fired. */
async function watch(forMs: number, options: { link: () => LinkSample | undefined; busy?: () => boolean; touchEveryMs?: number }): Promise<boolean> {
  let fired = false;
  const dog = watchForStall({ timeoutMs: 150, checkEveryMs: 10, sampleLink: async () => options.link(), busy: options.busy ?? (() => true), onStall: () => (fired = true) });
  const toucher = options.touchEveryMs === undefined ? undefined : setInterval(() => dog.touch(), options.touchEveryMs);
  await sleep(forMs);
  clearInterval(toucher);
  dog.stop();
  return fired;
}

describe('watchForStall', () => {
  it('a busy hop whose link stands still is stalled (a black hole: nothing written, nothing acknowledged)', async () => {
    expect(await watch(400, { link: () => sample(1000, 4096) })).toBe(true);
  });

  it('bytes written are progress', async () => {
    let bytes = 0;
    expect(await watch(400, { link: () => sample((bytes += 10)) })).toBe(false);
  });

  it('a send queue draining with nothing written is progress (the last megabytes of a slow upload)', async () => {
    let queued = 4 * 1024 * 1024;
    expect(await watch(400, { link: () => sample(8 * 1024 * 1024, (queued -= 1000)) })).toBe(false);
  });

  it('a queue that drained and then stands still is stalled (the link died mid-tail)', async () => {
    let queued = 10_000;
    expect(await watch(600, { link: () => sample(5000, (queued = Math.max(8000, queued - 500))) })).toBe(true);
  });

  it('lines completing are progress', async () => {
    expect(await watch(400, { link: () => sample(1000), touchEveryMs: 40 })).toBe(false);
  });

  it('a hop with nothing in flight is idle, not stalled', async () => {
    expect(await watch(400, { link: () => sample(1000), busy: () => false })).toBe(false);
  });

  it('where the link cannot be read (no /proc), the hop is never stopped', async () => {
    expect(await watch(400, { link: () => undefined })).toBe(false);
  });

  it('while lines complete, the link is not read (each reading of /proc costs CPU the transfers need)', async () => {
    let samples = 0;
    // The toucher's interval is far shorter than the check's: every check finds a line completed since the one before.
    expect(await watch(400, { link: () => (samples++, sample(1000)), touchEveryMs: 1 })).toBe(false);
    expect(samples).toBeLessThanOrEqual(1);
  });

  it('once lines stop completing, a link that stands still is stalled after all', async () => {
    let samples = 0;
    let fired = false;
    const dog = watchForStall({ timeoutMs: 150, checkEveryMs: 10, sampleLink: async () => (samples++, sample(1000)), busy: () => true, onStall: () => (fired = true) });
    const toucher = setInterval(() => dog.touch(), 1);
    await sleep(200);
    clearInterval(toucher);
    const deadline = Date.now() + 5000;
    while (!fired && Date.now() < deadline) await sleep(10);
    dog.stop();
    expect(fired).toBe(true);
    expect(samples).toBeGreaterThanOrEqual(2);
  });

  it('fires once', async () => {
    let fired = 0;
    const dog = watchForStall({ timeoutMs: 50, checkEveryMs: 5, sampleLink: async () => sample(1), busy: () => true, onStall: () => fired++ });
    await sleep(300);
    dog.stop();
    expect(fired).toBe(1);
  });
});

describe('formatStallTimeout: as Go (and s5cmd) print durations', () => {
  it.each([
    [120_000, '2m0s'],
    [3_000, '3s'],
    [1_500, '1.5s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
  ])('%i ms: %s', (ms, text) => {
    expect(formatStallTimeout(ms)).toBe(text);
  });
});
