/**
 * Listing answers read as a stream. A Snowball's S3 adapter answers ListObjects (v1) with one
 * unpaginated document of every key; at a few million keys that document is larger than one V8
 * string can be (measured: "Cannot create a string longer than 0x1fffffe8 characters" at 3M
 * keys), and the SDK reads the whole body into one string before it parses it. Here the body is
 * parsed while it arrives, each object handed on at once, and the SDK is given a small stand-in
 * document with the paging fields only. The SDK still signs, sends, retries and classifies errors
 * as for any other request. ListObjectsV2 pages go the same way.
 *
 * The parse: listing-scanner.ts reads the bytes of a ListBucketResult directly (about twice as
 * fast as a general XML parser, bench: listing); on anything it does not know (a comment, CDATA,
 * an unknown entity, a cut answer) it hands the rest, from its last whole tag, to saxes, a full
 * XML parser, so that what is read and every error are the same as saxes alone would give.
 *
 * Over 400 lines: the scanner's hand-over to saxes, the reader both feed, and the SDK middleware
 * that gives them the body must agree on one page's state; apart, each would need the others'.
 */
import {
  ListObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsCommandInput,
  type ListObjectsV2CommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
// Types only (erased at run time): the SDK's own middleware signature.
import type { DeserializeMiddleware } from '@smithy/types';
import { Readable } from 'node:stream';
import { SaxesParser } from 'saxes';
import { ELEMENT, elementCodeOf, ListingScanner, type ListingElements } from './listing-scanner.ts';

/**
 * One `<Contents>` of a listing page, with its full bucket key. The object is the sink's to keep
 * or to reuse (the hop's listing turns it into its entry in place: one object per key).
 */
export interface ListedObject {
  key: string;
  size: number;
  /** As the server sent it, quotes included. */
  etag: string;
}

/** The paging facts of one page. */
export interface ListedPage {
  isTruncated: boolean;
  /** v1 only, and only with a delimiter; decoded like the keys. */
  nextMarker: string | undefined;
  /** v2 only. */
  nextContinuationToken: string | undefined;
  /** The last key of the page, decoded (v1 continues from it when there is no NextMarker). */
  lastKey: string | undefined;
  /** Objects handed on (those whose key could not be decoded are not). */
  objects: number;
  /** Whether the answer said its keys are URL-encoded (`<EncodingType>url</EncodingType>`). */
  urlEncoded: boolean;
  /** Objects left out because their URL-encoded key does not decode to UTF-8: how many, and the first as sent. */
  undecodable: { count: number; first?: string };
}

/**
 * What a page's objects flow into; `restart` drops what an attempt gave before the SDK retried it.
 * `unordered`: the sink does not need the objects in the answer's order (it sorts them itself),
 * so an object whose key reads the same encoded or not need not wait behind one that does not.
 */
export interface ListingSink {
  restart(): void;
  object(entry: ListedObject): void;
  readonly unordered?: boolean;
}

/**
 * A key as a listing asked with `encoding-type=url` sends it, decoded; undefined when it does
 * not decode to UTF-8. S3 encodes a space as `+` and a literal `+` as `%2B` (AWS and MinIO
 * alike), so `+` is a space here and `%2B` the plus.
 */
export function decodeListedKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/** Whether a key reads differently URL-decoded: only `%` and `+` change under decoding. */
function changedByDecoding(key: string): boolean {
  return key.includes('%') || key.includes('+');
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char] as string);
}

