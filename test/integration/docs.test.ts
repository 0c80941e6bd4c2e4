/**
 * The guides run as printed. Every line of the ```sh blocks of README.md's "Using it" and of
 * docs/operations.md is run by `bash -c`, exactly as written (its comment included), in a temp
 * folder, with `dualsync` on the PATH as `npm link` puts it (a symlink to bin/dualsync) and the
 * two local MinIO servers of the harness standing in for the source and the destination. Each
 * must exit 0. A line that cannot run here is handled by one of the RULES below, by name, never
 * silently; each rule must still match a line, so that none outlives the docs it was written for.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBucket, md5OfBucket, putObjects, requireTools, tempDir, useMinioPair, type MinioServer } from '../harness/index.ts';

const pair = useMinioPair();
const REPO = resolve(new URL('../..', import.meta.url).pathname);

type Handling =
  /** Not run; the reason is printed in the test's name. */
  | 'skip'
  /** The operator's edit of sync.yaml: the test writes a config for the local MinIO servers. */
  | 'write-config'
  /** Runs until it prints "in sync", then gets Ctrl-C (SIGINT to its process group): exit 0. */
  | 'until-in-sync'
  /** Runs on a pseudo-terminal (script(1)) and is answered "yes". */
  | 'answer-yes'
  /** Runs in a folder of its own that holds the old scripts' config as transfer_v5/config.yaml. */
  | 'legacy-folder'
  /** Reads the ledger: when a reset moved it to a backup just before, an apply makes a new one first. */
  | 'with-ledger';

interface Rule {
  match: RegExp;
  handling: Handling;
  why: string;
}

