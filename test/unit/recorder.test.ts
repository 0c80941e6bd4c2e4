import { describe, expect, it } from 'vitest';
import { Recorder } from '../../src/apply/recorder.ts';
import type { LedgerEvent } from '../../src/model/index.ts';

const event = (key: string): LedgerEvent => ({ type: 'purged', key, size: 1, etag: 'e' });

describe('recorder (group commit)', () => {
  it('events that arrive while a write is in flight share the next write, in order', async () => {
    const writes: string[][] = [];
    let release: () => void = () => {};
    const sink = {
      append: (events: LedgerEvent[]) => {
        writes.push(events.map((e) => e.key));
        return new Promise<void>((resolve) => (release = resolve));
      },
    };
    const recorder = new Recorder(sink);
    const first = recorder.record(event('a'));
    const second = recorder.record(event('b'));
    const third = recorder.record(event('c'));
    expect(writes).toEqual([['a']]);
    release();
    await first;
    expect(writes).toEqual([['a'], ['b', 'c']]);
    release();
    await Promise.all([second, third]);
  });

  it('a failed write rejects exactly the events of that batch', async () => {
    const recorder = new Recorder({ append: async () => Promise.reject(new Error('disk full')) });
    await expect(recorder.record(event('a'))).rejects.toThrow('disk full');
  });
});
