/**
 * `watch --metrics-addr`: Prometheus metrics of the watch loop, fed once per cycle with that
 * cycle's facts (see src/watch/facts.ts) and served by prom-client over plain HTTP. Nothing
 * else in dualsync knows about metrics: the loop hands each cycle here and that is all.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { CycleFacts, Hop } from '../model/index.ts';
import type { LedgerSummary } from '../ledger/queries.ts';
import { LedgerStore } from '../ledger/store.ts';
import { findS5cmd } from '../apply/s5cmd.ts';
import { VERSION } from '../version.ts';
import { describeError, isDualsyncError, userError } from '../errors.ts';

/** What the loop reports after each cycle: its facts, or the error that ended it. */
export interface CycleObservation {
  facts?: CycleFacts;
  error?: unknown;
  /** When the cycle ended, in seconds since the epoch. */
  endedAtSeconds: number;
}

const HOPS: readonly Hop[] = ['download', 'upload'];

/** The metrics of one watch process, in a registry of their own. */
export class WatchMetrics {
  readonly registry = new Registry();
  readonly #transferredBytes = new Counter({ name: 'dualsync_transferred_bytes_total', help: 'Bytes moved and verified, per hop (download: source to volumes, upload: volumes to destination).', labelNames: ['hop'], registers: [this.registry] });
  readonly #transferredObjects = new Counter({ name: 'dualsync_transferred_objects_total', help: 'Objects moved and verified, per hop.', labelNames: ['hop'], registers: [this.registry] });
  readonly #purged = new Counter({ name: 'dualsync_purged_objects_total', help: 'Staged copies deleted after their delivery was verified.', registers: [this.registry] });
  readonly #adopted = new Counter({ name: 'dualsync_adopted_objects_total', help: 'Objects the destination already held, recorded without a transfer.', registers: [this.registry] });
  readonly #failures = new Counter({ name: 'dualsync_failures_total', help: 'Per-object failures, per hop and failure code.', labelNames: ['hop', 'code'], registers: [this.registry] });
  readonly #cycles = new Counter({ name: 'dualsync_cycles_total', help: 'Watch cycles, by how they ended (ok: ran to its end with both hops reachable).', labelNames: ['result'], registers: [this.registry] });
  readonly #backlogObjects = new Gauge({ name: 'dualsync_backlog_objects', help: 'Objects the last cycle planned for a hop but did not move.', labelNames: ['hop'], registers: [this.registry] });
  readonly #backlogBytes = new Gauge({ name: 'dualsync_backlog_bytes', help: 'Bytes the last cycle planned for a hop but did not move.', labelNames: ['hop'], registers: [this.registry] });
  readonly #backoff = new Gauge({ name: 'dualsync_backoff_objects', help: 'Objects left out of the last plan because they back off after failures.', registers: [this.registry] });
  readonly #duration = new Gauge({ name: 'dualsync_cycle_duration_seconds', help: 'Duration of the last cycle\'s phases: list_and_plan (one streamed pass), apply.', labelNames: ['phase'], registers: [this.registry] });
  readonly #lastSuccess = new Gauge({ name: 'dualsync_last_success_timestamp_seconds', help: 'When the last cycle that ran to its end with both hops reachable ended (seconds since the epoch).', registers: [this.registry] });
  readonly #hopUp = new Gauge({ name: 'dualsync_hop_up', help: '1 when the hop\'s endpoint answered in the last cycle, 0 when it did not.', labelNames: ['endpoint'], registers: [this.registry] });
  readonly #volumeFree = new Gauge({ name: 'dualsync_volume_free_bytes', help: 'Free bytes on each staging volume, as the last cycle scanned them.', labelNames: ['volume'], registers: [this.registry] });
  readonly #bandwidthLimit = new Gauge({ name: 'dualsync_bandwidth_limit_bytes_per_second', help: 'Each hop\'s bandwidth limit in bytes per second as the last cycle\'s plan found it in force (source.bandwidth: download, destination.bandwidth: upload); 0: no limit.', labelNames: ['hop'], registers: [this.registry] });
  readonly #ledgerObjects = new Gauge({ name: 'dualsync_ledger_objects', help: 'Object versions in the ledger, per stage.', labelNames: ['stage'], registers: [this.registry] });
  readonly #ledgerBytes = new Gauge({ name: 'dualsync_ledger_bytes', help: 'Bytes of the object versions in the ledger, per stage.', labelNames: ['stage'], registers: [this.registry] });

