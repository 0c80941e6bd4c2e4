/**
 * A scanner made for S3's `ListBucketResult`, over the answer's bytes. A general XML parser
 * (saxes) spends most of a plan's time on events for every character class of every element;
 * this one looks for `<` and `>` with `Buffer.indexOf`, names the elements it knows by their bytes,
 * and decodes only the texts the listing reads (keys, sizes, ETags, the paging fields). Measured
 * on one 1M-key v1 answer: about five times saxes' speed.
 *
 * It knows elements, the XML declaration and processing instructions, text, the five named
 * entities and numeric character references, and nothing else: on a comment, CDATA, a doctype,
 * an entity it does not know, a close tag that does not match, a character XML forbids, or an
 * answer that ends inside an element, it hands the rest over to the full parser
 * ({@link ListingElements.handOver}) from the end of the last tag it read, so that every
 * answer reads exactly as the full parser reads it, errors included. A chunk may end anywhere
 * (inside a tag, an entity or a multi-byte character): what follows the last whole tag waits for
 * the next chunk.
 */

/** Element names the listing reads, and those it passes over (known, so their names cost no string). */
export const ELEMENT = {
  other: 0,
  ListBucketResult: 1,
  Contents: 2,
  Key: 3,
  Size: 4,
  ETag: 5,
  IsTruncated: 6,
  NextMarker: 7,
  NextContinuationToken: 8,
  EncodingType: 9,
  LastModified: 10,
  StorageClass: 11,
  Owner: 12,
  ID: 13,
  DisplayName: 14,
  Name: 15,
  Prefix: 16,
  Marker: 17,
  MaxKeys: 18,
  KeyCount: 19,
  ContinuationToken: 20,
  StartAfter: 21,
  Delimiter: 22,
  ChecksumAlgorithm: 23,
  ChecksumType: 24,
} as const;

const NAMES: string[] = [];
for (const [name, code] of Object.entries(ELEMENT)) NAMES[code] = name;

/** The known names by byte length, for {@link elementCode}. */
const BY_LENGTH: { code: number; bytes: Buffer }[][] = [];
for (const [name, code] of Object.entries(ELEMENT)) {
  if (code === ELEMENT.other) continue;
  (BY_LENGTH[name.length] ??= []).push({ code, bytes: Buffer.from(name, 'latin1') });
}

/** The code of an element name given by name (the full parser's events), {@link ELEMENT}.other when unknown. */
export function elementCodeOf(name: string): number {
  const code = (ELEMENT as Record<string, number>)[name];
  return code === undefined || !Object.hasOwn(ELEMENT, name) ? ELEMENT.other : code;
}

/** The code of the name in `bytes[start..end)`, {@link ELEMENT}.other when unknown. */
function elementCode(bytes: Buffer, start: number, end: number): number {
  const candidates = BY_LENGTH[end - start];
  if (candidates === undefined) return ELEMENT.other;
  for (const candidate of candidates) {
    const name = candidate.bytes;
    let i = 0;
    while (i < name.length && bytes[start + i] === name[i]) i++;
    if (i === name.length) return candidate.code;
  }
  return ELEMENT.other;
}