/** The visible list of lines that are not run plainly, and why. */
const RULES: Rule[] = [
  { match: /^(git|npm) /, handling: 'skip', why: 'sets up the checkout; the test runs inside one' },
  { match: /^(sudo |lsblk\b)|volumes provision/, handling: 'skip', why: 'needs real, empty disks (and root for --apply)' },
  { match: /^# edit sync\.yaml/, handling: 'write-config', why: 'the operator edits the starter for the site' },
  { match: /^dualsync watch\b/, handling: 'until-in-sync', why: 'watch runs until it is stopped' },
  { match: /^dualsync (reset(?!.*--yes)|apply\s*(#|$))/, handling: 'answer-yes', why: 'asks for "yes" on a terminal' },
  { match: /^dualsync import-legacy /, handling: 'legacy-folder', why: 'converts the transfer_v5 config it is given' },
  { match: /^sqlite3 /, handling: 'with-ledger', why: 'reads .dualsync/ledger.db, which the reset that ends section 9 moved to a backup' },
];

interface DocLine {
  file: string;
  line: number;
  text: string;
}

/** The lines of the ```sh blocks of `file`, or of those under `heading` only. */
async function shLines(file: string, heading?: string): Promise<DocLine[]> {
  const text = await readFile(join(REPO, file), 'utf8');
  const lines = text.split('\n');
  const out: DocLine[] = [];
  let section = '';
  let inSh = false;
  let inOther = false;
  lines.forEach((raw, index) => {
    if (!inSh && !inOther && raw.startsWith('## ')) section = raw.slice(3).trim();
    if (raw.startsWith('```')) {
      if (inSh || inOther) {
        inSh = false;
        inOther = false;
      } else if (raw.trim() === '```sh') {
        inSh = true;
      } else {
        inOther = true;
      }
      return;
    }
    if (!inSh || (heading !== undefined && section !== heading)) return;
    const trimmed = raw.trim();
    // A line that is only a comment continues the one above, unless a rule names it.
    if (trimmed === '' || (trimmed.startsWith('#') && !RULES.some((r) => r.match.test(trimmed)))) return;
    out.push({ file, line: index + 1, text: trimmed });
  });
  return out;
}

const used = new Set<Rule>();
function ruleFor(line: string): Rule | undefined {
  const rule = RULES.find((r) => r.match.test(line));
  if (rule) used.add(rule);
  return rule;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Site {
  dir: string;
  env: Record<string, string>;
  source: string;
  destination: string;
}

/** A folder with `dualsync` on the PATH and the servers' keys in the environment. */
async function makeSite(): Promise<Site> {
  const dir = await tempDir('dualsync-docs-');
  const bin = join(dir, '.bin');
  await mkdir(bin);
  await symlink(join(REPO, 'bin/dualsync'), join(bin, 'dualsync'));
  const [source, destination] = await Promise.all([createBucket(pair.edge), createBucket(pair.cloud)]);
  await putObjects(
    pair.edge,
    source,
    Array.from({ length: 12 }, (_, i) => ({ key: `site-7/day-${i % 3}/sensor ${i}.csv`, body: `reading ${i}\n`.repeat(40 + i) })),
  );
  const env: Record<string, string> = {
    PATH: `${bin}:${dirname(requireTools().s5cmd)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: dir,
    EDGE_ACCESS_KEY_ID: pair.edge.accessKeyId,
    EDGE_SECRET_ACCESS_KEY: pair.edge.secretAccessKey,
    ARCHIVE_ACCESS_KEY_ID: pair.cloud.accessKeyId,
    ARCHIVE_SECRET_ACCESS_KEY: pair.cloud.secretAccessKey,
  };
  return { dir, env, source, destination };
}

/** The operator's sync.yaml for this site: the two local servers, two volume folders beside it. */
async function writeConfig(site: Site): Promise<void> {
  const hop = (server: MinioServer, bucket: string, prefix: string, variables: string) => [
    `  bucket: ${bucket}`,
    `  prefix: "${prefix}"`,
    `  region: ${server.region}`,
    `  endpoint: ${server.endpoint}`,
    '  credentials:',
    `    accessKeyId: \${${variables}_ACCESS_KEY_ID}`,
    `    secretAccessKey: \${${variables}_SECRET_ACCESS_KEY}`,
  ];
  for (const volume of ['volume-01', 'volume-02']) await mkdir(join(site.dir, volume), { recursive: true });
  await writeFile(
    join(site.dir, 'sync.yaml'),
    [
      'version: 1',
      'source:',
      ...hop(pair.edge, site.source, 'site-7/', 'EDGE'),
      'destination:',
      ...hop(pair.cloud, site.destination, 'site-7/', 'ARCHIVE'),
      'staging:',
      '  volumes: ["./volume-*"]',
      '  reserve: 0%',
      'transfer:',
      '  workers: 16',
      'watch:',
      '  interval: 1s',
      '',
    ].join('\n'),
  );
}

function run(command: string, argv: string[], site: Site, options: { cwd?: string; input?: string; untilOutput?: RegExp } = {}): Promise<Ran> {
  const child = spawn(command, argv, { cwd: options.cwd ?? site.dir, env: site.env, detached: options.untilOutput !== undefined });
  let stdout = '';
  let stderr = '';
  let stopped = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (options.untilOutput?.test(stdout) && !stopped) {
      stopped = true;
      // Ctrl-C on a terminal: SIGINT to the whole foreground process group.
      process.kill(-child.pid!, 'SIGINT');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A command that reads no input may be gone before its input is written: not an error of the test.
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input ?? '');
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

/** Runs one line of the docs as printed, by its rule if one names it. */
async function runLine(line: DocLine, site: Site): Promise<{ ran: boolean; result?: Ran }> {
  const rule = ruleFor(line.text);
  switch (rule?.handling) {
    case 'skip':
      return { ran: false };
    case 'write-config':
      await writeConfig(site);
      return { ran: false };
    case 'until-in-sync':
      // bash runs a lone command in place of itself, so Ctrl-C reaches dualsync as on a terminal,
      // not a non-interactive shell that would die of it first.
      return { ran: true, result: await run('bash', ['-c', line.text], site, { untilOutput: /cycle \d+: in sync/ }) };
    case 'answer-yes': {
      const result = await run('script', ['-qec', line.text, '/dev/null'], site, { input: 'yes\n' });
      // Answered, not cancelled and not refused for want of a terminal.
      expect(result.stdout, line.text).not.toMatch(/cancelled|no terminal/);
      return { ran: true, result };
    }
    case 'legacy-folder': {
      const folder = join(site.dir, 'legacy');
      await mkdir(join(folder, 'transfer_v5'), { recursive: true });
      await copyFile(join(REPO, 'fixtures/legacy/config.yaml'), join(folder, 'transfer_v5/config.yaml'));
      return { ran: true, result: await run('bash', ['-c', line.text], site, { cwd: folder }) };
    }
    case 'with-ledger': {
      if (!existsSync(join(site.dir, '.dualsync', 'ledger.db'))) {
        const made = await run('bash', ['-c', 'dualsync apply --auto-approve'], site);
        expect(made.code, `an apply to make a ledger for ${line.text}\n${made.stdout}\n${made.stderr}`).toBe(0);
      }
      return { ran: true, result: await run('bash', ['-c', line.text], site) };
    }
    default:
      return { ran: true, result: await run('bash', ['-c', line.text], site) };
  }
}

async function runAll(lines: DocLine[], site: Site): Promise<string[]> {
  const ran: string[] = [];
  for (const line of lines) {
    const { ran: didRun, result } = await runLine(line, site);
    if (!didRun || !result) continue;
    ran.push(line.text);
    const where = `${line.file}:${line.line}: ${line.text}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
    expect(result.code, where).toBe(0);
    expect(result.stderr, where).not.toMatch(/Internal error|\n\s+at /);
  }
  return ran;
}

describe('the docs, run as printed against local MinIO', () => {
  it("README.md's \"Using it\" block", async () => {
    const lines = await shLines('README.md', 'Using it');
    expect(lines.map((l) => l.text)[0]).toMatch(/^dualsync init\b/);
    const site = await makeSite();
    const ran = await runAll(lines, site);
    expect(ran.length).toBeGreaterThanOrEqual(7);
    expect(await md5OfBucket(pair.cloud, site.destination)).toEqual(await md5OfBucket(pair.edge, site.source));
  }, 600_000);

  it('docs/operations.md, every ```sh line in order (its sync.yaml written first, as section 3 says)', async () => {
    const lines = await shLines('docs/operations.md');
    const site = await makeSite();
    await writeConfig(site);
    const ran = await runAll(lines, site);
    expect(ran.some((l) => l.startsWith('dualsync apply plan.json'))).toBe(true);
    expect(ran.some((l) => l.startsWith('dualsync reset --yes'))).toBe(true);
  }, 600_000);
});

afterAll(() => {
  // Every rule still matches a line of the docs: none is kept for a line that is gone.
  const unused = RULES.filter((rule) => !used.has(rule)).map((rule) => `${String(rule.match)} (${rule.why})`);
  expect(unused).toEqual([]);
});
