import { describe, expect, it } from 'vitest';
import { Batcher, forEachLimited } from '../../src/apply/batch.ts';

describe('Batcher', () => {
  it('hands over a batch as soon as it is full', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number>(async (items) => void batches.push(items), { maxItems: 3, maxDelayMs: 60_000 });
    for (let i = 1; i <= 7; i++) batcher.add(i);
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6]]);
    await batcher.drain();
    expect(batches).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('hands over a partial batch after the delay', async () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string>(async (items) => void batches.push(items), { maxItems: 100, maxDelayMs: 20 });
    batcher.add('a');
    batcher.add('b');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(batches).toEqual([['a', 'b']]);
    await batcher.drain();
    expect(batches).toEqual([['a', 'b']]);
  });

  it('drain waits for batches still being handled', async () => {
    let done = false;
    const batcher = new Batcher<number>(async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      done = true;
    }, { maxItems: 1, maxDelayMs: 1000 });
    batcher.add(1);
    await batcher.drain();
    expect(done).toBe(true);
  });
});

describe('forEachLimited', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(item);
      running--;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });
});
