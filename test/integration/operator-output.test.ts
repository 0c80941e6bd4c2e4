/**
 * What an operator reads: refusals, --json failures, watch and apply summaries, against real
 * MinIO servers and the real s5cmd.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite } from './site.ts';

const pair = useMinioPair();

function objects(count: number, tag = 'v1'): { key: string; body: string }[] {
  return Array.from({ length: count }, (_, i) => ({ key: `logs/day-${i % 4}/file-${String(i).padStart(3, '0')}.txt`, body: `${tag}:${i}:`.repeat(20) }));
}

describe('a stale saved plan', () => {
  it('is refused with a summary and the fresh-plan step; the long diff only with --diff', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, objects(30));
    const planPath = join(site.dir, 'plan.json');
    expect((await site.cli('plan', '--out', planPath)).exitCode).toBe(0);
    // The world moves: everything is applied by another run (as after a power cut mid-apply).
    expect((await site.cli('apply', '--auto-approve')).exitCode).toBe(0);

    const refused = await site.cli('apply', planPath);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^Error \[E_PLAN_STALE\]: the plan .* is stale/m);
    expect(refused.stderr).toContain('download.s5cmd: 30 commands no longer planned, 0 new');
    expect(refused.stderr).toMatch(/\(the diff has \d+ lines: `dualsync apply --diff .*plan\.json` shows it\)/);
    expect(refused.stderr).toContain('Hint: make a fresh plan: `dualsync plan --out');
    expect(refused.stderr.split('\n').length).toBeLessThan(15);
    expect(refused.stderr).not.toMatch(/^\s*-cp /m);

    const withDiff = await site.cli('apply', '--diff', planPath);
    expect(withDiff.exitCode).toBe(1);
    expect(withDiff.stderr).toMatch(/^\s*-cp .*file-029\.txt/m);
  });
});

describe('--json on failure', () => {
  it('plan --json on a missing bucket writes one JSON error object with E_S3_NO_BUCKET', async () => {
    const site = await makeSite(pair);
    const { writeFile, readFile } = await import('node:fs/promises');
    const text = await readFile(site.configPath, 'utf8');
    await writeFile(site.configPath, text.replace(`bucket: ${site.sourceBucket}`, 'bucket: no-such-bucket-here'));
    const result = await site.cli('plan', '--json');
    expect(result.exitCode).toBe(1);
    const parsed = JSON.parse(result.stdout) as { error: { code: string; message: string; hint?: string } };
    expect(parsed.error.code).toBe('E_S3_NO_BUCKET');
    expect(parsed.error.message).toContain('no-such-bucket-here');
    expect(result.stderr).toMatch(/^Error \[E_S3_NO_BUCKET\]: /m);
  });
});

describe('watch output', () => {
  it('one line per cycle that moved something, counted per hop; one "in sync" line, then quiet', async () => {
    const site = await makeSite(pair);
    await putObjects(pair.edge, site.sourceBucket, objects(20));
    const child = site.spawn('watch', '--interval', '1s');
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      for (let i = 0; i < 600 && !stdout.includes('in sync'); i++) await new Promise((r) => setTimeout(r, 100));
      // Three more idle cycles at 1 s each.
      await new Promise((r) => setTimeout(r, 3500));
    } finally {
      child.kill('SIGTERM');
    }
    const ended = await child;
    expect(ended.exitCode, stdout + String(ended.stderr)).toBe(0);
    const cycles = stdout.split('\n').filter((line) => / cycle \d+: /.test(line));
    expect(cycles[0], stdout).toMatch(/cycle 1: 20 downloaded \(.*\), 20 delivered \(.*\), 20 purged\.$/);
    expect(stdout.match(/in sync/g), stdout).toHaveLength(1);
    expect(stdout).not.toMatch(/Apply complete!|(?<!\d)0 downloaded|change\(s\)/);
  });
});
