/**
 * Credentials are needed only by a command that contacts a hop, and only that hop's. The
 * config loads without them (parse.ts, deferCredentials); this is the check at the point of
 * use, so that `status` from another shell, with no secrets there, still works.
 */
import { userError } from '../errors.ts';
import type { HopConfig } from '../model/config.ts';

/** Throws a user error naming each unset variable of this hop's credentials, with file:line. */
export function requireCredentials(hop: HopConfig): void {
  const credentials = hop.credentials;
  if (credentials.kind !== 'static' || credentials.unset === undefined || credentials.unset.length === 0) return;
  const names = [...new Set(credentials.unset.map((u) => u.variable))];
  const side = credentials.unset[0]?.field.split('.')[0] ?? 'this';
  throw userError('E_CREDENTIALS_UNSET', `the ${side} hop's credentials are not set: ${names.join(', ')}`, {
    details: credentials.unset.map((u) => `${u.where}  ${u.field}: environment variable ${u.variable} is not set`),
    hint: `set ${names.join(' and ')} in the environment that runs dualsync (commands that contact no endpoint, such as status, need none)`,
  });
}
