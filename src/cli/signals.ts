import { killRunningHops } from '../apply/running-hops.ts';

export interface StopSignals {
  /** Aborts on the first SIGINT, SIGTERM or SIGHUP: finish what was started, start nothing new. */
  stop: AbortSignal;
  /** Aborts on the second: stop the transfers at once (what was in flight is redone next time). A third exits. */
  abort: AbortSignal;
  /** Removes the handlers; call it when the command ends. */
  dispose(): void;
}

/**
 * The two-step stop of apply and watch. The s5cmd children run in process groups of their own,
 * so a Ctrl-C on the terminal (which signals the whole foreground group) reaches dualsync only,
 * and dualsync alone decides when they stop. SIGHUP (the terminal closed, the ssh session
 * dropped) is a stop like SIGTERM: by default it would end dualsync at once, leaving its s5cmd
 * running and its lock behind.
 */
export function onStopSignals(stderr: NodeJS.WritableStream, finishing: string): StopSignals {
  const stop = new AbortController();
  const abort = new AbortController();
  const steps = [
    (signal: NodeJS.Signals) => {
      stderr.write(`\n${signal}: ${finishing} (${again(signal)} to stop the transfers at once)\n`);
      stop.abort(signal); // the reason names the signal: watch's last line says what stopped it
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

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Output after a hangup may meet a terminal that is gone (EIO): the stop must go on regardless. */
const ignoreOutputErrors = (): void => undefined;

/** Runs the n-th step on the n-th SIGINT, SIGTERM or SIGHUP (the last one on any later); returns the handlers' removal. */
function onSignals(steps: ((signal: NodeJS.Signals) => void)[]): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signal === 'SIGHUP') {
      process.stdout.on('error', ignoreOutputErrors);
      process.stderr.on('error', ignoreOutputErrors);
    }
    const step = steps[Math.min(received, steps.length - 1)] as (signal: NodeJS.Signals) => void;
    received += 1;
    step(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  };
}

let exitHookInstalled = false;

/**
 * s5cmd must not outlive dualsync: its own process group shields it from the terminal's
 * signals, so when dualsync exits (normally, on an uncaught error, or by process.exit) every
 * s5cmd still running is killed. A SIGKILL of dualsync runs no hook, and s5cmd would finish the
 * transfers it holds; each one is recorded in the state directory (apply/children.ts), and the
 * next run stops it before it moves anything.
 */
export function killHopsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => killRunningHops('SIGKILL'));
}
