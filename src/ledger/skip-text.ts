/**
 * The skip reasons that dualsync stored as sentences in `skip_reason` until schema step 5, read
 * back as the codes and facts they were worded from. The sentences are those of view/reasons.ts
 * when step 5 shipped, copied here and frozen: a later change of wording must not change what an
 * old ledger's text means. A text is decoded only when its code's sentence, written again from
 * the facts read out of it, is that very text; anything else is kept whole as code `legacy`.
 * Pure.
 */
import type { ActionReason } from '../model/plan.ts';
import type { SkipReason } from '../model/objects.ts';

interface Sentence {
  pattern: RegExp;
  reason: (match: RegExpMatchArray) => SkipReason | undefined;
  text: (reason: ActionReason) => string;
}

const NUMBER = '(0|[1-9][0-9]*)';
const JSON_TEXT = '("(?:[^"\\\\]|\\\\.)*")';

/** A JSON string literal's value, or undefined when it is none. */
function jsonString(literal: string | undefined): string | undefined {
  try {
    const value = JSON.parse(literal ?? '') as unknown;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

const SENTENCES: readonly Sentence[] = [
  { pattern: /^empty key$/, reason: () => ({ code: 'key-empty' }), text: () => 'empty key' },
  { pattern: /^ends with '\/' \(a directory marker, not a file\)$/, reason: () => ({ code: 'key-directory-marker' }), text: () => "ends with '/' (a directory marker, not a file)" },
  { pattern: /^empty path segment \('\/\/' or a leading '\/'\)$/, reason: () => ({ code: 'key-empty-segment' }), text: () => "empty path segment ('//' or a leading '/')" },
  { pattern: /^'(\.\.?)' path segment \(would leave its folder\)$/, reason: (m) => ({ code: 'key-dot-segment', segment: m[1]! }), text: (r) => `'${r.segment ?? ''}' path segment (would leave its folder)` },
  {
    pattern: new RegExp(`^path segment of ${NUMBER} bytes \\(a file or folder name holds at most ${NUMBER}\\)$`),
    reason: (m) => ({ code: 'key-segment-too-long', bytes: Number(m[1]), maxBytes: Number(m[2]) }),
    text: (r) => `path segment of ${r.bytes ?? 0} bytes (a file or folder name holds at most ${r.maxBytes ?? 0})`,
  },
  {
    pattern: new RegExp(`^file name of ${NUMBER} bytes \\(s5cmd's temporary name adds up to 10 digits; at most ${NUMBER} fit\\)$`),
    reason: (m) => ({ code: 'key-file-name-too-long', bytes: Number(m[1]), maxBytes: Number(m[2]) }),
    text: (r) => `file name of ${r.bytes ?? 0} bytes (s5cmd's temporary name adds up to 10 digits; at most ${r.maxBytes ?? 0} fit)`,
  },
  { pattern: /^first segment '(.*)' is reserved for dualsync's temporary files$/s, reason: (m) => ({ code: 'key-reserved-temp', segment: m[1]! }), text: (r) => `first segment '${r.segment ?? ''}' is reserved for dualsync's temporary files` },
  { pattern: /^first segment '(.*)' is reserved for the volume's claim$/s, reason: (m) => ({ code: 'key-reserved-claim', segment: m[1]! }), text: (r) => `first segment '${r.segment ?? ''}' is reserved for the volume's claim` },
  { pattern: /^control character (U\+[0-9A-F]{4}) \(a run file line cannot carry it\)$/, reason: (m) => ({ code: 'key-control-character', unit: m[1]! }), text: (r) => `control character ${r.unit ?? ''} (a run file line cannot carry it)` },
  { pattern: /^lone surrogate (U\+[0-9A-F]{4}) \(not valid UTF-8\)$/, reason: (m) => ({ code: 'key-lone-surrogate', unit: m[1]! }), text: (r) => `lone surrogate ${r.unit ?? ''} (not valid UTF-8)` },
  {
    pattern: /^under the destination prefix (.*) of the same bucket (.*): dualsync's own output$/s,
    reason: (m) => ({ code: 'own-output', prefix: m[1]!, bucket: m[2]! }),
    text: (r) => `under the destination prefix ${r.prefix ?? ''} of the same bucket ${r.bucket ?? ''}: dualsync's own output`,
  },
  {
    pattern: new RegExp(`^destination key of ${NUMBER} bytes under the destination prefix ${JSON_TEXT} \\(an S3 key holds at most ${NUMBER}\\)$`, 's'),
    reason: (m) => {
      const prefix = jsonString(m[2]);
      return prefix === undefined ? undefined : { code: 'destination-key-too-long', bytes: Number(m[1]), prefix, maxBytes: Number(m[3]) };
    },
    text: (r) => `destination key of ${r.bytes ?? 0} bytes under the destination prefix ${JSON.stringify(r.prefix ?? '')} (an S3 key holds at most ${r.maxBytes ?? 0})`,
  },
  {
    pattern: /^its local path passes through the symbolic link (.*) \(links below a volume root are not followed\)$/s,
    reason: (m) => ({ code: 'path-through-link', link: m[1]! }),
    text: (r) => `its local path passes through the symbolic link ${r.link ?? ''} (links below a volume root are not followed)`,
  },
];

/** A skip reason stored as text before schema step 5, as its code and facts; `legacy` with the text when it names no known reason. */
export function skipReasonFromText(text: string): SkipReason {
  if (text === 'unsafe key') return { code: 'unsafe-key' };
  for (const sentence of SENTENCES) {
    const match = text.match(sentence.pattern);
    if (match === null) continue;
    const reason = sentence.reason(match);
    if (reason !== undefined && reason.code !== 'unsafe-key' && reason.code !== 'legacy' && sentence.text(reason) === text) return reason;
  }
  return { code: 'legacy', text };
}
