import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, tempDir } from '../harness/index.ts';

afterAll(cleanup);

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SUMMARY = /^Demo complete: (\d+) objects \((.+)\) delivered and verified; the destination is in sync\.$/m;

/**
 * Processes that belong to a demo: its folder on their command line (MinIO's data directory,
 * dualsync's -c) or as their working directory (dualsync runs there, and its s5cmd with it).
 */
function demoProcesses(demoDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (cmdline.includes(demoDir) || cwd === demoDir || cwd.startsWith(`${demoDir}/`)) found.push(`${pid}: ${cmdline.trim()}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

async function settledDemoProcesses(demoDir: string): Promise<string[]> {
  for (let i = 0; i < 50 && demoProcesses(demoDir).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 200));
  return demoProcesses(demoDir);
}

function runDemo(demoDir: string) {
  const child = spawn(process.execPath, [join(repoRoot, 'scripts/demo.ts')], {
    cwd: repoRoot,
    env: { ...process.env, DUALSYNC_DEMO_DIR: demoDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('npm run demo', () => {
  it('runs plan, apply, plan (no changes) and status against two MinIO servers, verifies every object, and leaves nothing running', async () => {
    const demoDir = await tempDir('dualsync-demo-');
    const demo = runDemo(demoDir);
    const code = await demo.exited;
    const { stdout, stderr } = demo.output();
    expect(code, stdout + stderr).toBe(0);
    const summary = SUMMARY.exec(stdout);
    expect(summary, stdout).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThanOrEqual(250);
    expect(stdout).toMatch(/==> dualsync plan --out .*plan\.json/);
    expect(stdout).toMatch(/Apply complete! \d+ downloaded/);
    expect(stdout).toMatch(/No changes\./);
    expect(stdout).toMatch(/Ledger .* \(serial \d+\)/);
    expect(stdout).toMatch(/no files left: each was purged once delivered/);
    expect(readFileSync(join(demoDir, 'plan.upload.s5cmd'), 'utf8')).toMatch(/^cp /m);
    expect(await settledDemoProcesses(demoDir)).toEqual([]);
  }, 300_000);

  it('on Ctrl-C in the middle of the apply: stops, exits 130, and leaves no MinIO, dualsync or s5cmd behind', async () => {
    const demoDir = await tempDir('dualsync-demo-');
    const demo = runDemo(demoDir);
    for (let i = 0; i < 600 && !demo.output().stdout.includes('==> dualsync apply'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(demo.output().stdout).toContain('==> dualsync apply');
    // Let the apply get going (servers, dualsync and s5cmd all running) before the interrupt.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(demoProcesses(demoDir).length).toBeGreaterThanOrEqual(3);
    demo.child.kill('SIGINT');
    const code = await demo.exited;
    expect(code, demo.output().stdout + demo.output().stderr).toBe(130);
    expect(demo.output().stderr).toMatch(/Demo interrupted \(SIGINT\): stopping\./);
    expect(demo.output().stdout).not.toMatch(SUMMARY);
    expect(await settledDemoProcesses(demoDir)).toEqual([]);
  }, 300_000);
});
