/**
 * The names dualsync keeps on a staging volume, beside the staged keys. A key whose first segment
 * is one of them is refused (plan/keys.ts); the mapping of keys onto a volume is in
 * plan/volume-paths.ts.
 */

/**
 * Apply downloads into `<volumeRoot>/.dualsync-tmp/<key>` and renames to `<volumeRoot>/<key>` once
 * verified, so a half-written object never sits at its final path. s5cmd itself writes into Go's
 * `os.CreateTemp(dir, name)` beside that path: the name plus up to 10 digits, or, when the name
 * holds a `*`, digits in place of its last `*`. Everything in this folder is dualsync's own.
 */
export const TEMP_DIR = '.dualsync-tmp';

/**
 * `<volumeRoot>/.dualsync-volume` names the state directory that owns the volume
 * (src/inventory/claims.ts); a key of that name would overwrite the claim.
 */
export const CLAIM_FILE = '.dualsync-volume';
