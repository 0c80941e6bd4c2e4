import { cp, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDualsyncError } from '../../src/errors.ts';
import { emptyLedger } from '../../src/ledger/merge.ts';
import { JOURNAL_FILE, LedgerStore, SNAPSHOT_FILE } from '../../src/ledger/store.ts';
import type { LedgerEvent } from '../../src/model/ledger.ts';
import type { LedgerState } from '../../src/model/objects.ts';
import { removeTempDirs, tempDir } from '../harness/temp.ts';

afterAll(removeTempDirs);

const stagedEvent = (key: string, volume = '/vol/1'): LedgerEvent => ({ type: 'staged', key, size: 3, etag: `e-${key}`, volume, verifiedBy: 'size' });
const deliveredEvent = (key: string): LedgerEvent => ({ type: 'delivered', key, size: 3, etag: `e-${key}`, verifiedBy: 'size' });
const failedEvent = (key: string, error = 'timeout'): LedgerEvent => ({ type: 'failed', key, size: 3, etag: `e-${key}`, hop: 'download', error });

/** A mix in which applying any event twice would show: failures count up. */
function history(count: number): LedgerEvent[] {
  const events: LedgerEvent[] = [];
  for (let i = 0; i < count; i++) {
    const key = `dir ${i % 7}/obj-${i}.bin`;
    events.push(failedEvent(key), failedEvent(key, 'reset'));
    if (i % 2 === 0) events.push(stagedEvent(key));
    if (i % 4 === 0) events.push(deliveredEvent(key));
  }
  return events;
}

async function storeWith(events: LedgerEvent[], options: { compactAfter?: number } = {}): Promise<{ dir: string; state: LedgerState }> {
  const dir = await tempDir('ledger-');
  const store = await LedgerStore.open(dir, options);
  if (events.length > 0) await store.append(events);
  const state = store.state();
  await store.close();
  return { dir, state };
}

async function load(dir: string): Promise<{ state: LedgerState; warnings: string[] }> {
  const warnings: string[] = [];
  const store = await LedgerStore.open(dir, { onWarning: (message) => warnings.push(message) });
  const state = store.state();
  await store.close();
  return { state, warnings };
}

async function copyDir(from: string): Promise<string> {
  const to = await tempDir('ledger-copy-');
  await cp(from, to, { recursive: true });
  return to;
}

async function loadError(dir: string): Promise<unknown> {
  try {
    await LedgerStore.open(dir);
  } catch (error) {
    return error;
  }
  throw new Error('the ledger loaded although it should have been refused');
}

describe('LedgerStore basics', () => {
  it('a state directory that does not exist yet: empty ledger, nothing written', async () => {
    const dir = join(await tempDir('ledger-'), 'state');
    const store = await LedgerStore.open(dir);
    expect(store.state()).toEqual(emptyLedger());
    await store.close();
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
  });

  it('appended events survive a reopen, one serial per event', async () => {
    const events = history(10);
    const { dir, state } = await storeWith(events);
    expect(state.serial).toBe(events.length);
    expect((await load(dir)).state).toEqual(state);
  });

  it('state() lists records sorted by key and get() finds one', async () => {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir);
    await store.append([stagedEvent('b'), stagedEvent('a'), stagedEvent('c/ü'), stagedEvent('c/u')]);
    expect(store.state().records.map((record) => record.key)).toEqual(['a', 'b', 'c/u', 'c/ü']);
    expect(store.get('b')?.stage).toBe('staged');
    expect(store.get('nope')).toBeUndefined();
    await store.close();
  });

  it('appends issued without waiting land in call order', async () => {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir);
    await Promise.all([store.append([stagedEvent('k')]), store.append([deliveredEvent('k')]), store.append([{ type: 'purged', key: 'k', size: 3, etag: 'e-k' }])]);
    expect(store.get('k')?.stage).toBe('purged');
    await store.close();
    expect((await load(dir)).state.records[0]?.stage).toBe('purged');
  });

  it('compact: snapshot holds everything, journal empty, later appends continue the serial', async () => {
    const events = history(20);
    const { dir, state } = await storeWith(events);
    const store = await LedgerStore.open(dir);
    await store.compact();
    await store.close();
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(0);
    expect((await load(dir)).state).toEqual(state);

    const again = await LedgerStore.open(dir);
    await again.append([failedEvent('dir 0/obj-0.bin')]);
    expect(again.serial).toBe(state.serial + 1);
    await again.close();
    const reloaded = (await load(dir)).state;
    expect(reloaded.serial).toBe(state.serial + 1);
    expect(reloaded.records.find((record) => record.key === 'dir 0/obj-0.bin')?.attempts).toBe(1);
  });

  it('auto-compacts once the journal holds compactAfter events', async () => {
    const dir = await tempDir('ledger-');
    const store = await LedgerStore.open(dir, { compactAfter: 5 });
    await store.append([stagedEvent('a'), stagedEvent('b')]);
    await expect(stat(join(dir, SNAPSHOT_FILE))).rejects.toThrow(/ENOENT/);
    await store.append([deliveredEvent('a'), deliveredEvent('b'), failedEvent('c')]);
    await store.close();
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(0);
    const { state } = await load(dir);
    expect(state.serial).toBe(5);
    expect(state.records.map((record) => record.stage)).toEqual(['delivered', 'delivered', undefined]);
  });

  it('a snapshot larger than one read chunk (lines across chunk borders) loads', async () => {
    const events: LedgerEvent[] = [];
    for (let i = 0; i < 12_000; i++) events.push(stagedEvent(`deep/path/with/a/long/name/${'x'.repeat(i % 50)}/${i}`, `/volumes/${i % 3}`));
    const { dir, state } = await storeWith(events);
    const store = await LedgerStore.open(dir);
    await store.compact();
    await store.close();
    expect((await stat(join(dir, SNAPSHOT_FILE))).size).toBeGreaterThan(2 << 20);
    expect((await load(dir)).state).toEqual(state);
  });

  it('a hand-formatted snapshot (valid JSON, another layout) loads', async () => {
    const dir = await tempDir('ledger-');
    const snapshot = { formatVersion: 1, serial: 4, records: [{ key: 'a', size: 1, etag: 'x', stage: 'delivered', attempts: 0 }] };
    await writeFile(join(dir, SNAPSHOT_FILE), JSON.stringify(snapshot, null, 2));
    expect((await load(dir)).state).toEqual({ serial: 4, records: snapshot.records });
  });
});

