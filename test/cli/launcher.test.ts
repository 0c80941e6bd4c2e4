import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * bin/dualsync as `npm link` leaves it: a symlink on the PATH, run from any folder, by whatever
 * Node the machine has. An older Node is simulated by a preload that rewrites
 * process.versions.node, so the test does not depend on which Nodes the machine has.
 */
const LAUNCHER = resolve('bin/dualsync');
const PROJECT_NODE = resolve('node_modules/node/bin/node');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-launcher-'));
  await symlink(LAUNCHER, join(dir, 'dualsync'));
  await writeFile(join(dir, 'old-node.mjs'), "Object.defineProperty(process.versions, 'node', { value: '20.20.2' });\n");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], options: { old?: boolean; env?: Record<string, string>; onStart?: (pid: number) => void } = {}): Promise<Run> {
  const nodeArgs = options.old ? ['--import', join(dir, 'old-node.mjs')] : [];
  const child = spawn(PROJECT_NODE, [...nodeArgs, join(dir, 'dualsync'), ...args], { cwd: dir, env: { ...process.env, ...options.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (child.pid !== undefined) options.onStart?.(child.pid);
  return new Promise((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
}

describe('bin/dualsync', () => {
  it('on a recent Node, runs through a symlink from any folder', async () => {
    const result = await run(['--version']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('on an older Node, re-executes on the project Node with the same arguments, streams and exit code', async () => {
    const version = await run(['--version'], { old: true });
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);

    // A failing command: its message and exit code 1 come through, and the working folder too.
    const missing = await run(['status', '--json'], { old: true });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('config file sync.yaml does not exist');
    expect(missing.stderr).not.toContain('needs Node.js');
  });

  it('passes a signal sent to the launcher on to the command', async () => {
    // watch against an endpoint that refuses connections: it backs off and stays up until stopped.
    await writeFile(
      join(dir, 'sync.yaml'),
      [
        'version: 1',
        'source: { bucket: field-data, region: us-east-1, endpoint: "http://127.0.0.1:9", credentials: { accessKeyId: a, secretAccessKey: b } }',
        'destination: { bucket: archive, region: us-east-1, endpoint: "http://127.0.0.1:9", credentials: { accessKeyId: a, secretAccessKey: b } }',
        'staging: { volumes: ["./volume"] }',
        'stateDir: ./state',
        '',
      ].join('\n'),
    );
    await mkdir(join(dir, 'volume'));
    const child = spawn(PROJECT_NODE, ['--import', join(dir, 'old-node.mjs'), join(dir, 'dualsync'), 'watch', '--interval', '1h'], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const result = new Promise<Run>((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
    // The first cycle has failed and the loop is backing off: its signal handlers are in place.
    for (let i = 0; i < 600 && !stdout.includes('retrying in'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await hasChild(child.pid!)).toBe(true);
    child.kill('SIGTERM');
    const ended = await result;
    expect(ended.stderr).toContain('SIGTERM: finishing the current cycle');
    expect(ended).toMatchObject({ code: 0, signal: null });
  });

  it('prints --help without colour escapes when stdout is not a terminal', async () => {
    for (const args of [['--help'], ['plan', '--help']]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('dualsync');
      expect(result.stdout).not.toContain('\x1b[');
    }
  });

  it('keeps package.json "engines" equal to the minimum the launcher enforces', async () => {
    const text = await readFile(LAUNCHER, 'utf8');
    const minimum = /const MINIMUM = \[(\d+), (\d+)\];/.exec(text);
    expect(minimum).not.toBeNull();
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${minimum?.[1]}.${minimum?.[2]}`);
  });
});

async function hasChild(pid: number): Promise<boolean> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return children.trim() !== '';
}
