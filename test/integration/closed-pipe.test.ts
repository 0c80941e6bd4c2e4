/**
 * A reader that closes the pipe early (`dualsync report | head -1`) ends the command quietly, as
 * it ends `cat` or `git log`: no message on stderr, and the exit status a shell shows for a
 * writer stopped by SIGPIPE (141), never 0 (for `check`, 0 means "safe to return the device",
 * a verdict that was never reached) and never an "Internal error".
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, putObjects, tempDir, useMinioPair } from '../harness/index.ts';
import { fillLedger } from '../harness/ledger.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();
afterAll(cleanup);

const repoRoot = new URL('../..', import.meta.url).pathname;
/** The status a shell reports for a writer ended by SIGPIPE: 128 + 13. */
const CLOSED_PIPE = 141;

/**
 * Runs `bin/dualsync ARGS -c CONFIG` with its stdout on a FIFO whose only reader has already
 * gone: its first write to stdout fails with EPIPE, whatever the timing.
 */
async function runIntoClosedPipe(site: Site, args: string[], stderrToo = false): Promise<{ exitCode: number | undefined; signal: string | undefined; stderr: string }> {
  const fifo = join(await tempDir('closed-pipe-'), 'out');
  await execa('mkfifo', [fifo]);
  // A FIFO opens for writing only while a reader holds it: open one, open the writer, drop the reader.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  closeSync(reader);
  try {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/dualsync'), ...args, '-c', site.configPath], { env: site.env, stdio: ['ignore', writer, stderrToo ? writer : 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { exitCode: code ?? undefined, signal: signal ?? undefined, stderr };
  } finally {
    closeSync(writer);
  }
}

describe('a reader that closes the pipe', () => {
  it('`report --format csv | head -1` on 20k rows: one line read, nothing on stderr, exit 141', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await fillLedger(site.stateDir, 20_000);
    const script = `"$@" | head -1; echo "status \${PIPESTATUS[0]}" >&2`;
    const result = await execa('bash', ['-c', script, 'bash', process.execPath, join(repoRoot, 'bin/dualsync'), 'report', '--format', 'csv', '-c', site.configPath], {
      env: site.env as Record<string, string>,
      extendEnv: false,
      reject: false,
    });
    expect(String(result.stdout)).toBe('key,size,sourceEtag,localMd5,destinationEtag,stage,verifiedBy,adoptedBy,volume,stagedAt,deliveredAt,purgedAt,attempts,lastError,skipReason');
    expect(String(result.stderr)).toBe(`status ${CLOSED_PIPE}`);
  });

  it('report, report --verify, check, check --json, plan --json, status --json into a closed pipe: each ends quietly with 141', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, Array.from({ length: 50 }, (_, i) => ({ key: `cam/frame-${String(i).padStart(4, '0')}.jpg`, body: `frame ${i}\n` })));
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode, applied.stderr).toBe(0);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'cam/late.jpg', body: 'late\n' }]);
    for (const args of [['report'], ['report', '--format', 'jsonl'], ['report', '--verify'], ['check'], ['check', '--json'], ['plan', '--json'], ['status', '--json']]) {
      const result = await runIntoClosedPipe(site, args);
      expect({ args, exitCode: result.exitCode, signal: result.signal, stderr: result.stderr }).toEqual({ args, exitCode: CLOSED_PIPE, signal: undefined, stderr: '' });
    }
    // Nothing the closed pipe stopped left the site changed: the late object is still the only change.
    const plan = await site.cli('plan', '--detailed-exitcode');
    expect(plan.exitCode, plan.stdout + plan.stderr).toBe(2);
    expect(plan.stdout).toMatch(/cam\/late\.jpg/);
    const verified = await site.cli('report', '--verify');
    expect(verified.exitCode, verified.stdout).toBe(0);
  });

  it('watch whose stdout closes (journald gone): exit 141 with one line on stderr naming the cause; with --log-format json, a JSON line', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    // In sync from the start: the first cycle moves nothing, so its line is the first output.
    const human = await runIntoClosedPipe(site, ['watch', '--interval', '1s']);
    expect({ exitCode: human.exitCode, signal: human.signal }).toEqual({ exitCode: CLOSED_PIPE, signal: undefined });
    expect(human.stderr).toMatch(/^dualsync: watch stopped: its standard output was closed \(EPIPE\)[^\n]*\n$/);
    const json = await runIntoClosedPipe(site, ['watch', '--interval', '1s', '--log-format', 'json']);
    expect(json.exitCode).toBe(CLOSED_PIPE);
    const lines = json.stderr.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(event).toMatchObject({ level: 'error', event: 'watch_stopped', reason: 'stdout_closed', code: 'EPIPE' });
    expect(Number.isNaN(Date.parse(String(event.ts)))).toBe(false);
    expect(String(event.message)).toContain('standard output was closed');
    // journald takes both streams through one socket: with stderr gone too, the status alone says it.
    const both = await runIntoClosedPipe(site, ['watch', '--interval', '1s'], true);
    expect({ exitCode: both.exitCode, signal: both.signal }).toEqual({ exitCode: CLOSED_PIPE, signal: undefined });
  });

  it('check --combined FILE into a closed pipe: the file holds every line, whole, before the summary fails to print', async () => {
    const site = await makeSite(pair, { volumes: 1 });
    await putObjects(pair.edge, site.sourceBucket, Array.from({ length: 20 }, (_, i) => ({ key: `k-${String(i).padStart(3, '0')}`, body: `${i}` })));
    const combined = join(site.dir, 'combined.txt');
    const result = await runIntoClosedPipe(site, ['check', '--combined', combined]);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: CLOSED_PIPE, stderr: '' });
    const lines = (await readFile(combined, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toEqual(Array.from({ length: 20 }, (_, i) => `- k-${String(i).padStart(3, '0')}`));
  });
});
