import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base.ts';
import { engineDeps, loadConfigFor } from '../context.ts';
import { runApply, type ApplyReport, } from '../../engine.ts';
import { parseDuration } from '../../config/units.ts';
import { backoffMs, watchLoop, type CycleResult, type HopDown } from '../../watch/loop.ts';
import { acquireLock, type Lock } from '../../apply/lock.ts';
import type { Config, RunEvent, Side } from '../../model/index.ts';
import { applyCountsText, renderApplyOutcome } from '../../view/apply.ts';
import { describeError, isDualsyncError, userError } from '../../errors.ts';
import { onStopSignals } from '../signals.ts';
import { cycleFacts } from '../../watch/facts.ts';
import { parseMetricsAddress, serveWatchMetrics, type ServedMetrics } from '../../watch/metrics.ts';
import { parseLogFormat, runLog } from '../log.ts';

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
function hopsDownIn(inventory: Record<Side, { unreachable?: string }>): HopDown[] {
  const down: HopDown[] = [];
  for (const hop of ['source', 'destination'] as const) {
    const cause = inventory[hop].unreachable;
    if (cause !== undefined) down.push({ hop, cause });
  }
  return down;
}

/** watch's last line. */
function stoppedLine(cycles: number, why: string): string {
  return `stopped after ${cycles} cycle${cycles === 1 ? '' : 's'}: ${why}`;
}

/** The last line of watch, and the same as a log event (`watch_stopped`, not a lock wait). */
function stoppedEvent(cycles: number, reason: string): { line: string; event: RunEvent } {
  const line = stoppedLine(cycles, reason);
  return { line, event: { event: 'watch_stopped', cycles, reason, message: line } };
}

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
    const cycleConfig: Config = { ...config, watch: { ...config.watch, intervalMs } };
    const runLogger = runLog(this.context.stdout, parseLogFormat(this.logFormat), () => new Date());
    const metricsAddress = this.metricsAddr === undefined ? undefined : parseMetricsAddress(this.metricsAddr, this.metricsAllowRemote);
    const signals = onStopSignals(this.context.stderr, 'finishing the current cycle');
    const log = (line: string) => runLogger.say(line, { event: 'lock_wait', message: line });
    let metrics: ServedMetrics | undefined;
    try {
      if (metricsAddress) {
        metrics = await serveWatchMetrics({ address: metricsAddress, stateDir: config.stateDir, env: this.context.env, now: () => new Date(), warn: (message) => this.context.stderr.write(`Warning: ${message}\n`) });
        runLogger.say(`metrics at ${metrics.url}`, { event: 'metrics_listen', url: metrics.url });
      }
      // Held for the whole life of watch, not per cycle: between cycles no apply or reset may
      // change the ledger under it, and status names it.
      const lock = await this.takeLock(config, intervalMs, signals.stop, log);
      if (!lock) {
        const stopped = stoppedEvent(0, typeof signals.stop.reason === 'string' ? signals.stop.reason : 'stop requested');
        runLogger.say(stopped.line, stopped.event);
        return 0;
      }
      let summary;
      try {
        let cycleNumber = 0;
        summary = await watchLoop({
          intervalMs,
          once: this.once,
          stop: signals.stop,
          random: Math.random,
          sleep,
          log: runLogger.loopLine,
          emit: runLogger.event,
          onCycle: metrics?.onCycle,
          cycle: async () => {
            const number = ++cycleNumber;
            let result = 'stopped';
            try {
              const counts = await this.cycle(cycleConfig, lock, signals.abort, this.retryFailed && number === 1);
              result = counts.failures > 0 ? `${counts.failures} object(s) failed` : counts.changes > 0 ? (counts.summary ?? `${counts.changes} change(s) applied`) : counts.waiting ? `${counts.waiting} object(s) waiting to retry` : 'in sync';
              return counts;
            } catch (error) {
              result = `error: ${describeError(error)}`;
              throw error;
            } finally {
              await lock.update({ lastCycle: { number, endedAt: new Date().toISOString(), result } }).catch((error: unknown) => {
                this.context.stderr.write(`Warning: could not note the cycle in the lock: ${describeError(error)}\n`);
              });
            }
          },
        });
      } finally {
        await lock.release();
      }
      // The last line says that watch stopped, and why: a journal read later has nothing else to go by.
      const stopped = stoppedEvent(summary.cycles, summary.stoppedBy);
      runLogger.say(stopped.line, stopped.event);
      if (summary.fatal) throw summary.fatal;
      return this.once && summary.failedCycles > 0 ? 1 : 0;
    } finally {
      await metrics?.close();
      signals.dispose();
    }
  }

  /** Hops that were down last cycle: probed briefly first, not listed with the long timeouts while still down. */
  #wasDown = new Set<Side>();

  /** One plan-and-apply cycle under the lock watch holds. */
  async cycle(config: Config, lock: Lock, abort: AbortSignal, retryFailed: boolean): Promise<CycleResult> {
    const json = this.logFormat === 'json';
    const deps = engineDeps(this.context, { progress: !json, signal: abort });
    let report: ApplyReport;
    try {
      report = await runApply(config, deps, { confirm: async () => true, command: 'dualsync watch', lock, retryFailed, probeFirst: this.#wasDown });
    } catch (error) {
      if (isDualsyncError(error) && error.code === 'E_HOPS_UNREACHABLE') this.#wasDown = new Set(['source', 'destination']);
      throw error;
    }
    deps.progressView?.finish();
    const hopsDown = hopsDownIn(report.run.gathered.inventory);
    this.#wasDown = new Set(hopsDown.map((down) => down.hop));
    const extra = { facts: cycleFacts(report), ...(hopsDown.length > 0 ? { hopsDown } : {}), ...(report.run.plan.summary.waiting ? { waiting: report.run.plan.summary.waiting.count } : {}) };
    // Nothing to do: the loop says "in sync" once, not a summary every cycle.
    if (!report.outcome) return { changes: 0, failures: 0, ...extra };
    const outcome = report.outcome;
    if (outcome.failures.length > 0 && !json) this.context.stdout.write(renderApplyOutcome(outcome));
    // Actions per hop, not their sum: 20 objects downloaded, delivered and purged are 20 objects.
    const changes = outcome.downloaded.count + outcome.uploaded.count + outcome.purged.count + outcome.adopted;
    const { source, destination } = report.run.gathered.inventory;
    if (changes === 0 && !(source.complete && destination.complete)) {
      return { changes, failures: 0, inSync: false, summary: 'no changes in what could be listed; a listing is incomplete (see the warnings)', ...extra };
    }
    return { changes, failures: outcome.failures.length, summary: applyCountsText(outcome), ...extra };
  }

  /**
   * Takes the state directory's lock for the life of watch. Another holder ends watch at once
   * (it names who); a full state disk is waited out, backing off, since freeing space fixes it.
   * Undefined when stopped while waiting.
   */
  async takeLock(config: Config, intervalMs: number, stop: AbortSignal, log: (line: string) => void): Promise<Lock | undefined> {
    const warn = (message: string) => this.context.stderr.write(`Warning: ${message}\n`);
    for (let failures = 1; !stop.aborted; failures++) {
      try {
        return await acquireLock(config.stateDir, 'dualsync watch', () => new Date(), warn);
      } catch (error) {
        if (!isDualsyncError(error) || !error.retryable) throw error;
        const wait = backoffMs(intervalMs, failures, Math.max(intervalMs, 15 * 60_000), Math.random);
        log(`cannot take the lock: ${error.message}; retrying in ${Math.round(wait / 1000)}s`);
        await sleep(wait, stop);
      }
    }
    return undefined;
  }
}
