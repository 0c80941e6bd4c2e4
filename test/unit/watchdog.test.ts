import { describe, expect, it } from 'vitest';
import { formatStallTimeout, watchForStall } from '../../src/apply/watchdog.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a watchdog with a 150 ms timeout for `forMs`; says whether it fired. */
async function watch(forMs: number, options: { bytes: () => number | undefined; busy?: () => boolean; touchEveryMs?: number }): Promise<boolean> {
  let fired = false;
  const dog = watchForStall({ timeoutMs: 150, checkEveryMs: 10, bytesMoved: async () => options.bytes(), busy: options.busy ?? (() => true), onStall: () => (fired = true) });
  const toucher = options.touchEveryMs === undefined ? undefined : setInterval(() => dog.touch(), options.touchEveryMs);
  await sleep(forMs);
  clearInterval(toucher);
  dog.stop();
  return fired;
}

describe('watchForStall', () => {
  it('a busy hop whose bytes stand still is stalled', async () => {
    expect(await watch(400, { bytes: () => 1000 })).toBe(true);
  });

  it('bytes moving are progress', async () => {
    let bytes = 0;
    expect(await watch(400, { bytes: () => (bytes += 10) })).toBe(false);
  });

  it('lines completing are progress', async () => {
    expect(await watch(400, { bytes: () => 1000, touchEveryMs: 40 })).toBe(false);
  });

  it('a hop with nothing in flight is idle, not stalled', async () => {
    expect(await watch(400, { bytes: () => 1000, busy: () => false })).toBe(false);
  });

  it('where the bytes cannot be read, the hop is never stopped', async () => {
    expect(await watch(400, { bytes: () => undefined })).toBe(false);
  });

  it('fires once', async () => {
    let fired = 0;
    const dog = watchForStall({ timeoutMs: 50, checkEveryMs: 5, bytesMoved: async () => 1, busy: () => true, onStall: () => fired++ });
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
