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
  const steps = [
    (signal: NodeJS.Signals) => {
      stderr.write(`\n${signal}: ${finishing} (${again(signal)} to stop the transfers at once)\n`);
      stop.abort();
    },
    (signal: NodeJS.Signals) => {
      stderr.write(`\n${signal}: stopping the transfers now; what was in flight is redone by the next run\n`);
      abort.abort();
    },
    // Something hangs after the transfers were stopped: leave now (the exit hook kills s5cmd).
    exitNow(stderr),
  ];
  return { stop: stop.signal, abort: abort.signal, dispose: onSignals(steps) };
}

/**
 * Ctrl-C (or SIGTERM) for a command that reads and changes nothing, such as `plan`: the first
 * stops its listings, so that their temporary files are removed on the way out; a second one
 * exits at once (the exit hooks still remove the spooled actions and a listing's sort file).
 */
export function onInterrupt(stderr: NodeJS.WritableStream, what: string): { signal: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const steps = [
    (signal: NodeJS.Signals) => {
      stderr.write(`\n${signal}: stopping ${what}; nothing was changed (${again(signal)} to exit at once)\n`);
      stop.abort();
    },
    exitNow(stderr),
  ];
  return { signal: stop.signal, dispose: onSignals(steps) };
}

function again(signal: NodeJS.Signals): string {
  return `${signal === 'SIGINT' ? 'Ctrl-C' : signal} again`;
}

function exitNow(stderr: NodeJS.WritableStream): (signal: NodeJS.Signals) => void {
  return (signal) => {
    stderr.write(`\n${signal}: exiting\n`);
    process.exit(130);
  };
}

/** Runs the n-th step on the n-th SIGINT or SIGTERM (the last one on any later); returns the handlers' removal. */
function onSignals(steps: ((signal: NodeJS.Signals) => void)[]): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    const step = steps[Math.min(received, steps.length - 1)] as (signal: NodeJS.Signals) => void;
    received += 1;
    step(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
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
