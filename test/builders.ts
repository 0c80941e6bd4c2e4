/**
 * In-memory inventories and configs, so planner tests read like the spec:
 *
 *   inventory().source('a', 10).dest('a', 10).volume('/v1', { free: 100 }).build()
 *
 * No I/O. ETags default to a fake MD5 derived from key and size, so the same (key, size) on
 * both sides is the same version unless a test says otherwise.
 */
import type { Config, HopConfig, TransferConfig } from '../src/model/config.ts';
import { ACTION_ORDER, type Action, type ActionReason, type Plan, type PlanSummary } from '../src/model/plan.ts';
import { MemorySpool, SpooledActions } from '../src/plan/spools.ts';
import type { DeliveredVersion, Inventory, LedgerRecord, SkipReason, Listing, ListingFlaws, ListingStream, LocalFile, LocalLink, ObjectEntry, Stage, VolumeInfo } from '../src/model/objects.ts';
import { compareKeys } from '../src/plan/keys.ts';
import { legacyFailure } from '../src/ledger/merge.ts';
import { planStreams, type PlanOptions } from '../src/plan/planner.ts';

/** A deterministic 32-hex "MD5" for a key and size (FNV-1a, four rounds); not a real digest. */
export function fakeEtag(key: string, size: number): string {
  let out = '';
  for (let round = 0; round < 4; round++) {
    let hash = 0x811c9dc5 ^ round;
    for (const char of `${key}\u0000${size}`) {
      hash ^= char.codePointAt(0) ?? 0;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    out += hash.toString(16).padStart(8, '0');
  }
  return out;
}

export interface VolumeSpec {
  free: number;
  reserve?: number;
  total?: number;
  /** The filesystem's id (`st_dev`): volumes given the same one share its free space. */
  device?: string;
}

export interface LedgerSpec {
  key: string;
  size: number;
  etag?: string;
  stage?: Stage;
  volume?: string;
  attempts?: number;
  /** The last failure as an earlier dualsync wrote it (`upload: why`): recorded as a failure of code `legacy`. */
  lastError?: string;
  /** ISO 8601 time of the last failure. */
  lastFailedAt?: string;
  skipReason?: SkipReason;
  destinationEtag?: string;
  lastDelivered?: DeliveredVersion;
  destinationDiffers?: string;
  localDiffers?: string;
}

/** A fluent builder of an {@link Inventory}; every method returns the builder. */
export class InventoryBuilder {
  private readonly sourceEntries: ObjectEntry[] = [];
  private readonly destinationEntries: ObjectEntry[] = [];
  private readonly localFiles: LocalFile[] = [];
  private readonly localLinks: LocalLink[] = [];
  private readonly volumeInfos: VolumeInfo[] = [];
  private readonly records: LedgerRecord[] = [];
  private sourceState: Omit<Listing, 'entries'> = { complete: true, warnings: [] };
  private destinationState: Omit<Listing, 'entries'> = { complete: true, warnings: [] };
  private serial = 0;

  /** An object the source lists. */
  source(key: string, size: number, etag = fakeEtag(key, size)): this {
    this.sourceEntries.push({ key, size, etag });
    return this;
  }

  /** An object the destination lists. */
  dest(key: string, size: number, etag = fakeEtag(key, size)): this {
    this.destinationEntries.push({ key, size, etag });
    return this;
  }

  /** A regular file found under a volume root. */
  local(volume: string, key: string, size: number): this {
    this.localFiles.push({ volume, key, size });
    return this;
  }

  /** A symbolic link the volume scan met at `path` under the root. */
  link(volume: string, path: string): this {
    this.localLinks.push({ volume, path });
    return this;
  }

  /** A staging volume; reserve defaults to 0 and total to free + reserve. */
  volume(root: string, spec: VolumeSpec): this {
    const reserve = spec.reserve ?? 0;
    const info: VolumeInfo = { root, freeBytes: spec.free, reserveBytes: reserve, totalBytes: spec.total ?? spec.free + reserve };
    if (spec.device !== undefined) info.device = spec.device;
    this.volumeInfos.push(info);
    return this;
  }

  /** A ledger record; the etag defaults like the listings', attempts to 0. */
  ledger(spec: LedgerSpec): this {
    const record: LedgerRecord = { key: spec.key, size: spec.size, etag: spec.etag ?? fakeEtag(spec.key, spec.size), attempts: spec.attempts ?? 0 };
    if (spec.stage !== undefined) record.stage = spec.stage;
    if (spec.volume !== undefined) record.volume = spec.volume;
    if (spec.lastError !== undefined) record.lastFailure = legacyFailure(spec.lastError);
    if (spec.lastFailedAt !== undefined) record.lastFailedAt = spec.lastFailedAt;
    if (spec.skipReason !== undefined) record.skipReason = spec.skipReason;
    if (spec.destinationEtag !== undefined) record.destinationEtag = spec.destinationEtag;
    if (spec.lastDelivered !== undefined) record.lastDelivered = spec.lastDelivered;
    if (spec.destinationDiffers !== undefined) record.destinationDiffers = spec.destinationDiffers;
    if (spec.localDiffers !== undefined) record.localDiffers = spec.localDiffers;
    this.records.push(record);
    return this;
  }

  /** Shorthand: a verified staged copy on `volume` (ledger record and the file itself). */
  staged(volume: string, key: string, size: number): this {
    return this.ledger({ key, size, stage: 'staged', volume }).local(volume, key, size);
  }

  /** Marks the source listing as cut short, with the lister's warnings. */
  sourceIncomplete(...warnings: string[]): this {
    this.sourceState = { complete: false, warnings };
    return this;
  }

  /** Marks the destination listing as cut short, with the lister's warnings. */
  destIncomplete(...warnings: string[]): this {
    this.destinationState = { complete: false, warnings };
    return this;
  }

  /** The source could not be listed at all (its endpoint is down). */
  sourceUnreachable(cause = 'connect ECONNREFUSED 127.0.0.1:9000'): this {
    this.sourceState = { complete: false, warnings: [], unreachable: cause };
    return this;
  }

  /** The destination could not be listed at all (its endpoint is down). */
  destUnreachable(cause = 'connect ECONNREFUSED 127.0.0.1:9001'): this {
    this.destinationState = { complete: false, warnings: [], unreachable: cause };
    return this;
  }

  ledgerSerial(serial: number): this {
    this.serial = serial;
    return this;
  }

  build(): Inventory {
    return {
      source: { entries: [...this.sourceEntries], ...this.sourceState, warnings: [...this.sourceState.warnings] },
      destination: { entries: [...this.destinationEntries], ...this.destinationState, warnings: [...this.destinationState.warnings] },
      volumes: [...this.volumeInfos],
      local: [...this.localFiles],
      links: [...this.localLinks],
      ledger: { serial: this.serial, records: [...this.records] },
    };
  }
}

/** Starts an empty inventory: complete empty listings, no volumes, an empty ledger. */
export function inventory(): InventoryBuilder {
  return new InventoryBuilder();
}

export interface ConfigOverrides {
  source?: Partial<HopConfig>;
  destination?: Partial<HopConfig>;
  transfer?: Partial<TransferConfig>;
  staging?: Partial<Config['staging']>;
  stateDir?: string;
}

function hop(bucket: string, prefix: string): HopConfig {
  return {
    bucket,
    prefix,
    region: 'us-east-1',
    addressing: 'path',
    tls: { verify: true },
    listApi: 'v2',
    credentials: { kind: 'default' },
  };
}

/** A full, valid Config with generous budgets and no connection caps; override any part. */
export function testConfig(overrides: ConfigOverrides = {}): Config {
  return {
    version: 1,
    file: '',
    source: { ...hop('edge', 'sensors/'), ...overrides.source },
    destination: { ...hop('archive', 'site-7/'), ...overrides.destination },
    staging: { volumes: ['/v1', '/v2'], reserve: { kind: 'bytes', bytes: 0 }, ...overrides.staging },
    stateDir: overrides.stateDir ?? '/state',
    transfer: {
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      maxUploadBatchBytes: Number.MAX_SAFE_INTEGER,
      workers: 256,
      concurrency: 5,
      partSizeBytes: 50 * 1024 * 1024,
      verify: 'size',
      adopt: 'content',
      purgeAfterUpload: true,
      stallTimeoutMs: 120_000,
      include: ['**'],
      exclude: [],
      retryBackoff: { maxMs: 6 * 3_600_000 },
      ...overrides.transfer,
    },
    watch: { intervalMs: 30_000 },
  };
}

/** The plan's actions in spools, one per kind, as the planner hands them over: an ActionList that is not an array. */
export function spooledActions(actions: readonly Action[]): SpooledActions {
  return new SpooledActions(
    ACTION_ORDER.map((kind) => {
      const spool = new MemorySpool();
      actions.forEach((action, rank) => action.kind === kind && spool.push(rank, action));
      return { kind, spools: [spool] };
    }),
  );
}

/**
 * A listing as the listing layer hands it to the planner: one page in key order ({@link compareKeys}),
 * each key once, the first listed of a repeated key kept and the others counted as the listing's
 * flaws (as src/inventory/s3.ts and extsort.ts do), its own flaws (undecodable keys) kept.
 */
export function listingStream(listing: Listing): ListingStream {
  const sorted = listing.entries.map((entry, index) => ({ entry, index })).sort((a, b) => compareKeys(a.entry.key, b.entry.key) || a.index - b.index);
  const page: ObjectEntry[] = [];
  let flaws: ListingFlaws | undefined = listing.flaws === undefined ? undefined : { ...listing.flaws };
  for (const { entry } of sorted) {
    if (page.length > 0 && (page[page.length - 1] as ObjectEntry).key === entry.key) {
      flaws ??= { duplicates: 0, undecodable: 0 };
      flaws.duplicates += 1;
      flaws.firstDuplicate ??= entry.key;
      continue;
    }
    page.push(entry);
  }
  return {
    pages: (async function* () {
      yield page;
    })(),
    complete: listing.complete,
    warnings: [...listing.warnings],
    ...(listing.unreachable === undefined ? {} : { unreachable: listing.unreachable }),
    ...(flaws === undefined ? {} : { flaws }),
    close: async () => undefined,
  };
}

/** The ledger's records in key order, as its cursor hands them out; a key twice is a broken test (the ledger keys by key). */
export function ledgerCursor(records: readonly LedgerRecord[]): LedgerRecord[] {
  const sorted = [...records].sort((a, b) => compareKeys(a.key, b.key));
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i - 1] as LedgerRecord).key === (sorted[i] as LedgerRecord).key) throw new Error(`the test's ledger holds ${JSON.stringify((sorted[i] as LedgerRecord).key)} twice`);
  }
  return sorted;
}