  /** `versions`: dualsync's and s5cmd's, exported as `dualsync_build_info`. */
  constructor(versions: { version: string; s5cmdVersion: string }) {
    const info = new Gauge({ name: 'dualsync_build_info', help: 'Versions of dualsync and of the s5cmd it runs; always 1.', labelNames: ['version', 's5cmd_version'], registers: [this.registry] });
    info.set({ version: versions.version, s5cmd_version: versions.s5cmdVersion }, 1);
    for (const hop of HOPS) {
      // Present from the first scrape, so that rate() has a start and an alert a series.
      this.#transferredBytes.inc({ hop }, 0);
      this.#transferredObjects.inc({ hop }, 0);
    }
  }

  /** Adds one cycle: counters grow by what it moved and met, gauges take what it saw. */
  recordCycle(observation: CycleObservation): void {
    const { facts, error } = observation;
    if (facts === undefined) {
      this.#cycles.inc({ result: isDualsyncError(error) ? error.code : 'error' });
      return;
    }
    for (const hop of HOPS) {
      this.#transferredBytes.inc({ hop }, facts.moved[hop].bytes);
      this.#transferredObjects.inc({ hop }, facts.moved[hop].objects);
      this.#backlogObjects.set({ hop }, Math.max(0, facts.planned[hop].objects - facts.moved[hop].objects));
      this.#backlogBytes.set({ hop }, Math.max(0, facts.planned[hop].bytes - facts.moved[hop].bytes));
      this.#bandwidthLimit.set({ hop }, facts.bandwidthLimit[hop]);
    }
    this.#purged.inc(facts.purged.objects);
    this.#adopted.inc(facts.adopted);
    for (const failure of facts.failures) this.#failures.inc({ hop: failure.hop, code: failure.code });
    this.#backoff.set(facts.waiting);
    this.#duration.set({ phase: 'list_and_plan' }, facts.listAndPlanSeconds);
    this.#duration.set({ phase: 'apply' }, facts.applySeconds);
    for (const endpoint of ['source', 'destination'] as const) this.#hopUp.set({ endpoint }, facts.hopsDown.some((down) => down.hop === endpoint) ? 0 : 1);
    // A volume that left the config must not keep its last value forever.
    this.#volumeFree.reset();
    for (const volume of facts.volumes) this.#volumeFree.set({ volume: volume.root }, volume.freeBytes);
    const ok = facts.hopsDown.length === 0;
    this.#cycles.inc({ result: ok ? 'ok' : 'hop_down' });
    if (ok) this.#lastSuccess.set(observation.endedAtSeconds);
  }

  /** The ledger's counts by stage, read after each cycle. */
  recordLedger(stages: LedgerSummary['stages']): void {
    for (const [stage, amount] of Object.entries(stages)) {
      this.#ledgerObjects.set({ stage }, amount.objects);
      this.#ledgerBytes.set({ stage }, amount.bytes);
    }
  }

