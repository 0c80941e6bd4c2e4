/**
 * `npm run bench -- NAME [ARGS...]`: runs one registered benchmark (all of them without NAME).
 * A benchmark registers with one line below: its name and a loader that runs it with the
 * remaining arguments.
 */
const benches: Record<string, (args: string[]) => Promise<void>> = {
  plan: async (args) => (await import('./plan.ts')).benchPlan(args),
  apply: async (args) => (await import('./apply.ts')).benchApply(args[0]),
  ledger: async (args) => (await import('./ledger.ts')).benchLedger(args),
  listing: async (args) => (await import('./listing.ts')).benchListing(args),
  scale: async (args) => (await import('./scale.ts')).benchScale(args),
  soak: async (args) => (await import('./soak.ts')).benchSoak(args),
  check: async (args) => (await import('./check.ts')).benchCheck(args[0]),
  planfile: async (args) => (await import('./planfile.ts')).benchPlanfile(args),
};

const [name, ...args] = process.argv.slice(2);
if (name !== undefined && !(name in benches)) {
  console.error(`unknown bench "${name}"; known: ${Object.keys(benches).join(', ')}`);
  process.exitCode = 1;
} else {
  for (const [benchName, run] of Object.entries(benches)) {
    if (name !== undefined && benchName !== name) continue;
    console.log(`== bench ${benchName}`);
    await run(args);
  }
}
