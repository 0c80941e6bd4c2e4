import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/**
 * `dualsync init --systemd` run as an operator runs it: through the symlink `npm link` puts on the
 * PATH. The unit must start the launcher by its real path (the symlink's target), with the Node
 * that ran the command first on the PATH, and name the config by its absolute path.
 */
const LAUNCHER = resolve('bin/dualsync');
const PROJECT_NODE = resolve('node_modules/node/bin/node');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-systemd-'));
  await mkdir(join(dir, 'bin'));
  await symlink(LAUNCHER, join(dir, 'bin', 'dualsync'));
  await mkdir(join(dir, 'site', 'state'), { recursive: true });
  await mkdir(join(dir, 'site', 'volume-01'));
  const hop = (bucket: string) => [`  bucket: ${bucket}`, '  region: us-east-1', '  endpoint: http://127.0.0.1:9', '  credentials:', '    accessKeyId: ${KEY_ID}', '    secretAccessKey: ${SECRET}'];
  await writeFile(
    join(dir, 'site', 'sync.yaml'),
    ['version: 1', 'source:', ...hop('field'), 'destination:', ...hop('archive'), 'staging:', '  volumes: ["./volume-*"]', 'stateDir: ./state', ''].join('\n'),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(PROJECT_NODE, [join(dir, 'bin', 'dualsync'), ...args], { cwd: join(dir, 'site'), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

describe('dualsync init --systemd', () => {
  it("prints a unit for the config: the launcher's real path, the config's absolute path, its folders writable", async () => {
    const envFile = join(dir, 'dualsync.env');
    await writeFile(envFile, 'KEY_ID=a\nSECRET=b\n');
    await chmod(envFile, 0o600);
    const result = await run(['init', '--systemd', '--environment-file', envFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const unit = result.stdout;
    expect(unit).toContain(`\nExecStart=${LAUNCHER} watch -c ${join(dir, 'site', 'sync.yaml')}\n`);
    expect(unit).toContain(`\nEnvironment=PATH=${resolve('node_modules/node/bin')}:`);
    expect(unit).toContain(`\nWorkingDirectory=${join(dir, 'site')}\n`);
    expect(unit).toContain(`\nUser=${userInfo().username}\n`);
    expect(unit).toContain(`\nEnvironmentFile=${envFile}\n`);
    // The state directory is inside the volumes' folder: one entry covers both.
    expect(unit).toContain(`\nReadWritePaths=${join(dir, 'site')}\n`);
    expect(unit).toContain('\nKillMode=mixed\n');
  });

  it('warns when the environment file is readable by others, and writes to --out without overwriting', async () => {
    const envFile = join(dir, 'dualsync.env');
    await writeFile(envFile, 'KEY_ID=a\nSECRET=b\n');
    await chmod(envFile, 0o644);
    const out = join(dir, 'dualsync.service');
    const result = await run(['init', '--systemd', '--environment-file', envFile, '--user', 'dualsync', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Wrote ${out}: dualsync watch -c ${join(dir, 'site', 'sync.yaml')}, started as ${LAUNCHER}`);
    expect(result.stderr).toContain(`Warning: ${envFile} is readable by every user (mode 0644) and holds the secrets: chmod 600 ${envFile}`);
    expect(await readFile(out, 'utf8')).toContain('\nUser=dualsync\n');
    const again = await run(['init', '--systemd', '--environment-file', envFile, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
  });

  it('warns about a missing environment file and a --stop-timeout systemd cannot read is refused', async () => {
    const missing = await run(['init', '--systemd', '--environment-file', join(dir, 'nope.env')]);
    expect(missing.code, missing.stderr).toBe(0);
    expect(missing.stderr).toContain(`Warning: ${join(dir, 'nope.env')} does not exist yet`);
    const bad = await run(['init', '--systemd', '--stop-timeout', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--stop-timeout soon');
  });
});
