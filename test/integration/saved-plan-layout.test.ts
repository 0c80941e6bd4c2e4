/**
 * A saved plan is JSON, and any tool that rewrites JSON faithfully keeps it the same plan: a
 * file re-indented (as `jq .` does), minified (`jq -c .`) or with every object's keys sorted
 * (`jq -S .`) applies as written. A rewrite that changes a value is still refused by the digest.
 */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listAll, md5, md5OfBucket, putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

const OBJECTS = Array.from({ length: 5 }, (_, i) => ({ key: `day-${i % 2}/obj ${i}.dat`, body: `object ${i} `.repeat(50 + i) }));

/** Every object's keys sorted, recursively, as `jq -S` writes them. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((name) => [name, sortedKeys((value as Record<string, unknown>)[name])]),
  );
}

const LAYOUTS: [string, (parsed: unknown) => string][] = [
  ['re-indented with 4 spaces (jq --indent 4 .)', (parsed) => `${JSON.stringify(parsed, null, 4)}\n`],
  ['minified on one line (jq -c .)', (parsed) => JSON.stringify(parsed)],
  ['every object with its keys sorted, tabs (jq -S --tab .)', (parsed) => `${JSON.stringify(sortedKeys(parsed), null, '\t')}\r\n`],
];

async function plannedSite(): Promise<{ site: Site; planPath: string }> {
  const site = await makeSite(pair);
  await putObjects(pair.edge, site.sourceBucket, OBJECTS);
  const planPath = join(site.dir, 'plan.json');
  const result = await site.cli('plan', '--out', planPath);
  expect(result.exitCode, result.stderr).toBe(0);
  return { site, planPath };
}

describe('apply FILE of a plan file rewritten by a JSON tool', () => {
  it.each(LAYOUTS)('%s: applies, and a second run does nothing', async (_layout, rewrite) => {
    const { site, planPath } = await plannedSite();
    await writeFile(planPath, rewrite(JSON.parse(await readFile(planPath, 'utf8'))));
    const applied = await site.cli('apply', planPath);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    expect(await md5OfBucket(pair.cloud, site.destinationBucket)).toEqual(new Map(OBJECTS.map((o) => [o.key, md5(o.body)])));
    const again = await site.cli('plan', '--detailed-exitcode');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });

  it.each(LAYOUTS)('%s with a size edited: refused as changed, nothing moves', async (_layout, rewrite) => {
    const { site, planPath } = await plannedSite();
    const parsed = JSON.parse(await readFile(planPath, 'utf8')) as { plan: { actions: { kind: string; size: number }[] } };
    const download = parsed.plan.actions.find((action) => action.kind === 'download');
    expect(download).toBeDefined();
    download!.size += 1;
    await writeFile(planPath, rewrite(parsed));
    const refused = await site.cli('apply', planPath);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stderr).toContain(`the plan file ${planPath} was changed after it was written`);
    expect(refused.stderr).not.toMatch(/^\s+at /m);
    expect(await listAll(pair.cloud, site.destinationBucket)).toEqual([]);
  });
});
