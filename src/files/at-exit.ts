/**
 * Temporary files removed when the process exits with them still there (process.exit after a
 * second Ctrl-C, an uncaught error): the run's spools and a listing's sort file. A kill -9 runs
 * no hook; the next run removes a dead run's files.
 */
const cleanups = new Set<() => void>();
let hooked = false;

/** Runs `cleanup` at exit unless the returned function is called first (the files went in time). */
export function removeAtExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const run of cleanups) {
        try {
          run();
        } catch {
          // Exiting anyway; the next run removes what is left.
        }
      }
    });
  }
  return () => cleanups.delete(cleanup);
}
