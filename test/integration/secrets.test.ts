/**
 * Secrets never leave the environment (invariant 5): with distinctive secret keys in the
 * environment the config refers to, plan --out, apply, status, watch --once and validate write
 * them into no plan file, manifest, ledger, last-run file or other file of the site, and print
 * them on no stream; and while s5cmd runs (kept alive by a slow link), no process on the machine
 * has one in its command line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cleanup, putObjects, requireTools, startMinio, type MinioPair } from '../harness/index.ts';
import { startToxiproxy, type ToxiProxy, type ToxiproxyServer } from '../harness/toxiproxy.ts';
import { makeSite, type CliResult, type Site } from './site.ts';

const tag = randomBytes(6).toString('hex');
const SECRETS = {
  edge: `EDGE-SECRET-7f3a-${tag}-${randomBytes(8).toString('hex')}`,
  cloud: `CLOUD-SECRET-9b2c-${tag}-${randomBytes(8).toString('hex')}`,
};

let pair: MinioPair;
let toxiproxy: ToxiproxyServer;
let edgeProxy: ToxiProxy;
let cloudProxy: ToxiProxy;

beforeAll(async () => {
  const [edge, cloud] = await Promise.all([
    startMinio('edge', { accessKeyId: `edge-key-${tag}`, secretAccessKey: SECRETS.edge }),
    startMinio('cloud', { accessKeyId: `cloud-key-${tag}`, secretAccessKey: SECRETS.cloud }),
  ]);
  pair = { edge, cloud, stop: async () => void (await Promise.all([edge.stop(), cloud.stop()])) };
  toxiproxy = await startToxiproxy();
  edgeProxy = await toxiproxy.proxy('edge', edge.endpoint);
  cloudProxy = await toxiproxy.proxy('cloud', cloud.endpoint);
});
afterAll(async () => {
  await toxiproxy?.stop();
  await pair?.stop();
  await cleanup();
});

/** Every secret found in `text`, by name. */
function leaks(text: string): string[] {
  return Object.entries(SECRETS)
    .filter(([, secret]) => text.includes(secret))
    .map(([name]) => name);
}

function expectClean(what: string, text: string): void {
  expect(leaks(text), `a secret in ${what}`).toEqual([]);
}

function expectCleanRun(what: string, result: CliResult | { stdout: unknown; stderr: unknown }): void {
  expectClean(`${what} stdout`, String(result.stdout));
  expectClean(`${what} stderr`, String(result.stderr));
}