/** What the scanner drives: the listing's reader, which the full parser drives too after a hand-over. */
export interface ListingElements {
  /** The open elements, outermost first (the scanner checks close tags against them). */
  readonly openNames: readonly string[];
  open(code: number, name: string): void;
  /** Whether the text of the element about to close is read (else it is not decoded). */
  wantsText(code: number): boolean;
  /** `number`: the text read as a whole number, when it is one (a size); `text` is then empty. */
  close(code: number, name: string, text: string, number: number | undefined): void;
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const BANG = 0x21;
const AMP = 0x26;
const CR = 0x0d;

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** Characters XML 1.0 forbids as such in text (a server must send them as references, which decode below). */
const FORBIDDEN_CHARACTER = /[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/;

/**
 * Text with its entities and character references decoded, line ends normalised as XML does;
 * undefined when it holds something only the full parser may judge. A reference to a character
 * that XML 1.0 forbids (S3 sends control characters so) decodes to that character, as the
 * full parser's path does.
 */
export function decodeXmlText(raw: string): string | undefined {
  // An ETag as S3 and MinIO send it: quotes as references around plain characters.
  if (raw.length > 10 && raw.indexOf('&', 5) === raw.length - 5 && /^&(#34|#x22|quot);[^&\r\0-\x1f\ufffe\uffff]*&(#34|#x22|quot);$/.test(raw)) return `"${raw.slice(5, -5)}"`;
  let text = raw;
  if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
  if (FORBIDDEN_CHARACTER.test(text)) return undefined;
  let amp = text.indexOf('&');
  if (amp === -1) return text;
  let decoded = '';
  let from = 0;
  while (amp !== -1) {
    const semicolon = text.indexOf(';', amp + 1);
    if (semicolon === -1) return undefined;
    const body = text.slice(amp + 1, semicolon);
    let character: string | undefined;
    if (body.startsWith('#')) {
      const code = /^#x[0-9A-Fa-f]{1,8}$/.test(body) ? Number.parseInt(body.slice(2), 16) : /^#[0-9]{1,10}$/.test(body) ? Number.parseInt(body.slice(1), 10) : Number.NaN;
      // 0 and past U+10FFFF the full parser refuses; leave them to it.
      if (!(code > 0 && code <= 0x10ffff)) return undefined;
      character = String.fromCodePoint(code);
    } else {
      character = Object.hasOwn(NAMED_ENTITIES, body) ? NAMED_ENTITIES[body] : undefined;
      if (character === undefined) return undefined;
    }
    decoded += text.slice(from, amp) + character;
    from = semicolon + 1;
    amp = text.indexOf('&', from);
  }
  return decoded + text.slice(from);
}

/** The decimal digits of `bytes[start..end)` as a number; undefined for anything else (Number() then reads the text). */
function digits(bytes: Buffer, start: number, end: number): number | undefined {
  if (end === start || end - start > 15) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = (bytes[i] as number) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value;
}

/** Whether `bytes[start..end)` holds only XML white space. */
function blank(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== CR) return false;
  }
  return true;
}

/** The end of an open tag's name: white space, `/` or `>`. */
function nameEnd(bytes: Buffer, start: number, end: number): number {
  let i = start;
  for (; i < end; i++) {
    const byte = bytes[i];
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === CR || byte === SLASH || byte === GT) break;
  }
  return i;
}

/**
 * Scans a listing answer chunk by chunk into {@link ListingElements}. {@link push} returns
 * undefined while it can go on; once it meets what it does not know, it returns the bytes from
 * the end of the last tag it read (this chunk's rest included): the full parser's from there.
 */
export class ListingScanner {
  readonly #into: ListingElements;
  /** What followed the last whole tag of the previous chunk. */
  #rest: Buffer | undefined;
  /** Every byte until the root opened (a document that is not a listing goes to the full parser whole). */
  #head: Buffer[] | undefined = [];

  constructor(into: ListingElements) {
    this.#into = into;
  }