  /** The exposition text, as a scrape gets it. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Serves GET /metrics at `address` until the returned close() is called. */
  async serve(address: MetricsAddress): Promise<{ close: () => Promise<void>; port: number }> {
    const server: Server = createServer((request, response) => {
      if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('dualsync serves /metrics only\n');
        return;
      }
      this.text().then(
        (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${describeError(error)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      throw userError('E_USAGE', `--metrics-addr ${address.text}: cannot listen there: ${describeError(error)}`, { hint: 'choose a free port (the default is 127.0.0.1:9464), or stop what listens on it' });
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    // A scrape in progress must not hold watch open after it stopped.
    server.unref();
    return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => undefined, () => undefined) };
  }
}

/** Where the metrics are served. */
export interface MetricsAddress {
  host: string;
  port: number;
  /** As the operator wrote it, for messages. */
  text: string;
}

/**
 * Parses `--metrics-addr`: `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (both on 127.0.0.1).
 * The metrics name volumes and what fails, so they stay on the loopback unless the
 * operator says otherwise with `allowRemote` (`--metrics-allow-remote`); a host name is refused
 * (it may resolve elsewhere tomorrow): give an address.
 */
export function parseMetricsAddress(text: string, allowRemote: boolean): MetricsAddress {
  const usage = (why: string) => userError('E_USAGE', `--metrics-addr ${JSON.stringify(text)}: ${why}`, { hint: 'write HOST:PORT with an IP address, e.g. 127.0.0.1:9464, [::1]:9464 or :9464' });
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (match === null) throw usage('not HOST:PORT');
  const host = match[1] || match[2] || '127.0.0.1';
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`port ${match[3]} is not between 0 and 65535`);
  if (isIP(host) === 0) throw usage(`${host} is not an IP address`);
  if (!allowRemote && !isLoopback(host)) {
    throw userError('E_USAGE', `--metrics-addr ${text}: ${host} is not a loopback address, and the metrics name volumes and failures`, {
      hint: 'serve on 127.0.0.1 (and let a local Prometheus or agent scrape it), or pass --metrics-allow-remote to serve on another address on purpose',
    });
  }
  return { host, port, text };
}

function isLoopback(host: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

/** Metrics being served for one watch: feed each cycle, close at the end. */
export interface ServedMetrics {
  /** The loop's hook: records the cycle, then the ledger's counts by stage (on watch's connection when given, else opened here). */
  onCycle(cycle: { facts?: CycleFacts; error?: unknown; ledgerStages?: () => LedgerSummary['stages'] }): void;
  /** Where a scrape finds them, with the port bound (`:0` picks a free one). */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts serving watch's metrics at `address`: the versions first (s5cmd's is asked once), then
 * each cycle's facts and, after it, the ledger's counts by stage (read as `status` reads them,
 * while no apply writes: watch holds the lock).
 */
export async function serveWatchMetrics(options: { address: MetricsAddress; stateDir: string; env: NodeJS.ProcessEnv; now: () => Date; warn: (message: string) => void }): Promise<ServedMetrics> {
  const s5cmd = await findS5cmd(options.env);
  const metrics = new WatchMetrics({ version: VERSION, s5cmdVersion: s5cmd.version });
  const served = await metrics.serve(options.address);
  let ledgerRead: Promise<void> = Promise.resolve();
  let warned = false;
  const readLedger = async () => {
    const ledger = await LedgerStore.open(options.stateDir);
    try {
      metrics.recordLedger(ledger.summary(0).stages);
    } finally {
      await ledger.close();
    }
  };
  const host = options.address.host.includes(':') ? `[${options.address.host}]` : options.address.host;
  return {
    url: `http://${host}:${served.port}/metrics`,
    onCycle(cycle) {
      metrics.recordCycle({ facts: cycle.facts, error: cycle.error, endedAtSeconds: options.now().getTime() / 1000 });
      const warnOnce = (error: unknown) => {
        // Said once: a ledger that cannot be read fails the cycles, which say it each time.
        if (!warned) options.warn(`metrics: cannot read the ledger's counts: ${describeError(error)}`);
        warned = true;
      };
      if (cycle.ledgerStages) {
        // Read now, on watch's own connection, while it is open: no second open of the ledger a cycle.
        try {
          metrics.recordLedger(cycle.ledgerStages());
        } catch (error) {
          warnOnce(error);
        }
        return;
      }
      ledgerRead = ledgerRead.then(readLedger).catch(warnOnce);
    },
    async close() {
      await ledgerRead;
      await served.close();
    },
  };
}
