import { killRunningHops } from '../apply/runner.ts';

export interface StopSignals {
  /** Aborts on the first SIGINT or SIGTERM: finish what was started, start nothing new. */
  stop: AbortSignal;
  /** Aborts on the second: stop the transfers at once (what was in flight is redone next time). A third exits. */
  abort: AbortSignal;
  /** Removes the handlers; call it when the command ends. */
  dispose(): void;
}

/**
 * The two-step stop of apply and watch. The s5cmd children run in process groups of their own,
 * so a Ctrl-C on the terminal (which signals the whole foreground group) reaches dualsync only,
 * and dualsync alone decides when they stop.
 */
export function onStopSignals(stderr: NodeJS.WritableStream, finishing: string): StopSignals {
  const stop = new AbortController();
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      stderr.write(`\n${signal}: ${finishing} (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to stop the transfers at once)\n`);
      stop.abort();
    } else if (!abort.signal.aborted) {
      stderr.write(`\n${signal}: stopping the transfers now; what was in flight is redone by the next run\n`);
      abort.abort();
    } else {
      // Something hangs after the transfers were stopped: leave now (the exit hook kills s5cmd).
      stderr.write(`\n${signal}: exiting\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stop: stop.signal,
    abort: abort.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * Ctrl-C (or SIGTERM) for a command that reads and changes nothing, such as `plan`: the first
 * stops its listings, so that their temporary files are removed on the way out; a second one
 * exits at once (the exit hooks still remove the spooled actions; a listing's sort file is then
 * removed by the next run).
 */
export function onInterrupt(stderr: NodeJS.WritableStream, what: string): { signal: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      stderr.write(`\n${signal}: stopping ${what}; nothing was changed (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to exit at once)\n`);
      stop.abort();
    } else {
      stderr.write(`\n${signal}: exiting\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: stop.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

let exitHookInstalled = false;

/**
 * s5cmd must not outlive dualsync: its own process group shields it from the terminal's
 * signals, so when dualsync exits (normally, on an uncaught error, or by process.exit) every
 * s5cmd still running is killed. A SIGKILL of dualsync runs no hook; s5cmd then dies on its
 * next output line (its stdout pipe has no reader) and the next run clears its temporary files.
 */
export function killHopsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => killRunningHops('SIGKILL'));
}