describe('LedgerStore after a power cut', () => {
  it('torn last journal line at every byte offset: warned, every earlier event intact, next append clean', async () => {
    const events = history(6);
    const { dir } = await storeWith(events.slice(0, -1));
    const expected = (await load(dir)).state;
    const { dir: fullDir } = await storeWith(events);
    const journal = await readFile(join(fullDir, JOURNAL_FILE));
    const lastLineStart = journal.subarray(0, -1).lastIndexOf(0x0a) + 1;
    expect(lastLineStart).toBeGreaterThan(0);

    for (let offset = lastLineStart; offset < journal.length; offset++) {
      const cut = await tempDir('ledger-cut-');
      await writeFile(join(cut, JOURNAL_FILE), journal.subarray(0, offset));
      const { state, warnings } = await load(cut);
      expect(state, `cut at byte ${offset}`).toEqual(expected);
      expect(warnings, `cut at byte ${offset}`).toHaveLength(offset === lastLineStart ? 0 : 1);
      if (offset > lastLineStart) expect(warnings[0]).toMatch(/torn last line/);

      const store = await LedgerStore.open(cut);
      await store.append([failedEvent('after the cut')]);
      await store.close();
      const after = await load(cut);
      expect(after.warnings).toEqual([]);
      expect(after.state.serial).toBe(expected.serial + 1);
    }
  });

  it('a journal tail of zero bytes (file grew, data never written) is treated as torn', async () => {
    const events = history(3);
    const { dir, state } = await storeWith(events);
    await writeFile(join(dir, JOURNAL_FILE), Buffer.concat([await readFile(join(dir, JOURNAL_FILE)), Buffer.alloc(300)]));
    const { state: loaded, warnings } = await load(dir);
    expect(loaded).toEqual(state);
    expect(warnings).toHaveLength(1);
  });
});

describe('LedgerStore after a crash during compaction', () => {
  /** Old snapshot + journal (the "before"), and the new snapshot compaction would write (the "after"). */
  async function compactionFixture() {
    const { dir: before } = await storeWith(history(8));
    const first = await LedgerStore.open(before);
    await first.compact();
    await first.append(history(5).map((event) => ({ ...event, key: `later/${event.key}` })));
    await first.append([failedEvent('dir 0/obj-0.bin', 'again')]);
    const expected = first.state();
    await first.close();

    const after = await copyDir(before);
    const second = await LedgerStore.open(after);
    await second.compact();
    await second.close();
    return { before, expected, newSnapshot: await readFile(join(after, SNAPSHOT_FILE)) };
  }

  const steps: { name: string; make: (dir: string, newSnapshot: Buffer) => Promise<void> }[] = [
    { name: 'half of the temporary snapshot written', make: (dir, snap) => writeFile(join(dir, `${SNAPSHOT_FILE}.tmp`), snap.subarray(0, snap.length >> 1)) },
    { name: 'temporary snapshot complete, not renamed', make: (dir, snap) => writeFile(join(dir, `${SNAPSHOT_FILE}.tmp`), snap) },
    { name: 'renamed, journal not yet emptied', make: (dir, snap) => writeFile(join(dir, SNAPSHOT_FILE), snap) },
    {
      name: 'renamed, journal emptied',
      make: async (dir, snap) => {
        await writeFile(join(dir, SNAPSHOT_FILE), snap);
        await truncate(join(dir, JOURNAL_FILE), 0);
      },
    },
  ];

  for (const step of steps) {
    it(`${step.name}: loads with no event lost or applied twice, and appends continue`, async () => {
      const { before, expected, newSnapshot } = await compactionFixture();
      const dir = await copyDir(before);
      await step.make(dir, newSnapshot);
      const { state, warnings } = await load(dir);
      expect(state).toEqual(expected);
      expect(warnings).toEqual([]);

      const store = await LedgerStore.open(dir);
      await store.append([failedEvent('dir 0/obj-0.bin', 'once more')]);
      await store.close();
      const after = (await load(dir)).state;
      expect(after.serial).toBe(expected.serial + 1);
      const attempts = (s: LedgerState) => s.records.find((record) => record.key === 'dir 0/obj-0.bin')?.attempts ?? -1;
      expect(attempts(after)).toBe(attempts(expected) + 1);
    });
  }
});

