/** The doctor's findings as data: one check per row, and the report that folds them. Pure; the words of the table live in view/doctor.ts. */

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  /** What is checked: `source`, `destination`, `s5cmd`, `volume /tmp/volume-01`, `state`, `config`. */
  scope: string;
  /** The check's short name: `reachable`, `tls`, `list`, `clock`, `write`... */
  check: string;
  status: CheckStatus;
  /** What was found, in a sentence. */
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export interface DoctorReport {
  config: string;
  checks: DoctorCheck[];
  counts: Record<CheckStatus, number>;
  /** False when any check failed: the exit code is then 1. */
  ok: boolean;
}

/** Folds checks into the report (counts and verdict) that both views show. */
export function doctorReport(config: string, checks: DoctorCheck[]): DoctorReport {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const check of checks) counts[check.status]++;
  return { config, checks, counts, ok: counts.fail === 0 };
}