  /** Reads one chunk; undefined: go on with the next, else the bytes from which the full parser goes on. */
  push(chunk: Buffer): Buffer | undefined {
    this.#head?.push(chunk);
    let bytes = chunk;
    // A tag cut by the last chunk's end: only the bytes up to the next '>' are joined to it, not the whole chunk.
    while (this.#rest !== undefined && this.#rest.length > 0) {
      const gt = bytes.indexOf(GT);
      if (gt === -1) {
        this.#rest = Buffer.concat([this.#rest, bytes]);
        return undefined;
      }
      const joined = Buffer.concat([this.#rest, bytes.subarray(0, gt + 1)]);
      bytes = bytes.subarray(gt + 1);
      const handOver = this.#scan(joined);
      if (handOver !== undefined) return this.#head === undefined ? Buffer.concat([handOver, bytes]) : handOver;
    }
    return this.#scan(bytes);
  }

  /** Reads the whole tags of `bytes`, keeping what follows the last for the next chunk; as {@link push}. */
  #scan(bytes: Buffer): Buffer | undefined {
    const into = this.#into;
    const length = bytes.length;
    let textStart = 0;
    // Byte loops rather than Buffer.indexOf: the gaps are a few dozen bytes, shorter than a native call costs.
    for (;;) {
      /** Text bits: 1, a byte past ASCII; 2, what only decodeXmlText may read ('&', CR, a control character). */
      let textBits = 0;
      let lt = textStart;
      for (; lt < length; lt++) {
        const byte = bytes[lt] as number;
        if (byte === LT) break;
        if (byte >= 0x80) textBits |= 1;
        else if (byte === AMP || (byte < 0x20 && byte !== 0x09 && byte !== 0x0a)) textBits |= 2;
      }
      if (lt + 1 >= length) break;
      const kind = bytes[lt + 1];
      if (kind === BANG) return this.#handOver(bytes, textStart);
      // The '>' that ends the tag; attribute values may hold one, so quotes are passed over.
      let gt = lt + 1;
      for (let quote = 0; gt < length; gt++) {
        const byte = bytes[gt];
        if (quote !== 0) {
          if (byte === quote) quote = 0;
        } else if (byte === GT) {
          break;
        } else if (byte === 0x22 || byte === 0x27) {
          quote = byte;
        }
      }
      if (gt >= length) break;
      const names = into.openNames;
      if (kind === SLASH) {
        let end = gt;
        while (end > lt + 2 && blank(bytes, end - 1, end)) end--;
        const code = elementCode(bytes, lt + 2, end);
        const name = code === ELEMENT.other ? bytes.toString('utf8', lt + 2, end) : (NAMES[code] as string);
        if (names.length === 0 || names[names.length - 1] !== name) return this.#handOver(bytes, textStart);
        let text = '';
        let number: number | undefined;
        const wanted = into.wantsText(code);
        if (wanted && code === ELEMENT.Size && textBits === 0) number = digits(bytes, textStart, lt);
        if (wanted && number === undefined) {
          const decoded = textBits === 0 ? bytes.toString('latin1', textStart, lt) : decodeXmlText(bytes.toString('utf8', textStart, lt));
          if (decoded === undefined) return this.#handOver(bytes, textStart);
          text = decoded;
        }
        into.close(code, name, text, number);
      } else if (kind === QUESTION) {
        // The XML declaration or a processing instruction, ended by '?>'; nothing to read in it.
        if (bytes[gt - 1] !== QUESTION) {
          const end = bytes.indexOf('?>', lt + 2);
          if (end === -1) break;
          textStart = end + 2;
          continue;
        }
      } else {
        const end = nameEnd(bytes, lt + 1, gt);
        if (end === lt + 1) return this.#handOver(bytes, textStart);
        // Text between elements, outside any element the listing reads, is white space in an answer.
        if (names.length === 0 && !blank(bytes, textStart, lt)) return this.#handOver(bytes, textStart);
        const code = elementCode(bytes, lt + 1, end);
        const name = code === ELEMENT.other ? bytes.toString('utf8', lt + 1, end) : (NAMES[code] as string);
        if (names.length === 0) {
          // Another document than a listing (an <Error> sent with status 200): the full parser's, whole.
          if (code !== ELEMENT.ListBucketResult) return this.#handOver(bytes, textStart);
          this.#head = undefined;
        }
        into.open(code, name);
        if (bytes[gt - 1] === SLASH) into.close(code, name, '', undefined);
      }
      textStart = gt + 1;
    }
    this.#rest = bytes.subarray(textStart);
    return undefined;
  }

  /**
   * The end of the answer: undefined when it ended whole, else the bytes the full parser must
   * judge (an answer that ends inside an element is an error there, never a shorter listing).
   */
  end(): Buffer | undefined {
    const rest = this.#rest ?? Buffer.alloc(0);
    if (this.#into.openNames.length === 0 && this.#head === undefined && blank(rest, 0, rest.length)) return undefined;
    return this.#head !== undefined ? Buffer.concat(this.#head) : rest;
  }

  /** The bytes the full parser goes on from: the whole answer before the root opened, else from `textStart`. */
  #handOver(bytes: Buffer, textStart: number): Buffer {
    if (this.#head !== undefined) return Buffer.concat(this.#head);
    return bytes.subarray(textStart);
  }
}
