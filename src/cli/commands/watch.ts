import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { engineDeps, loadConfigFor } from '../context.ts';
import { runApply, type ApplyReport, type HopName } from '../../engine.ts';
import { parseDuration } from '../../config/units.ts';
import { watchLoop, type HopDown } from '../../watch/loop.ts';
import type { Inventory } from '../../model/index.ts';
import { applySummaryLine, renderApplyOutcome } from '../../view/apply.ts';
import { summaryLine } from '../../view/plan.ts';
import { isDualsyncError, userError } from '../../errors.ts';

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The hops a cycle could not reach, with the cause. */
function hopsDownIn(inventory: Inventory): HopDown[] {
  const down: HopDown[] = [];
  for (const hop of ['source', 'destination'] as const) {
    const cause = inventory[hop].unreachable;
    if (cause !== undefined) down.push({ hop, cause });
  }
  return down;
}

export class WatchCommand extends BaseCommand {
  static override paths = [['watch']];
  static override usage = Command.Usage({
    description: 'plan and apply in a loop, for continuous edge sync',
    details: `
      Runs plan and apply every interval (\`watch.interval\` in the config, or \`--interval\`).
      Within each cycle both hops run at once: uploads of staged data go out while downloads come in.
      Failed objects are retried next cycle; errors back off exponentially with jitter; an error
      that a retry cannot fix (wrong credentials, a broken ledger) stops the loop with exit 1.

      When one endpoint is down, the other hop keeps working: with the destination unreachable,
      downloads fill the staging volumes and uploads wait; with the source unreachable, staged
      copies are uploaded and purged. The missing hop is picked up in the first cycle after it
      returns.

      Ctrl-C or SIGTERM: the current cycle finishes, the lock is released, exit 0. A second
      Ctrl-C stops the transfers at once (what was in flight is redone next time).
    `,
    examples: [
      ['Keep the sites in sync', 'dualsync watch'],
      ['Poll every 5 minutes', 'dualsync watch --interval 5m'],
      ['One cycle (for cron)', 'dualsync watch --once'],
    ],
  });

  interval = Option.String('--interval', { description: 'Time between cycles, e.g. 30s, 5m (default: watch.interval)' });
  once = Option.Boolean('--once', false, { description: 'Run one cycle and exit' });

  async run(): Promise<number> {
    const config = await loadConfigFor(this.context, this.configPath());
    let intervalMs = config.watch.intervalMs;
    if (this.interval !== undefined) {
      try {
        intervalMs = parseDuration(this.interval);
      } catch (error) {
        throw userError('E_USAGE', `--interval: ${(error as Error).message}`, { hint: 'write a duration such as 30s, 5m or 1h' });
      }
    }
    const stop = new AbortController();
    const abort = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      if (!stop.signal.aborted) {
        this.context.stderr.write(`\n${signal}: finishing the current cycle (again to stop at once)\n`);
        stop.abort();
      } else {
        abort.abort();
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let wasDown = new Set<HopName>();
    const log = (line: string) => this.context.stdout.write(`[${new Date().toISOString()}] ${line}\n`);
    try {
      const summary = await watchLoop({
        intervalMs,
        once: this.once,
        stop: stop.signal,
        random: Math.random,
        sleep,
        log,
        cycle: async () => {
          const deps = engineDeps(this.context, { progress: true, signal: abort.signal });
          let report: ApplyReport;
          try {
            // A hop that was down last cycle gets a short probe, not the listing's long timeouts.
            report = await runApply(config, deps, { confirm: async () => true, command: 'dualsync watch', probeFirst: wasDown });
          } catch (error) {
            if (isDualsyncError(error) && error.code === 'E_HOPS_UNREACHABLE') wasDown = new Set(['source', 'destination']);
            throw error;
          }
          deps.progressView?.finish();
          const hopsDown = hopsDownIn(report.run.gathered.inventory);
          wasDown = new Set(hopsDown.map((down) => down.hop));
          if (!report.outcome) {
            log(summaryLine(report.run.plan));
            return { changes: 0, failures: 0, hopsDown };
          }
          const outcome = report.outcome;
          if (outcome.failures.length > 0) this.context.stdout.write(renderApplyOutcome(outcome));
          else log(applySummaryLine(outcome));
          const changes = outcome.downloaded.count + outcome.uploaded.count + outcome.purged.count + outcome.adopted;
          return { changes, failures: outcome.failures.length, hopsDown };
        },
      });
      if (summary.fatal) throw summary.fatal;
      return this.once && summary.failedCycles > 0 ? 1 : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
