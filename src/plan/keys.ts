/**
 * The one key order, and the one judgement of whether a key can be staged faithfully. Pure. Keys
 * are never normalised: NFC and NFD twins, case twins and every punctuation character pass through
 * byte-exact; only keys that no local path can hold safely are refused, each with a reason an
 * operator can act on. The mapping onto a volume is in volume-paths.ts, the names dualsync keeps
 * on a volume in model/volume-layout.ts.
 */
import type { ActionReason } from '../model/plan.ts';
import { CLAIM_FILE, TEMP_DIR } from '../model/volume-layout.ts';

/** Linux NAME_MAX: the longest file or directory name, in bytes. */
const MAX_SEGMENT_BYTES = 255;

/**
 * s5cmd downloads into os.CreateTemp(dir, name), which appends up to 10 digits (a uint32) to the
 * file name; a final segment longer than this makes every download of it fail with "file name too long".
 */
const MAX_FILE_NAME_BYTES = MAX_SEGMENT_BYTES - 10;

/** A UTF-16 code unit costs at most 3 UTF-8 bytes, so shorter segments need no byte count. */
const SAFE_SEGMENT_UNITS = Math.floor(MAX_FILE_NAME_BYTES / 3);

/** A UTF-16 surrogate: half of a character at U+10000 or above (4 bytes in UTF-8, lead byte F0-F4). */
const SURROGATE = /[\uD800-\uDFFF]/;
/** A code unit at U+E000-U+FFFF (3 bytes in UTF-8, lead byte EE or EF): above every surrogate in UTF-16. */
const TOP_OF_BMP = /[\uE000-\uFFFF]/;

/**
 * The one key order: UTF-8 bytes, which is S3's listing order (ListObjectsV2), SQLite's BINARY
 * collation (the ledger's `ORDER BY key`) and code point order. Everything that sorts, merges or
 * binary-searches keys uses it, so that listings, ledger cursors and the planner's own arrays all
 * agree and a merge never pairs the wrong keys.
 *
 * JavaScript's `<` compares UTF-16 code units, which agrees with UTF-8 bytes except at one place:
 * a surrogate (D800-DFFF, half of an astral character such as an emoji) against a unit in
 * E000-FFFF. In UTF-16 the surrogate sorts first; in UTF-8 the astral character (F0...) sorts
 * after it (EE.../EF...). So `<` decides, unless the string it puts first holds a surrogate and
 * the other a unit of E000-FFFF; only then is the first differing unit looked at. No encoding,
 * no allocation: the planner sorts and merges millions of keys with it.
 *
 * A lone surrogate (not valid UTF-8, never an S3 key) sorts as if it were part of a pair: the
 * order stays total and consistent.
 */
export function compareKeys(a: string, b: string): number {
  if (a < b) return SURROGATE.test(a) && TOP_OF_BMP.test(b) ? compareFromFirstDifference(a, b) : -1;
  if (a === b) return 0;
  return SURROGATE.test(b) && TOP_OF_BMP.test(a) ? compareFromFirstDifference(a, b) : 1;
}

/** A code unit at which `<` and {@link compareKeys} may part: a surrogate, or one of E000-FFFF. */
const HIGH_UNIT = /[\uD800-\uFFFF]/;
const HIGH_UNITS = /[\uD800-\uFFFF]/g;

/** E000-FFFF down to D800-F7FF, surrogates up to F800-FFFF: code-unit order becomes UTF-8 order. */
function remapUnit(unit: string): string {
  const code = unit.charCodeAt(0);
  return String.fromCharCode(code >= 0xe000 ? code - 0x800 : code + 0x2000);
}

/**
 * A string whose code-unit order (`<`) is {@link compareKeys}' order: the key itself when it
 * holds no unit of D800-FFFF (almost every key), else a copy with those units moved so that the
 * astral characters' surrogates sort above U+E000-U+FFFF. For sorting many keys: each is
 * remapped once, and then every comparison of the sort is a plain `<`.
 */
export function sortableKey(key: string): string {
  return HIGH_UNIT.test(key) ? key.replace(HIGH_UNITS, remapUnit) : key;
}

/**
 * Plain code-unit order: {@link compareKeys}' order for {@link sortableKey} results, and for keys
 * that hold no unit of D800-FFFF (each its own sortable key).
 */
export function compareSortableKeys(a: string, b: string): number {
  return a < b ? -1 : a === b ? 0 : 1;
}

/** UTF-8 order of two different strings, decided at their first differing code unit. */
function compareFromFirstDifference(a: string, b: string): number {
  const shorter = Math.min(a.length, b.length);
  let i = 0;
  while (i < shorter && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === shorter) return a.length < b.length ? -1 : 1;
  const unitA = a.charCodeAt(i);
  const unitB = b.charCodeAt(i);
  const surrogateA = unitA >= 0xd800 && unitA <= 0xdfff;
  const surrogateB = unitB >= 0xd800 && unitB <= 0xdfff;
  if (surrogateA && unitB >= 0xe000) return 1;
  if (surrogateB && unitA >= 0xe000) return -1;
  return unitA < unitB ? -1 : 1;
}

