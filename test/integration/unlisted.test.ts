/**
 * "Delivered means listed" (DESIGN.md, Verification) against real MinIO, which accepts a PUT of
 * `coll/a/b` while `coll/a` is an object but never lists it (its "conflicting objects": LIST
 * skips the collision, GET and HEAD still answer). Such an upload is a failure with its reason,
 * whatever the size of the read-back batch, so the object is never recorded as delivered, never
 * purged, and never downloaded again; only its staged copy is uploaded again on the next run.
 */
import { describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { putObjects, useMinioPair } from '../harness/index.ts';
import { makeSite, type Site } from './site.ts';

const pair = useMinioPair();

interface ApplyJson {
  downloaded: { count: number };
  uploaded: { count: number };
  purged: { count: number };
  failures: { key: string; hop: string; code: string; cause?: string }[];
}

interface StatusJson {
  stages: Record<'staged' | 'delivered' | 'purged', { objects: number }>;
  failing: { key: string; attempts: number; lastFailure: { code: string; hop: string } }[];
}

/** Every staged file, as volume-relative paths. */
async function stagedKeys(site: Site): Promise<string[]> {
  const keys: string[] = [];
  for (const volume of site.volumes) {
    for (const entry of await readdir(volume, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name).slice(volume.length + 1);
      if (entry.isFile() && !path.startsWith('.dualsync')) keys.push(path);
    }
  }
  return keys.sort();
}

describe('an object the destination accepts but does not list', () => {
  it('coll/a and coll/a/b: never delivered, never purged, never downloaded again; the reason names coll/a', async () => {
    // A MinIO source cannot list the pair either (its listing hides `coll/a/b` just the same), so
    // the pair meets at the destination: `coll/a` is there already (delivered from an earlier
    // source object, or written by someone else), `coll/a/b` comes from the source.
    const site = await makeSite(pair, { volumes: 2, transfer: ['purgeAfterUpload: true'] });
    await putObjects(pair.cloud, site.destinationBucket, [{ key: 'coll/a', body: 'the parent object' }]);
    await putObjects(pair.edge, site.sourceBucket, [{ key: 'coll/a/b', body: 'the child MinIO will not list' }]);

    // First apply: downloaded, uploaded, accepted, not listed: a failed upload that names coll/a.
    const first = await site.cli('apply', '--auto-approve', '--json');
    expect(first.exitCode, first.stdout + first.stderr).toBe(1);
    const firstOutcome = JSON.parse(first.stdout) as ApplyJson;
    expect(firstOutcome.downloaded.count).toBe(1);
    expect(firstOutcome.uploaded.count).toBe(0);
    expect(firstOutcome.purged.count).toBe(0);
    expect(firstOutcome.failures).toEqual([
      { key: 'coll/a/b', hop: 'upload', code: 'not-listed-after-put', cause: expect.stringMatching(/the object "coll\/a" is there too/) },
    ]);
    expect(await stagedKeys(site)).toEqual(['coll/a/b']);

    // Second apply: an upload batch of one key (which a HEAD used to verify): still a failure, no download, no purge.
    const second = await site.cli('apply', '--auto-approve', '--json');
    expect(second.exitCode, second.stdout + second.stderr).toBe(1);
    const secondOutcome = JSON.parse(second.stdout) as ApplyJson;
    expect(secondOutcome.downloaded.count).toBe(0);
    expect(secondOutcome.uploaded.count).toBe(0);
    expect(secondOutcome.purged.count).toBe(0);
    expect(secondOutcome.failures.map((f) => [f.key, f.hop])).toEqual([['coll/a/b', 'upload']]);
    expect(await stagedKeys(site)).toEqual(['coll/a/b']);

    // The ledger never says delivered; status shows the failure and its reason.
    const status = JSON.parse((await site.cli('status', '--json')).stdout) as StatusJson;
    expect(status.stages.delivered.objects + status.stages.purged.objects).toBe(0);
    expect(status.stages.staged.objects).toBe(1);
    expect(status.failing).toEqual([
      { key: 'coll/a/b', attempts: 2, lastFailure: { code: 'not-listed-after-put', hop: 'upload', cause: expect.stringMatching(/"coll\/a"/) }, lastFailedAt: expect.any(String), nextTryAt: expect.any(String) },
    ]);

    // Third: after two failures in a row the object backs off, so a plan moves nothing and says
    // it waits; tried now (--retry-failed), the staged copy is uploaded again (its purge waits on
    // that upload's proof). It is never downloaded again.
    const waiting = JSON.parse((await site.cli('plan', '--json')).stdout) as { actions: unknown[]; summary: { waiting?: { count: number } } };
    expect(waiting.actions).toEqual([]);
    expect(waiting.summary.waiting?.count).toBe(1);
    const plan = JSON.parse((await site.cli('plan', '--json', '--retry-failed')).stdout) as { actions: { kind: string; key: string }[] };
    expect(plan.actions.map((a) => [a.kind, a.key])).toEqual([
      ['upload', 'coll/a/b'],
      ['purge', 'coll/a/b'],
    ]);
  });
});
