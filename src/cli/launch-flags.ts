/**
 * The settings `watch` needs from the moment its process starts, and the one re-execution that
 * gives them; shared by the two ways dualsync starts: bin/dualsync (a checkout or `npm link`)
 * and the release's single executable (scripts/release.ts's entry).
 *
 * watch runs for months, and some of what keeps its memory flat can only be set when a process
 * starts: V8's young generation, which otherwise doubles to 128 MiB over a few hundred cycles,
 * and glibc's mmap threshold, which otherwise rises after the first large buffer is freed so that
 * later ones stay in the main heap, which never shrinks (measured: bench/soak.ts). So watch
 * re-executes itself once, in the same process (same pid for systemd, signals and the lock),
 * with them set. Settings the operator gave (NODE_OPTIONS, the variables themselves,
 * GLIBC_TUNABLES) are left as they are.
 *
 * Loaded by bin/dualsync before anything else of src/: it imports nothing.
 */

/** V8 flags for watch. */
export const WATCH_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
/** glibc variables for watch. */
export const WATCH_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };
/** Set on the re-executed process, so that it does not re-execute again. */
export const TUNED_VARIABLE = 'DUALSYNC_TUNED_FOR_WATCH';

/** The command the arguments name: the first one that is not an option or an option's value. */
export function commandOf(args: readonly string[]): string | undefined {
  const takesValue = new Set(['-c', '--config', '--shard']);
  for (let i = 0; i < args.length; i++) {
    if (takesValue.has(args[i]!)) i++;
    else if (!args[i]!.startsWith('-')) return args[i];
  }
  return undefined;
}

/** How this process was started, as far as the decision needs it. */
export interface LaunchSituation {
  /** The command's arguments (after the script, or after the executable in a release). */
  args: readonly string[];
  execPath: string;
  execArgv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The script Node runs (bin/dualsync), or undefined in the single executable, where the program
   * is the executable itself and Node takes no flags on its command line (only NODE_OPTIONS).
   */
  script: string | undefined;
}

/** What to execve: the program, its argv (argv[0] included) and its whole environment. */
export interface Relaunch {
  path: string;
  argv: string[];
  env: Record<string, string>;
}

/**
 * The re-execution that gives `watch` its memory settings, or undefined when there is none to
 * do: another command, or this process is the re-executed one. Pure: the caller does the execve.
 */
export function watchRelaunch(situation: LaunchSituation): Relaunch | undefined {
  const { args, env } = situation;
  if (env[TUNED_VARIABLE] !== undefined || commandOf(args) !== 'watch') return undefined;
  const nodeOptions = env.NODE_OPTIONS ?? '';
  const given = `${situation.execArgv.join(' ')} ${nodeOptions}`;
  const flags = WATCH_FLAGS.filter((flag) => !given.includes(flag.split('=')[0]!));
  const next: Record<string, string> = { [TUNED_VARIABLE]: '1' };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) next[name] = value;
  for (const [name, value] of Object.entries(WATCH_ENV)) if (env[name] === undefined && env.GLIBC_TUNABLES === undefined) next[name] = value;
  if (situation.script !== undefined) {
    return { path: situation.execPath, argv: [situation.execPath, ...flags, ...situation.execArgv, situation.script, ...args], env: next };
  }
  // A single executable reads NODE_OPTIONS (its sea-config keeps execArgvExtension at "env"),
  // and would pass flags on its command line to the program as arguments.
  if (flags.length > 0) next.NODE_OPTIONS = [nodeOptions.trim(), ...flags].filter((part) => part !== '').join(' ');
  return { path: situation.execPath, argv: [situation.execPath, ...args], env: next };
}

/**
 * For `watch`: re-executes this process with WATCH_FLAGS and WATCH_ENV, once; returns only when
 * not re-executed (another command, the re-executed process itself, or a platform without
 * process.execve). `script` as in LaunchSituation.
 */
export function tuneForWatch(args: readonly string[], script: string | undefined): void {
  if (process.env[TUNED_VARIABLE] !== undefined) {
    delete process.env[TUNED_VARIABLE];
    return;
  }
  // Linux only: the variables are glibc's, and process.execve does not exist on Windows.
  if (process.platform !== 'linux' || typeof process.execve !== 'function') return;
  const relaunch = watchRelaunch({ args, execPath: process.execPath, execArgv: process.execArgv, env: process.env, script });
  if (relaunch === undefined) return;
  try {
    process.execve(relaunch.path, relaunch.argv, relaunch.env);
  } catch (error) {
    // Not being able to tune is no reason not to run: watch runs as it is.
    process.stderr.write(`dualsync: watch runs without its memory settings (${(error as Error).message})\n`);
  }
}
