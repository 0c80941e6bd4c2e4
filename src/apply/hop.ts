/**
 * A hop as apply sees it: lines go in with the action they carry out, and each line's result
 * comes back as that action's success or failure. The real hop is one long-lived `s5cmd run`
 * (HopRunner); unit tests put a fake in its place, so that feeding, chaining and failure
 * matching are tried without s5cmd or a server.
 */
import type { Action, Config, FailureFacts, Hop } from '../model/index.ts';
import { localPath, tempPath } from '../plan/volume-paths.ts';
import { HopRunner, type HopRunResult } from './runner.ts';
import { s5cmdEnv, s5cmdGlobalArgs } from './s5cmd.ts';

export type { HopRunResult } from './runner.ts';

/** What a hop reports, line by line. `action` is undefined for a line that names no action sent (not expected). */
export interface HopEvents {
  onSuccess(action: Action | undefined): void;
  onFailure(action: Action | undefined, error: string): void;
}

export interface TransferHop {
  /** Queues one run-file line (without its newline) that carries out `action`. */
  send(line: string, action: Action): void;
  /** No more lines: the hop finishes what it has. */
  end(): void;
  /** Resolves when the hop has finished: how it ended. */
  done(): Promise<HopRunResult>;
  /** Set when the watchdog stopped the hop (why); lines sent after that are dropped. */
  readonly stalled: string | undefined;
}

/** Opens one hop's transfers. */
export type OpenHop = (hop: Hop, events: HopEvents, options: { workers: number; signal: AbortSignal }) => TransferHop;

/** The real hops: one `s5cmd --json run` each, with that hop's endpoint, credentials and workers. */
export function s5cmdHops(s5cmd: string, config: Config, env: NodeJS.ProcessEnv | undefined): OpenHop {
  return (hop, events, options) => new S5cmdHop(hop, events, { s5cmd, config, env, ...options });
}

/**
 * How s5cmd names one action's line on a hop: by the path it reports when the copy is done (the
 * temporary file of a download, the local file of an upload), and, when the line fails, by its
 * command re-joined with spaces, which ends with " SOURCE DESTINATION".
 */
export interface LineNames {
  reported(action: Action): string;
  ending(action: Action): string;
}

/** The names s5cmd gives the lines of one hop of this config. */
export function lineNames(hop: Hop, config: Config): LineNames {
  if (hop === 'download') {
    return {
      reported: (a) => tempPath(a.volume!, a.key),
      ending: (a) => ` s3://${config.source.bucket}/${config.source.prefix}${a.key} ${tempPath(a.volume!, a.key)}`,
    };
  }
  return {
    reported: (a) => localPath(a.volume!, a.key),
    ending: (a) => ` ${localPath(a.volume!, a.key)} s3://${config.destination.bucket}/${config.destination.prefix}${a.key}`,
  };
}

/**
 * The action of a failed command, by its ending: the command's endings at its spaces are looked
 * up in one map, rather than every action scanning every error line, which a dead link (all
 * objects failed) made quadratic. No ending can hide inside another key: an ending holds '//'
 * (the s3:// of its URL), which no stageable key does.
 */
export function actionOfCommand(command: string, byEnding: ReadonlyMap<string, Action>): Action | undefined {
  for (let space = command.indexOf(' '); space !== -1; space = command.indexOf(' ', space + 1)) {
    const action = byEnding.get(command.slice(space));
    if (action !== undefined) return action;
  }
  return undefined;
}

/** One hop through HopRunner: each reported line is matched back to the action sent with it. */
class S5cmdHop implements TransferHop {
  readonly #runner: HopRunner;
  readonly #byReported = new Map<string, Action>();
  readonly #byEnding = new Map<string, Action>();
  readonly #names: LineNames;

  constructor(hop: Hop, events: HopEvents, options: { s5cmd: string; config: Config; env: NodeJS.ProcessEnv | undefined; workers: number; signal: AbortSignal }) {
    const { config } = options;
    const endpoint = hop === 'download' ? config.source : config.destination;
    this.#names = lineNames(hop, config);
    this.#runner = new HopRunner({
      s5cmd: options.s5cmd,
      args: s5cmdGlobalArgs(endpoint, options.workers),
      env: s5cmdEnv(endpoint, options.env),
      signal: options.signal,
      stall: { timeoutMs: config.transfer.stallTimeoutMs, hop },
      recordIn: config.stateDir,
      onSuccess: (result) => events.onSuccess(this.#byReported.get(hop === 'download' ? result.destination : result.source)),
      onFailure: (failure) => events.onFailure(actionOfCommand(failure.command, this.#byEnding), failure.error),
    });
  }

  send(line: string, action: Action): void {
    this.#byReported.set(this.#names.reported(action), action);
    this.#byEnding.set(this.#names.ending(action), action);
    this.#runner.send(line);
  }

  end(): void {
    this.#runner.end();
  }

  done(): Promise<HopRunResult> {
    return this.#runner.done();
  }

  get stalled(): string | undefined {
    return this.#runner.stalled;
  }
}

/** What is known when a hop ended without reporting on an object. */
export function hopEndedWithout(result: HopRunResult): FailureFacts {
  if (result.stalled !== undefined) return { code: 'stalled', cause: result.stalled };
  if (result.signal) return { code: 's5cmd-killed', signal: result.signal };
  if (result.otherErrors.length > 0) return { code: 's5cmd-output', lines: result.otherErrors.slice(-3) };
  return result.exitCode === undefined ? { code: 's5cmd-exited' } : { code: 's5cmd-exited', exitCode: result.exitCode };
}
