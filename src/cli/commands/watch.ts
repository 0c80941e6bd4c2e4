import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { parseDuration } from '../../config/units.ts';
import type { WatchEvent } from '../../watch/events.ts';
import type { Config } from '../../model/index.ts';
import type { ServedMetrics } from '../../watch/metrics.ts';
import { userError } from '../../errors.ts';
import { parseLogFormat, runLog } from '../log.ts';

export class WatchCommand extends BaseCommand {
  static override paths = [['watch']];
  static override usage = Command.Usage({
    description: 'plan and apply in a loop, for continuous edge sync',
    details: `
      Runs plan and apply every interval (\`watch.interval\` in the config, or \`--interval\`).
      Within each cycle both hops run at once: uploads of staged data go out while downloads come in.
      A failed object is retried next cycle; if it fails again it backs off on its own
      (\`transfer.retryBackoff\`: 1 cycle, 2, 4, ... up to 6h by default) while the rest keeps
      moving. \`--retry-failed\` tries such objects in the first cycle.
      Errors back off exponentially with jitter; an error that a retry cannot fix (wrong
      credentials, a broken ledger) stops the loop with exit 1, and so does an internal error
      (a bug in dualsync), printed with its stack to report.

      watch holds the state directory's lock for its whole life, also between cycles: \`apply\` and
      \`reset\` refuse while it runs, and \`status\` shows it with its last cycle.

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
      ['One cycle that also tries the objects waiting after failures', 'dualsync watch --once --retry-failed'],
    ],
  });

  interval = Option.String('--interval', { description: 'Time between cycles, e.g. 30s, 5m (default: watch.interval)' });
  once = Option.Boolean('--once', false, { description: 'Run one cycle and exit' });
  retryFailed = Option.Boolean('--retry-failed', false, { description: 'In the first cycle, try objects that back off after failures' });
  metricsAddr = Option.String('--metrics-addr', { description: 'Serve Prometheus metrics at HOST:PORT/metrics, e.g. 127.0.0.1:9464 (default: off)' });
  metricsAllowRemote = Option.Boolean('--metrics-allow-remote', false, { description: 'Allow --metrics-addr on an address other than the loopback' });
  logFormat = Option.String('--log-format', 'human', { description: 'human (default), or json: one JSON object per event and line, for journald and Loki' });

  async run(): Promise<number> {
    const [{ engineDeps, loadConfigFor }, { runWatch }, { renderApplyOutcome }, { lastCycleNote, watchLine, watchLogEvents }, { onStopSignals }, { parseMetricsAddress, serveWatchMetrics }] = await Promise.all([
      import('../context.ts'),
      import('../../watch/run.ts'),
      import('../../view/apply.ts'),
      import('../../view/watch.ts'),
      import('../signals.ts'),
      import('../../watch/metrics.ts'),
    ]);
    const config = await loadConfigFor(this.context, this.configPath());
    let intervalMs = config.watch.intervalMs;
    if (this.interval !== undefined) {
      try {
        intervalMs = parseDuration(this.interval);
      } catch (error) {
        throw userError('E_USAGE', `--interval: ${(error as Error).message}`, { hint: 'write a duration such as 30s, 5m or 1h' });
      }
    }
    // One cycle is the unit of an object's backoff (unless transfer.retryBackoff.base says otherwise).
    const watchConfig: Config = { ...config, watch: { ...config.watch, intervalMs } };
    const json = parseLogFormat(this.logFormat) === 'json';
    const runLogger = runLog(this.context.stdout, json ? 'json' : 'human', () => new Date());
    const metricsAddress = this.metricsAddr === undefined ? undefined : parseMetricsAddress(this.metricsAddr, this.metricsAllowRemote);
    const signals = onStopSignals(this.context.stderr, 'finishing the current cycle');
    const warn = (message: string) => this.context.stderr.write(`Warning: ${message}\n`);
    const show = (event: WatchEvent) => {
      if (json) {
        for (const logged of watchLogEvents(event)) runLogger.event(logged);
        return;
      }
      // A cycle with failed objects shows them as apply does, before its line.
      if (event.event === 'cycle_end' && event.kind === 'failures' && event.result.outcome) this.context.stdout.write(renderApplyOutcome(event.result.outcome));
      const line = watchLine(event);
      if (line !== undefined) runLogger.loopLine(line);
    };
    let metrics: ServedMetrics | undefined;
    try {
      if (metricsAddress) {
        metrics = await serveWatchMetrics({ address: metricsAddress, stateDir: config.stateDir, env: this.context.env, now: () => new Date(), warn });
        runLogger.say(`metrics at ${metrics.url}`, { event: 'metrics_listen', url: metrics.url });
      }
      const summary = await runWatch({
        config: watchConfig,
        once: this.once,
        retryFailed: this.retryFailed,
        stop: signals.stop,
        cycleDeps: () => {
          const deps = engineDeps(this.context, { progress: !json, signal: signals.abort });
          return { deps, finish: () => deps.progressView?.finish() };
        },
        emit: show,
        onCycle: metrics?.onCycle,
        warn,
        lastCycleNote,
      });
      if (summary.fatal) throw summary.fatal;
      return this.once && summary.failedCycles > 0 ? 1 : 0;
    } finally {
      await metrics?.close();
      signals.dispose();
    }
  }
}
