import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIELDS_THE_PLAN_SKIPS } from '../../src/ledger/queries.ts';
import { LedgerStore } from '../../src/ledger/store.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import type { LedgerRecord } from '../../src/model/objects.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

describe("the plan's read of the ledger: only the fields the planner reads", () => {
  it('the same records as the full read, less the skipped fields, in key order, from one snapshot', async () => {
    const store = await LedgerStore.open(await tempDir('plan-ledger-'));
    try {
      const events: LedgerEvent[] = [];
      for (let i = 0; i < 50; i++) {
        const key = `k/${(i * 37) % 50}/\u{1F600}`;
        events.push({ type: 'staged', key, size: i, etag: `e${i}`, volume: '/vol/1', verifiedBy: 'size+local-md5', md5: 'a'.repeat(32), etagComparable: i % 2 === 0 });
        if (i % 3 !== 0) events.push({ type: 'delivered', key, size: i, etag: `e${i}`, verifiedBy: 'size', adopted: i % 5 === 0, ...(i % 5 === 0 ? { adoptedBy: 'size' as const } : {}) });
        if (i % 3 === 1) events.push({ type: 'purged', key, size: i, etag: `e${i}` });
        if (i % 7 === 0) events.push({ type: 'failed', key: `f/${i}`, size: i, etag: 'x', hop: 'download', failure: { code: 's5cmd-error', cause: 'timeout' } });
      }
      await store.append(events);
      const full = [...store.snapshot().records];
      const forPlan = [...store.snapshot({ forPlan: true }).records];
      const skipped = new Set<string>(FIELDS_THE_PLAN_SKIPS);
      const without = (record: LedgerRecord): Partial<LedgerRecord> => Object.fromEntries(Object.entries(record).filter(([field]) => !skipped.has(field)));
      expect(forPlan).toHaveLength(full.length);
      expect(forPlan).toEqual(full.map(without));
      // The fields left out were there to leave out: the test would pass by accident otherwise.
      for (const field of FIELDS_THE_PLAN_SKIPS) expect(full.some((record) => record[field] !== undefined), field).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('no module of the planner reads a field the plan does not read from the ledger', () => {
    const folder = new URL('../../src/plan/', import.meta.url).pathname;
    for (const name of readdirSync(folder).filter((file) => file.endsWith('.ts'))) {
      const text = readFileSync(join(folder, name), 'utf8');
      for (const field of FIELDS_THE_PLAN_SKIPS) expect(new RegExp(`\\b${field}\\b`).test(text), `src/plan/${name} names ${field}`).toBe(false);
    }
  });
});