/** Every file under the site (config excepted: it holds ${ENV} references only, checked too). */
async function siteFiles(site: Site): Promise<string[]> {
  return (await readdir(site.dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

interface ProcessSample {
  pid: number;
  args: string[];
}

/** The command lines of every process on the machine right now. */
function commandLines(): ProcessSample[] {
  const samples: ProcessSample[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const raw = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (raw !== '') samples.push({ pid: Number(name), args: raw.split('\0').filter((arg) => arg !== '') });
    } catch {
      // ended meanwhile
    }
  }
  return samples;
}

describe('secrets stay in the environment', () => {
  it('appear in no file, no output, and no process argument while s5cmd runs', async () => {
    const s5cmdPath = requireTools().s5cmd;
    const site = await makeSite(pair, {
      sourceEndpoint: edgeProxy.endpoint,
      destinationEndpoint: cloudProxy.endpoint,
      transfer: ['workers: 4'],
    });
    expect(leaks(`--flag=${SECRETS.cloud}`), 'the detector itself').toEqual(['cloud']);
    expect(site.env.EDGE_SECRET_ACCESS_KEY).toBe(SECRETS.edge);
    expect(site.env.CLOUD_SECRET_ACCESS_KEY).toBe(SECRETS.cloud);
    await putObjects(
      pair.edge,
      site.sourceBucket,
      Array.from({ length: 12 }, (_, i) => ({ key: `secret-test/obj-${i}.bin`, body: randomBytes(256 * 1024) })),
    );

    expectCleanRun('validate', await site.cli('validate'));
    const planPath = join(site.dir, 'plans', 'plan.json');
    const planned = await site.cli('plan', '--out', planPath);
    expect(planned.exitCode, planned.stderr).toBe(0);
    expectCleanRun('plan --out', planned);
    expectCleanRun('plan --json', await site.cli('plan', '--json'));

    // Both links at 1 MB/s: each hop's s5cmd lives for seconds while its command lines are read.
    await edgeProxy.addToxic({ type: 'bandwidth', stream: 'downstream', attributes: { rate: 1000 } });
    await cloudProxy.addToxic({ type: 'bandwidth', stream: 'upstream', attributes: { rate: 1000 } });
    const seen = { download: 0, upload: 0, samples: 0, processes: 0 };
    let applied;
    try {
      const child = site.spawn('apply', planPath);
      let running = true;
      void child.finally(() => (running = false));
      while (running) {
        const lines = commandLines();
        seen.samples++;
        seen.processes += lines.length;
        for (const { pid, args } of lines) {
          expect(leaks(args.join(' ')), `a secret in the arguments of pid ${pid}: ${args[0]}`).toEqual([]);
          if (args[0] !== s5cmdPath) continue;
          if (args.includes(edgeProxy.endpoint)) seen.download++;
          if (args.includes(cloudProxy.endpoint)) seen.upload++;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      applied = await child;
    } finally {
      await edgeProxy.reset();
      await cloudProxy.reset();
    }
    expect(applied.exitCode, String(applied.stdout) + String(applied.stderr)).toBe(0);
    expectCleanRun('apply', applied);
    // The check above looked at live s5cmd processes of both hops, not at an empty machine.
    expect(seen.download, 'samples with the download s5cmd running').toBeGreaterThan(3);
    expect(seen.upload, 'samples with the upload s5cmd running').toBeGreaterThan(3);

    expectCleanRun('status', await site.cli('status'));
    expectCleanRun('status --json', await site.cli('status', '--json'));
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'secret-test/late.bin', body: randomBytes(1024) }]);
    const watched = await site.cli('watch', '--once');
    expect(watched.exitCode, watched.stdout + watched.stderr).toBe(0);
    expectCleanRun('watch --once', watched);

    const files = await siteFiles(site);
    for (const name of ['plan.json', 'plan.download.s5cmd', 'plan.upload.s5cmd']) expect(files).toContain(join(site.dir, 'plans', name));
    for (const name of ['ledger.db', 'last-run.json']) expect(files).toContain(join(site.stateDir, name));
    for (const file of files) expectClean(file, await readFile(file, 'latin1'));
    console.log(
      `secrets: ${files.length} files and 8 commands' output clean; ${seen.samples} samples of ${Math.round(seen.processes / seen.samples)} process command lines ` +
        `(${seen.download} with the download s5cmd running, ${seen.upload} with the upload s5cmd), none with a secret`,
    );
  });

  it('a wrong secret is not echoed when the server refuses it', async () => {
    const site = await makeSite(pair);
    const wrong = `WRONG-SECRET-${randomBytes(12).toString('hex')}`;
    site.env.CLOUD_SECRET_ACCESS_KEY = wrong;
    const applied = await site.cli('apply', '--auto-approve');
    expect(applied.exitCode).toBe(1);
    expect(applied.stderr).toMatch(/credentials/);
    expect(applied.stdout + applied.stderr).not.toContain(wrong);
    // An inline secret in the file is warned about and still never printed.
    const text = (await readFile(site.configPath, 'utf8')).replace('${CLOUD_SECRET_ACCESS_KEY}', wrong);
    await writeFile(site.configPath, text);
    const validated = await site.cli('validate');
    expect(validated.stderr).toMatch(/inline secret/);
    expect(validated.stdout + validated.stderr).not.toContain(wrong);
    const status = await site.cli('status');
    expect(status.stdout + status.stderr).not.toContain(wrong);
  });
});
