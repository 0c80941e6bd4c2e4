import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/view/progress.ts';

const MIB = 1024 * 1024;

function progressAt(): { progress: Progress; at: (ms: number) => void } {
  let now = 0;
  const progress = new Progress({ write: () => {}, tty: false, nowMs: () => now });
  return { progress, at: (ms) => (now = ms) };
}

describe('Progress ETA', () => {
  it('uploads that waited for their downloads: the ETA comes from the rate since the first upload started, not from the start', () => {
    const { progress, at } = progressAt();
    progress.start('upload', 303, 303 * MIB);
    // Nothing to upload for 4 s (downloads first), then 10 MiB/s for 2 s.
    at(4000);
    progress.sent('upload');
    for (let i = 1; i <= 20; i++) {
      at(4000 + i * 100);
      progress.done('upload', MIB);
    }
    // 283 MiB left at ~10 MiB/s: about 28 s, not the 3 minutes an average from the start gives.
    expect(progress.line()).toMatch(/ETA (2\d|3\d)s\)/);
  });

  it('a stall shows no ETA rather than an old one', () => {
    const { progress, at } = progressAt();
    progress.start('download', 10, 10 * MIB);
    for (let i = 1; i <= 5; i++) {
      at(i * 500);
      progress.done('download', MIB);
    }
    expect(progress.line()).toContain('ETA');
    at(60_000);
    expect(progress.line()).not.toContain('ETA');
  });

  it('one early object gives no ETA yet', () => {
    const { progress, at } = progressAt();
    progress.start('download', 100, 100 * MIB);
    at(200);
    progress.done('download', MIB);
    at(300);
    expect(progress.line()).not.toContain('ETA');
  });
});

describe('Progress rate', () => {
  it('a short burst shows no rate: 30 small uploads done in 5 ms after their first transfer started 0.3 s earlier', () => {
    const { progress, at } = progressAt();
    progress.start('upload', 30, 30 * 109 * 1024);
    at(4000);
    progress.sent('upload');
    for (let i = 0; i < 30; i++) {
      at(4300 + i / 6);
      progress.done('upload', 109 * 1024);
    }
    const line = progress.line();
    expect(line).toMatch(/^upload 30\/30 \(3\.2 MiB\/3\.2 MiB\)$/);
  });

  it('is measured over the hop\'s own time since its first transfer started, not since the first completion', () => {
    const { progress, at } = progressAt();
    progress.start('upload', 40, 40 * MIB);
    // Uploads wait 5 s for their downloads; the first starts at 5 s, the first completes at 6.9 s.
    at(5000);
    progress.sent('upload');
    for (let i = 0; i < 20; i++) {
      at(6900 + i * 5);
      progress.done('upload', MIB);
    }
    at(7000);
    // 20 MiB over the 2 s since the first transfer started: 10 MiB/s (not 200 MiB/s from 6.9 s on, nor 2.9 MiB/s from start()).
    expect(progress.line()).toMatch(/upload 20\/40 \(20 MiB\/40 MiB, 10 MiB\/s ETA 2s\)/);
  });

  it('without a sent event (a sink that does not report it) the hop\'s start is its first transfer', () => {
    const { progress, at } = progressAt();
    progress.start('download', 10, 10 * MIB);
    for (let i = 1; i <= 4; i++) {
      at(i * 500);
      progress.done('download', MIB);
    }
    expect(progress.line()).toMatch(/download 4\/10 \(4 MiB\/10 MiB, 2 MiB\/s ETA 3s\)/);
  });
});

describe('Progress off a terminal', () => {
  it('prints whole lines, never a carriage return or an erase: a log file and journald get no redraws', () => {
    let out = '';
    let now = 0;
    const progress = new Progress({ write: (text) => (out += text), tty: false, nowMs: () => now, intervalMs: 1000 });
    progress.start('download', 3, 300);
    for (let i = 0; i < 3; i++) {
      now += 600;
      progress.done('download', 100);
    }
    progress.finish();
    expect(out).not.toMatch(/[\r\x1b]/);
    expect(out.split('\n').filter(Boolean).every((line) => line.startsWith('progress: download '))).toBe(true);
  });
});
