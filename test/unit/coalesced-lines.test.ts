import { describe, expect, it } from 'vitest';
import { CoalescedLines } from '../../src/apply/runner.ts';

describe('CoalescedLines: the lines of one turn of the event loop go to s5cmd in one write', () => {
  it('lines pushed together are written once, whole and in order', () => {
    const writes: string[] = [];
    const scheduled: (() => void)[] = [];
    const lines = new CoalescedLines((chunk) => writes.push(chunk), (flush) => scheduled.push(flush));
    lines.push('cp "s3://b/a" "/v/a"');
    lines.push('cp "s3://b/b c" "/v/b c"');
    lines.push('cp "s3://b/d" "/v/d"');
    expect(writes).toEqual([]);
    expect(scheduled).toHaveLength(1);
    scheduled[0]!();
    expect(writes).toEqual(['cp "s3://b/a" "/v/a"\ncp "s3://b/b c" "/v/b c"\ncp "s3://b/d" "/v/d"\n']);
  });

  it('a flush (the hop ending) writes what waits at once, and the scheduled one then writes nothing', () => {
    const writes: string[] = [];
    const scheduled: (() => void)[] = [];
    const lines = new CoalescedLines((chunk) => writes.push(chunk), (flush) => scheduled.push(flush));
    lines.push('one');
    lines.flush();
    scheduled[0]!();
    lines.push('two');
    expect(scheduled).toHaveLength(2);
    scheduled[1]!();
    expect(writes).toEqual(['one\n', 'two\n']);
  });

  it('with the real scheduler, lines sent in one turn arrive in one write', async () => {
    const writes: string[] = [];
    const lines = new CoalescedLines((chunk) => writes.push(chunk));
    for (let i = 0; i < 100; i++) lines.push(`line ${i}`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split('\n')).toHaveLength(101);
  });
});
