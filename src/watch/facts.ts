import type { ApplyReport } from '../engine.ts';
import type { CycleFacts } from '../model/index.ts';

const NONE = { objects: 0, bytes: 0 };

/** What one apply (a watch cycle, or `apply`) planned, moved and met, as the log and the metrics read it. */
export function cycleFacts(report: ApplyReport): CycleFacts {
  const { plan, gathered, createdAt } = report.run;
  const outcome = report.outcome;
  const seconds = (from: string, to: string) => Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
  const hopsDown: CycleFacts['hopsDown'] = [];
  for (const hop of ['source', 'destination'] as const) {
    const cause = gathered.inventory[hop].unreachable;
    if (cause !== undefined) hopsDown.push({ hop, cause });
  }
  return {
    planned: { download: { objects: plan.summary.download.count, bytes: plan.summary.download.bytes }, upload: { objects: plan.summary.upload.count, bytes: plan.summary.upload.bytes } },
    moved: {
      download: outcome ? { objects: outcome.downloaded.count, bytes: outcome.downloaded.bytes } : NONE,
      upload: outcome ? { objects: outcome.uploaded.count, bytes: outcome.uploaded.bytes } : NONE,
    },
    purged: outcome ? { objects: outcome.purged.count, bytes: outcome.purged.bytes } : NONE,
    adopted: outcome?.adopted ?? 0,
    failures: outcome?.failures ?? [],
    waiting: plan.summary.waiting?.count ?? 0,
    warnings: [...plan.warnings],
    listAndPlanSeconds: seconds(report.startedAt, createdAt),
    applySeconds: report.applied ? seconds(createdAt, report.finishedAt) : 0,
    volumes: gathered.inventory.volumes.map((volume) => ({ root: volume.root, freeBytes: volume.freeBytes })),
    hopsDown,
    bandwidthLimit: { download: plan.hops.download.bandwidth?.bytesPerSecond ?? 0, upload: plan.hops.upload.bandwidth?.bytesPerSecond ?? 0 },
  };
}