/**
 * The plan of an in-memory inventory, made by the one shipped planner ({@link planStreams}): the
 * listings become one-page streams as the listing layer would hand them over, the ledger a
 * cursor in key order; the volume scan goes in as it is (the planner sorts it). The actions come
 * back in an array.
 */
export async function planOf(config: Config, inventory: Inventory, options: PlanOptions = {}): Promise<Plan<Action[]>> {
  const { plan } = await planStreams(
    config,
    {
      source: listingStream(inventory.source),
      destination: listingStream(inventory.destination),
      volumes: inventory.volumes,
      local: inventory.local,
      links: inventory.links ?? [],
      ledger: { serial: inventory.ledger.serial, records: ledgerCursor(inventory.ledger.records) },
    },
    options,
  );
  return { ...plan, actions: [...plan.actions] };
}

/** An action's reason as a test line: its code, then its facts by name (strings quoted), e.g. `retry attempts=2`. */
export function reasonLine(reason: ActionReason): string {
  const facts = Object.entries(reason)
    .filter(([name]) => name !== 'code')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  return [reason.code, ...facts].join(' ');
}

/** A plan summary with nothing in it but `parts`. */
export function planSummary(parts: Partial<PlanSummary> = {}): PlanSummary {
  return {
    download: { count: 0, bytes: 0 },
    upload: { count: 0, bytes: 0 },
    purge: { count: 0, bytes: 0 },
    adopt: { count: 0, bytes: 0 },
    skip: { count: 0 },
    deferred: { count: 0, bytes: 0 },
    noChanges: false,
    ...parts,
  };
}
