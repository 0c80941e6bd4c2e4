import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putObjects, useMinioPair } from '../harness/index.ts';
import { summariseTimeline, TIMELINE_STEPS, type TimelineMark } from '../../src/apply/timeline.ts';
import { makeSite } from './site.ts';

const pair = useMinioPair();

describe('apply timeline (DUALSYNC_TIMELINE)', () => {
  it('notes every step of every object, in order; a second plan has no changes', async () => {
    const site = await makeSite(pair, { transfer: ['purgeAfterUpload: true'] });
    const keys = Array.from({ length: 12 }, (_, i) => `t/obj ${i}.bin`);
    await putObjects(pair.edge, site.sourceBucket, keys.map((key, i) => ({ key, body: `body ${i} `.repeat(100 + i) })));
    const file = join(await mkdtemp(join(tmpdir(), 'timeline-')), 'apply.jsonl');
    site.env.DUALSYNC_TIMELINE = file;

    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);

    const marks = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as TimelineMark);
    for (const key of keys) {
      const steps = marks.filter((m) => m.key === key);
      expect(steps.map((m) => m.step), key).toEqual([...TIMELINE_STEPS]);
      const times = steps.map((m) => m.ms);
      expect(times, key).toEqual([...times].sort((a, b) => a - b));
    }
    const figures = summariseTimeline(marks);
    expect(figures.map((f) => f.step)).toEqual(TIMELINE_STEPS.slice(1));
    expect(figures.every((f) => f.objects === keys.length && f.medianMs >= 0 && f.p90Ms >= f.medianMs)).toBe(true);

    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });
});
