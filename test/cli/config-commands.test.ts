import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers.ts';

const SECRETS = ['AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AKIAI44QH8DHBEXAMPLE', 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY'];
const SCHEMA = resolve('schemas/sync.schema.json');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dualsync-cli-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dualsync init', () => {
  it('writes a starter that validates once its volume, certificate and variables exist', async () => {
    const target = join(dir, 'sync.yaml');
    const init = await runCli(['init', '--out', target]);
    expect(init.exitCode).toBe(0);
    expect(init.stdout).toContain(`Wrote ${target}. Next:`);
    expect(init.stdout).toContain('DUALSYNC_SOURCE_ACCESS_KEY_ID and DUALSYNC_SOURCE_SECRET_ACCESS_KEY');
    const text = await readFile(target, 'utf8');
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${SCHEMA}`);

    // The starter names a Snowball certificate and /tmp/volume-*; give it a real pair here.
    await copyFile('fixtures/config/good/snowball.pem', join(dir, 'snowball.pem'));
    await mkdir(join(dir, 'staging-1'));
    await writeFile(target, text.replace('"/tmp/volume-*"', '"./staging-*"'));
    const env = { DUALSYNC_SOURCE_ACCESS_KEY_ID: 'id', DUALSYNC_SOURCE_SECRET_ACCESS_KEY: 'secret' };
    const validate = await runCli(['validate', '-c', target], { env });
    expect(validate).toMatchObject({ exitCode: 0, stderr: '' });
    expect(validate.stdout).toContain('-> 1 volume ->');
  });

  it('refuses to overwrite an existing file, and --force replaces it', async () => {
    const target = join(dir, 'sync.yaml');
    await writeFile(target, 'mine\n');
    const refused = await runCli(['init', '--out', target]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(`Error [E_INIT_EXISTS]: ${target} already exists\nHint: pass --force to replace it, or --out to write another file\n`);
    expect(await readFile(target, 'utf8')).toBe('mine\n');

    const forced = await runCli(['init', '--out', target, '--force']);
    expect(forced.exitCode).toBe(0);
    expect(await readFile(target, 'utf8')).toContain('version: 1');
  });

  it('--path, the earlier name of --out, still works but is not advertised', async () => {
    const target = join(dir, 'old-name.yaml');
    expect((await runCli(['init', '--path', target])).exitCode).toBe(0);
    expect((await stat(target)).isFile()).toBe(true);
    const help = await runCli(['init', '--help']);
    expect(help.stdout).toContain('--out');
    expect(help.stdout).not.toContain('--path');
  });

  it('writes to -c when no --out is given', async () => {
    const target = join(dir, 'site7.yaml');
    expect((await runCli(['init', '-c', target])).exitCode).toBe(0);
    expect((await stat(target)).isFile()).toBe(true);
  });

  it('a missing folder is a user error', async () => {
    const result = await runCli(['init', '--out', join(dir, 'nope', 'sync.yaml')]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('its folder does not exist');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('dualsync import-legacy', () => {
  it('converts the snake_case fixture, keeps secrets out, and lists the variables to set', async () => {
    const out = join(dir, 'sync.yaml');
    const result = await runCli(['import-legacy', 'fixtures/legacy/config.yaml', '--out', out]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`Wrote ${out} from fixtures/legacy/config.yaml.`);
    for (const line of [
      '  DUALSYNC_SOURCE_ACCESS_KEY_ID           (was src_access_key)',
      '  DUALSYNC_SOURCE_SECRET_ACCESS_KEY       (was src_secret_access_key)',
      '  DUALSYNC_DESTINATION_ACCESS_KEY_ID      (was dest_access_key)',
      '  DUALSYNC_DESTINATION_SECRET_ACCESS_KEY  (was dest_secret_access_key)',
    ]) {
      expect(result.stdout).toContain(`${line}\n`);
    }
    const written = await readFile(out, 'utf8');
    for (const secret of SECRETS) {
      expect(written).not.toContain(secret);
      expect(result.stdout + result.stderr).not.toContain(secret);
    }
    expect(written).toContain('accessKeyId: ${DUALSYNC_SOURCE_ACCESS_KEY_ID}');
    // The numbered folders are suggested as the guide and the old scripts name them.
    expect(written).toContain('e.g. "/tmp/volume-*"');
  });

  it('the converted space-separated fixture passes dualsync validate', async () => {
    // Copied so that its relative intermediary directory ("./staging") can exist.
    await copyFile('fixtures/legacy/config-spaced.yaml', join(dir, 'config.yaml'));
    await mkdir(join(dir, 'staging'));
    const out = join(dir, 'sync.yaml');
    const converted = await runCli(['import-legacy', join(dir, 'config.yaml'), '--out', out]);
    expect(converted.exitCode).toBe(0);
    expect(converted.stdout).toContain('ignored the unknown key "Log Level"');

    const env = { DUALSYNC_SOURCE_ACCESS_KEY_ID: 'id', DUALSYNC_SOURCE_SECRET_ACCESS_KEY: 'secret' };
    const validate = await runCli(['validate', '-c', out], { env });
    // An https device without its certificate: valid, with the warning that plan would stop on it.
    expect(validate.stderr.split('\n').filter(Boolean)).toEqual([expect.stringMatching(/ {2}warning: source\.endpoint: .*E_S3_TLS.*snowballEdge get-certificate/)]);
    expect(validate.stdout).toBe(`${out} is valid: source s3://field-data/sensors/ (https://192.168.1.50) -> 1 volume -> destination s3://archive/ (AWS us-east-1)\n`);
    expect(validate.exitCode).toBe(0);
  });

  it('refuses to overwrite without --force', async () => {
    const out = join(dir, 'sync.yaml');
    await writeFile(out, 'mine\n');
    const result = await runCli(['import-legacy', 'fixtures/legacy/config.yaml', '--out', out]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`Error [E_LEGACY_EXISTS]: ${out} already exists`);
    expect(await readFile(out, 'utf8')).toBe('mine\n');
    expect((await runCli(['import-legacy', 'fixtures/legacy/config.yaml', '--out', out, '--force'])).exitCode).toBe(0);
  });

  it('an unfilled legacy file writes nothing and lists what is missing', async () => {
    const out = join(dir, 'sync.yaml');
    const result = await runCli(['import-legacy', 'fixtures/legacy/unfilled.yaml', '--out', out]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Error [E_LEGACY]: fixtures/legacy/unfilled.yaml: cannot convert (5 problems)');
    expect(result.stderr).toContain('  source bucket name is missing or empty (key src_bucket_name)');
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it('a missing legacy file is a user error', async () => {
    const result = await runCli(['import-legacy', join(dir, 'none.yaml'), '--out', join(dir, 'sync.yaml')]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('no such file');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('its usage documents the accepted keys', async () => {
    const result = await runCli(['import-legacy', '--help']);
    expect(result.stdout).toContain('source_bucket_name, source_bucket');
    expect(result.stdout).toContain('max_transfer_size_local_to_destination');
  });
});