/** Whether XML 1.0 may carry the code point at all, even as a character reference. */
function isXml10Char(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

const CHAR_REFERENCE = /&#(x[0-9A-Fa-f]+|[0-9]+);/g;

/**
 * S3 keys may hold control characters that XML 1.0 forbids even as `&#x1;`; S3 servers send
 * them as such references all the same. A strict parser refuses them, and XML 1.1 mode would
 * also turn U+0085 and U+2028 into line feeds. So such references are rewritten, as the text
 * streams by, into named entities that the parser is told to expand into the character.
 */
class CharReferenceRewriter {
  #carry = '';
  readonly #entities: Record<string, string>;

  constructor(entities: Record<string, string>) {
    this.#entities = entities;
  }

  /** The chunk with forbidden references rewritten; a reference cut by the chunk's end waits for the next. */
  push(chunk: string): string {
    let text = this.#carry + chunk;
    this.#carry = '';
    const amp = text.lastIndexOf('&');
    if (amp !== -1 && !text.includes(';', amp) && text.length - amp < 16) {
      this.#carry = text.slice(amp);
      text = text.slice(0, amp);
    }
    return text.replace(CHAR_REFERENCE, (whole, digits: string) => {
      const code = digits.startsWith('x') ? Number.parseInt(digits.slice(1), 16) : Number.parseInt(digits, 10);
      if (isXml10Char(code) || code > 0x10ffff) return whole;
      const name = `dualsync-cp-${code}`;
      this.#entities[name] = String.fromCodePoint(code);
      return `&${name};`;
    });
  }

  end(): string {
    const rest = this.#carry;
    this.#carry = '';
    return rest;
  }
}

/**
 * The listing read from an answer's elements, whichever parser reads them: each object handed on
 * as its `</Contents>` closes, the paging fields kept for {@link finish}.
 */
class ListingReader implements ListingElements {
  readonly openNames: string[] = [];
  readonly page: ListedPage = { isTruncated: false, nextMarker: undefined, nextContinuationToken: undefined, lastKey: undefined, objects: 0, urlEncoded: false, undecodable: { count: 0 } };
  root: string | undefined;
  readonly #sink: ListingSink;
  /** Inside a `<Contents>`, and what it said so far (plain fields: no object until the entry is whole). */
  #inContents = false;
  #key: string | undefined;
  #size = 0;
  #etag = '';
  /** undefined until the answer has said (or ended): then whether its keys are URL-encoded. */
  #encoded: boolean | undefined;
  /** Objects waiting for the encoding to be known, keys as sent. */
  readonly #waiting: ListedObject[] = [];
  #rawLastKey: string | undefined;

  constructor(sink: ListingSink) {
    this.#sink = sink;
  }

  open(code: number, name: string): void {
    this.root ??= name;
    this.openNames.push(name);
    if (this.openNames.length === 2 && code === ELEMENT.Contents) {
      this.#inContents = true;
      this.#key = undefined;
      this.#size = 0;
      this.#etag = '';
    }
  }

  wantsText(code: number): boolean {
    const depth = this.openNames.length;
    if (depth === 3) return this.#inContents && (code === ELEMENT.Key || code === ELEMENT.Size || code === ELEMENT.ETag);
    return depth === 2 && (code === ELEMENT.IsTruncated || code === ELEMENT.NextMarker || code === ELEMENT.NextContinuationToken || code === ELEMENT.EncodingType);
  }

  close(code: number, _name: string, text: string, number?: number): void {
    const depth = this.openNames.length;
    this.openNames.pop();
    if (this.root !== 'ListBucketResult') return;
    if (depth === 3 && this.#inContents) {
      if (code === ELEMENT.Key) this.#key = text;
      else if (code === ELEMENT.Size) this.#size = number ?? Number(text);
      else if (code === ELEMENT.ETag) this.#etag = text;
    } else if (depth === 2) {
      if (code === ELEMENT.Contents && this.#inContents) {
        if (this.#key !== undefined) {
          const object: ListedObject = { key: this.#key, size: this.#size, etag: this.#etag };
          this.#rawLastKey = this.#key;
          if (this.#encoded === undefined && (changedByDecoding(object.key) || (this.#waiting.length > 0 && this.#sink.unordered !== true))) this.#waiting.push(object);
          else this.#handOn(object);
        }
        this.#inContents = false;
      } else if (code === ELEMENT.IsTruncated) this.page.isTruncated = text.trim() === 'true';
      else if (code === ELEMENT.NextMarker) this.page.nextMarker = text;
      else if (code === ELEMENT.NextContinuationToken) this.page.nextContinuationToken = text;
      else if (code === ELEMENT.EncodingType) this.#settle(text.trim().toLowerCase() === 'url');
    }
  }

  #handOn(object: ListedObject): void {
    const page = this.page;
    if (this.#encoded === true && changedByDecoding(object.key)) {
      const key = decodeListedKey(object.key);
      if (key === undefined) {
        page.undecodable.count++;
        page.undecodable.first ??= object.key;
        return;
      }
      object.key = key;
    }
    this.#sink.object(object);
    page.objects++;
  }

  #settle(urlEncoded: boolean): void {
    if (this.#encoded !== undefined) return;
    this.#encoded = urlEncoded;
    for (const object of this.#waiting) this.#handOn(object);
    this.#waiting.length = 0;
  }

  /** The page once the answer has ended whole. */
  finish(): ListedPage {
    // An answer that never said is not encoded: a server that ignored the request's encoding-type.
    this.#settle(false);
    const page = this.page;
    page.urlEncoded = this.#encoded === true;
    const decode = (value: string | undefined): string | undefined => (value === undefined || !page.urlEncoded ? value : decodeListedKey(value));
    page.lastKey = decode(this.#rawLastKey);
    if (page.nextMarker !== undefined) {
      const marker = decode(page.nextMarker);
      if (marker === undefined) throw new Error(`the listing's NextMarker ${JSON.stringify(page.nextMarker)} is not a URL-encoded UTF-8 key`);
      page.nextMarker = marker;
    }
    return page;
  }
}

/**
 * The full XML parser (saxes), for what {@link ListingScanner} does not know: it goes on from
 * where the scanner stopped, the elements then open given to it first (and not read again), and
 * drives the same {@link ListingReader}, so the answer reads the same wherever the hand-over fell.
 */
class FullParser {
  readonly #parser = new SaxesParser({ xmlns: false });
  readonly #decoder = new TextDecoder('utf-8');
  readonly #references: CharReferenceRewriter;
  readonly #reader: ListingReader;
  #failure: Error | undefined;
  /** Every byte while the root is not known to be a listing: another document is given back whole. */
  #head: Buffer[] | undefined;

  constructor(reader: ListingReader) {
    this.#reader = reader;
    this.#references = new CharReferenceRewriter(this.#parser.ENTITIES);
    const parser = this.#parser;
    let text = '';
    let replaying = true;
    parser.on('opentag', (tag) => {
      text = '';
      if (!replaying) reader.open(elementCodeOf(tag.name), tag.name);
    });
    parser.on('text', (chunk) => {
      text += chunk;
    });
    parser.on('error', (error) => {
      this.#failure ??= error;
    });
    parser.on('closetag', (tag) => {
      if (!replaying) reader.close(elementCodeOf(tag.name), tag.name, text, undefined);
      text = '';
    });
    // Where the scanner stopped: inside the elements still open, or after the root (closed).
    if (reader.openNames.length > 0) parser.write(reader.openNames.map((name) => `<${name}>`).join(''));
    else if (reader.root !== undefined) parser.write(`<${reader.root}/>`);
    else this.#head = [];
    replaying = false;
  }

  write(bytes: Buffer): void {
    this.#head?.push(bytes);
    this.#parser.write(this.#references.push(this.#decoder.decode(bytes, { stream: true })));
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#reader.root === 'ListBucketResult') this.#head = undefined;
  }

  /** Ends the answer: throws when it is not whole; gives back another document than a listing. */
  end(): Buffer | undefined {
    this.#parser.write(this.#references.push(this.#decoder.decode()) + this.#references.end());
    this.#parser.close();
    if (this.#failure !== undefined) throw this.#failure;
    return this.#reader.root === 'ListBucketResult' ? undefined : Buffer.concat(this.#head ?? []);
  }
}

/**
 * Parses a `ListBucketResult` (v1 or v2) from `body`, handing each object to `sink` as it is read.
 * Anything but a ListBucketResult (an `<Error>` sent with status 200) is returned whole as
 * `other`, for the SDK to classify as it always does; such documents are small. The answer is
 * read by {@link ListingScanner}, which hands over to the full XML parser on anything it does
 * not know; `fullParser` reads it all with the latter (tests compare the two).
 *
 * Keys are decoded when, and only when, the answer says they are URL-encoded (its
 * `<EncodingType>url</EncodingType>`), so a server that ignores the request's `encoding-type`
 * still lists right. That element may come after the objects (MinIO sends it last), so an object
 * whose key would read differently decoded (it holds `%` or `+`) waits until the answer has said
 * (or ended without saying), and so do the objects after it unless the sink is `unordered`:
 * at most one page of a paged listing waits, and of an unsorted device answer only such keys.
 */
export async function parseListingBody(body: AsyncIterable<Buffer | string>, sink: ListingSink, options: { fullParser?: boolean } = {}): Promise<{ page: ListedPage } | { other: Buffer }> {
  const reader = new ListingReader(sink);
  const scanner = options.fullParser === true ? undefined : new ListingScanner(reader);
  let full = scanner === undefined ? new FullParser(reader) : undefined;
  for await (const chunk of body) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (full !== undefined) {
      full.write(bytes);
      continue;
    }
    const rest = (scanner as ListingScanner).push(bytes);
    if (rest !== undefined) {
      full = new FullParser(reader);
      full.write(rest);
    }
  }
  if (full === undefined) {
    const rest = (scanner as ListingScanner).end();
    if (rest !== undefined) {
      full = new FullParser(reader);
      full.write(rest);
    }
  }
  const other = full?.end();
  if (other !== undefined) return { other };
  return { page: reader.finish() };
}

/** The stand-in the SDK parses instead of the real answer: the paging fields, no objects. */
function pagingDocument(page: ListedPage): string {
  const marker = page.nextMarker === undefined ? '' : `<NextMarker>${escapeXml(page.nextMarker)}</NextMarker>`;
  const token = page.nextContinuationToken === undefined ? '' : `<NextContinuationToken>${escapeXml(page.nextContinuationToken)}</NextContinuationToken>`;
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>${page.isTruncated}</IsTruncated>${marker}${token}</ListBucketResult>`;
}

interface RawResponse {
  statusCode: number;
  body: unknown;
}

function isRawResponse(value: unknown): value is RawResponse {
  return typeof value === 'object' && value !== null && typeof (value as RawResponse).statusCode === 'number';
}

/**
 * The middleware that parses an answer as it arrives, into `sink`, and leaves the page's paging
 * facts in `state.parsed` (left unset for an answer that is not a listing).
 */
function streamingParse<Input extends object, Output extends object>(sink: ListingSink, state: { parsed?: ListedPage }): DeserializeMiddleware<Input, Output> {
  return (next) => async (args) => {
    state.parsed = undefined;
    const result = await next(args);
    const response = result.response;
    if (!isRawResponse(response) || response.statusCode < 200 || response.statusCode >= 300) return result;
    sink.restart();
    const outcome = await parseListingBody(response.body as AsyncIterable<Buffer>, sink);
    if ('other' in outcome) {
      response.body = Readable.from([outcome.other]);
    } else {
      state.parsed = outcome.page;
      response.body = Readable.from([Buffer.from(pagingDocument(outcome.page), 'utf8')]);
    }
    return result;
  };
}

// Closer to the HTTP handler than the S3 check that reads whole bodies for errors sent with status 200.
const PARSE_PLACE = { relation: 'after', toMiddleware: 'throw200ExceptionsMiddleware', name: 'dualsyncStreamedListing', override: true } as const;

/**
 * Sends one listing request (ListObjects v1, or ListObjectsV2 with `v2: true`) with
 * `encoding-type=url` and streams its objects into `sink`, keys decoded where the answer was
 * encoded. The parse sits right next to the HTTP handler, inside the SDK's retry
 * loop: each attempt restarts the sink, so a retried page never hands on an object twice.
 *
 * The SDK's whole stack is kept on purpose. Measured (1,000 one-key pages from the synthetic
 * listing server): it costs about 0.5 ms of CPU per request beyond a bare `http.get`, spread over
 * endpoint, serde, retry and signing; removing the logger, user-agent, expect-continue and
 * recursion-detection middleware, or resolving the stack once per listing, saved nothing that
 * stood out of the noise. A CPU profile's time in `writeLatin1String` is not ours either: the
 * request's one write is 25-50 us (strace), and the profile counts the time the process waits
 * while the woken server runs.
 */
export async function listPage(
  client: S3Client,
  request: { v2: true; input: ListObjectsV2CommandInput } | { v2: false; input: ListObjectsCommandInput },
  sink: ListingSink,
  signal?: AbortSignal,
): Promise<ListedPage> {
  const state: { parsed?: ListedPage } = {};
  // Keys travel exactly only URL-encoded: XML 1.0 cannot carry U+FFFF or most control
  // characters, and a server that must write one sends another character in its place (MinIO:
  // U+FFFD), so two keys would be listed as one. The answer says whether it honoured this.
  if (request.v2) {
    const command = new ListObjectsV2Command({ ...request.input, EncodingType: 'url' });
    command.middlewareStack.addRelativeTo(streamingParse(sink, state), PARSE_PLACE);
    await client.send(command, { abortSignal: signal });
  } else {
    const command = new ListObjectsCommand({ ...request.input, EncodingType: 'url' });
    command.middlewareStack.addRelativeTo(streamingParse(sink, state), PARSE_PLACE);
    await client.send(command, { abortSignal: signal });
  }
  if (state.parsed === undefined) throw new Error('assertion failed: a listing answer was accepted without being parsed');
  return state.parsed;
}