/** UTF-8 length of `text.slice(start, end)` without encoding it. */
function utf8Bytes(text: string, start: number, end: number): number {
  let bytes = 0;
  for (let i = start; i < end; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function describeUnit(unit: number): string {
  return `U+${unit.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why one segment `key.slice(start, end)` cannot be a path component, if it cannot. */
function segmentProblem(key: string, start: number, end: number, last: boolean): ActionReason | undefined {
  const units = end - start;
  if (units === 0) return { code: 'key-empty-segment' };
  if (units <= 2 && (key.slice(start, end) === '.' || key.slice(start, end) === '..')) {
    return { code: 'key-dot-segment', segment: key.slice(start, end) };
  }
  if (units <= SAFE_SEGMENT_UNITS) return undefined;
  const bytes = utf8Bytes(key, start, end);
  if (bytes > MAX_SEGMENT_BYTES) return { code: 'key-segment-too-long', bytes, maxBytes: MAX_SEGMENT_BYTES };
  if (last && bytes > MAX_FILE_NAME_BYTES) return { code: 'key-file-name-too-long', bytes, maxBytes: MAX_FILE_NAME_BYTES };
  return undefined;
}

/**
 * Undefined when the key can be staged faithfully; otherwise the reason, naming the problem (view/reasons.ts words it).
 * Refused only what no local path can hold safely: `.`/`..` or empty segments, a trailing `/` (a
 * directory marker), an over-long segment, a control character or lone surrogate (a run file line
 * cannot carry it), or the reserved first segments `.dualsync-tmp` and `.dualsync-volume`.
 */
export function keySkipReason(key: string): ActionReason | undefined {
  if (key.length === 0) return { code: 'key-empty' };
  if (key.charCodeAt(key.length - 1) === 0x2f) return { code: 'key-directory-marker' };
  let segmentStart = 0;
  for (let i = 0; i < key.length; i++) {
    const unit = key.charCodeAt(i);
    if (unit === 0x2f) {
      const problem = segmentProblem(key, segmentStart, i, false);
      if (problem !== undefined) return problem;
      if (segmentStart === 0 && i === TEMP_DIR.length && key.startsWith(TEMP_DIR)) {
        return { code: 'key-reserved-temp', segment: TEMP_DIR };
      }
      segmentStart = i + 1;
    } else if (unit < 0x20 || unit === 0x7f) {
      return { code: 'key-control-character', unit: describeUnit(unit) };
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      const low = key.charCodeAt(i + 1);
      if (unit >= 0xdc00 || !(low >= 0xdc00 && low <= 0xdfff)) return { code: 'key-lone-surrogate', unit: describeUnit(unit) };
      i++;
    }
  }
  if (segmentStart === 0 && key === TEMP_DIR) return { code: 'key-reserved-temp', segment: TEMP_DIR };
  if (key === CLAIM_FILE || key.startsWith(`${CLAIM_FILE}/`)) return { code: 'key-reserved-claim', segment: CLAIM_FILE };
  return segmentProblem(key, segmentStart, key.length, true);
}

/**
 * A judge of source keys that are dualsync's own output: when both hops name the same bucket and
 * the destination prefix lies strictly inside the source prefix, the source listing holds what the
 * destination hop wrote there, if both endpoints reach one server (127.0.0.1 and localhost, a
 * proxy...). Planning them would copy them one level deeper on every run, without end, so they are
 * skipped whatever the endpoints say. Equal prefixes, or a source prefix inside the destination's,
 * are the ordinary layout of two servers with one bucket name; `validate` refuses them when it
 * can tell the servers are one. Takes relative keys (source key minus the source prefix).
 */
export function ownOutputSkip(
  source: { bucket: string; prefix: string },
  destination: { bucket: string; prefix: string },
): (relativeKey: string) => ActionReason | undefined {
  if (source.bucket !== destination.bucket) return () => undefined;
  if (destination.prefix.length <= source.prefix.length || !destination.prefix.startsWith(source.prefix)) return () => undefined;
  const output = destination.prefix.slice(source.prefix.length);
  const reason: ActionReason = { code: 'own-output', bucket: destination.bucket, prefix: destination.prefix };
  return (key) => (key.startsWith(output) ? reason : undefined);
}

/** The longest S3 key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * A judge of relative keys whose destination key (destination prefix + key) would be longer than
 * S3 allows: its upload would fail on every retry after the download, so the key is skipped at
 * plan time with the reason.
 */
export function destinationKeySkip(destinationPrefix: string): (relativeKey: string) => ActionReason | undefined {
  const prefixBytes = utf8Bytes(destinationPrefix, 0, destinationPrefix.length);
  return (key) => {
    // A UTF-16 unit is at most 3 bytes: most keys need no count.
    if (prefixBytes + key.length * 3 <= MAX_KEY_BYTES) return undefined;
    const bytes = prefixBytes + utf8Bytes(key, 0, key.length);
    if (bytes <= MAX_KEY_BYTES) return undefined;
    return { code: 'destination-key-too-long', bytes, prefix: destinationPrefix, maxBytes: MAX_KEY_BYTES };
  };
}
