/**
 * Workers and per-file concurrency per hop, under the hop's connection budget. Pure. A Snowball
 * Edge drops connections beyond 1,000, and s5cmd opens up to workers x concurrency of them, so a
 * hop with `maxConnections` gets fewer workers (and, if even one worker would exceed it, less
 * concurrency) with a warning that says so.
 */
import type { Bandwidth } from '../model/config.ts';
import type { HopSettings, PlanWarning } from '../model/plan.ts';
import { bandwidthAt } from '../config/bandwidth.ts';
import type { Side } from '../model/side.ts';

/**
 * The settings for one hop, and the warning to show when the connection budget lowered them.
 * A bandwidth limit is carried with the rate in force at `nowMs` (when the plan is made).
 */
export function hopSettings(
  workers: number,
  concurrency: number,
  maxConnections: number | undefined,
  hop: Side,
  limit?: { bandwidth: Bandwidth | undefined; nowMs: number | undefined },
): { settings: HopSettings; warning?: PlanWarning } {
  const { settings, warning } = connectionSettings(workers, concurrency, maxConnections, hop);
  const bandwidth = limit?.bandwidth;
  if (bandwidth === undefined) return { settings, ...(warning === undefined ? {} : { warning }) };
  const bytesPerSecond = limit?.nowMs === undefined ? undefined : bandwidthAt(bandwidth, new Date(limit.nowMs));
  return {
    settings: { ...settings, bandwidth: { limit: bandwidth.written, ...(bytesPerSecond === undefined ? {} : { bytesPerSecond }) } },
    ...(warning === undefined ? {} : { warning }),
  };
}

function connectionSettings(
  workers: number,
  concurrency: number,
  maxConnections: number | undefined,
  hop: Side,
): { settings: HopSettings; warning?: PlanWarning } {
  if (maxConnections === undefined) return { settings: { workers, concurrency } };
  const cappedConcurrency = Math.max(1, Math.min(concurrency, maxConnections));
  const cappedWorkers = Math.max(1, Math.min(workers, Math.floor(maxConnections / cappedConcurrency)));
  if (cappedWorkers === workers && cappedConcurrency === concurrency) return { settings: { workers, concurrency } };
  return {
    settings: { workers: cappedWorkers, concurrency: cappedConcurrency, maxConnections },
    warning: { code: 'connection-cap', hop, workers, concurrency, cappedWorkers, cappedConcurrency, maxConnections },
  };
}
