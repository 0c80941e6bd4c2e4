import { describe, expect, it } from 'vitest';
import { NO_TIMELINE, summariseTimeline, timelineFromEnv, type TimelineMark } from '../../src/apply/timeline.ts';

describe('apply timeline', () => {
  it('is off unless DUALSYNC_TIMELINE names a file', () => {
    expect(timelineFromEnv(undefined)).toBe(NO_TIMELINE);
    expect(timelineFromEnv({})).toBe(NO_TIMELINE);
    expect(timelineFromEnv({ DUALSYNC_TIMELINE: '' })).toBe(NO_TIMELINE);
  });

  it('summarises each step as the gap since the same object\'s previous step', () => {
    const marks: TimelineMark[] = [
      { ms: 0, step: 'download-sent', key: 'a' },
      { ms: 10, step: 'download-reported', key: 'a' },
      { ms: 0, step: 'download-sent', key: 'b' },
      { ms: 30, step: 'download-reported', key: 'b' },
      // b skipped verification marks: its gap to upload-sent is from download-reported
      { ms: 50, step: 'upload-sent', key: 'b' },
      { ms: 14, step: 'upload-sent', key: 'a' },
    ];
    expect(summariseTimeline(marks)).toEqual([
      { step: 'download-reported', objects: 2, medianMs: 30, p90Ms: 30 },
      { step: 'upload-sent', objects: 2, medianMs: 20, p90Ms: 20 },
    ]);
  });
});