describe('LedgerStore refuses what it cannot trust', () => {
  async function expectRefused(dir: string, code: string, pattern: RegExp) {
    const error = await loadError(dir);
    expect(isDualsyncError(error) && error.code).toBe(code);
    expect((error as Error).message).toMatch(pattern);
    return error;
  }

  it('a corrupt line in the middle of the journal: E_LEDGER_CORRUPT naming file and line, never delete blindly', async () => {
    const { dir } = await storeWith(history(3));
    const lines = (await readFile(join(dir, JOURNAL_FILE), 'utf8')).split('\n');
    lines[2] = lines[2]!.slice(0, 20);
    await writeFile(join(dir, JOURNAL_FILE), lines.join('\n'));
    const error = await expectRefused(dir, 'E_LEDGER_CORRUPT', new RegExp(`${JOURNAL_FILE}:3`));
    expect(isDualsyncError(error) && error.hint).toMatch(/never delete it blindly/);
    // Refusing wrote nothing: the damaged file is still there, as it was.
    expect((await readFile(join(dir, JOURNAL_FILE), 'utf8')).split('\n')[2]).toBe(lines[2]);
  });

  it('a journal line that parses but is no event: refused', async () => {
    const { dir } = await storeWith(history(2));
    const text = await readFile(join(dir, JOURNAL_FILE), 'utf8');
    await writeFile(join(dir, JOURNAL_FILE), `{"formatVersion":1,"serial":1,"event":{"type":"teleported","key":"a","size":1,"etag":"x"}}\n${text}`);
    await expectRefused(dir, 'E_LEDGER_CORRUPT', /unknown event type/);
  });

  it('an unparsable snapshot: E_LEDGER_CORRUPT naming the snapshot', async () => {
    const dir = await tempDir('ledger-');
    await writeFile(join(dir, SNAPSHOT_FILE), '{"formatVersion":1,"serial":3,"records":[\n{"key":"a"');
    await expectRefused(dir, 'E_LEDGER_CORRUPT', new RegExp(SNAPSHOT_FILE));
  });

  it('an empty snapshot file: refused, not read as an empty ledger', async () => {
    const dir = await tempDir('ledger-');
    await writeFile(join(dir, SNAPSHOT_FILE), '');
    await expectRefused(dir, 'E_LEDGER_CORRUPT', /empty/);
  });

  it('a snapshot from a newer dualsync: refused with "upgrade"', async () => {
    const dir = await tempDir('ledger-');
    await writeFile(join(dir, SNAPSHOT_FILE), '{"formatVersion":2,"serial":3,"records":[\n]}\n');
    const error = await expectRefused(dir, 'E_LEDGER_NEWER', /newer dualsync/);
    expect(isDualsyncError(error) && error.hint).toMatch(/Upgrade/);
  });

  it('a journal line from a newer dualsync: refused', async () => {
    const { dir } = await storeWith(history(1));
    const text = await readFile(join(dir, JOURNAL_FILE), 'utf8');
    await writeFile(join(dir, JOURNAL_FILE), `${text}{"formatVersion":3,"serial":99,"event":{}}\n${text}`);
    await expectRefused(dir, 'E_LEDGER_NEWER', new RegExp(`${JOURNAL_FILE}:\\d+ was written by a newer dualsync`));
  });

  it('a deleted snapshot (journal serials no longer start at 1): refused, not half-loaded', async () => {
    const { dir } = await storeWith(history(3));
    const store = await LedgerStore.open(dir);
    await store.compact();
    await store.append([failedEvent('x')]);
    await store.close();
    const { rm } = await import('node:fs/promises');
    await rm(join(dir, SNAPSHOT_FILE));
    await expectRefused(dir, 'E_LEDGER_CORRUPT', /events are missing or repeated/);
  });

  it('a refused ledger leaves the state directory untouched', async () => {
    const { dir } = await storeWith(history(2));
    await writeFile(join(dir, SNAPSHOT_FILE), 'garbage');
    const before = await readdir(dir);
    await loadError(dir);
    expect(await readdir(dir)).toEqual(before);
    expect(await readFile(join(dir, SNAPSHOT_FILE), 'utf8')).toBe('garbage');
  });
});
