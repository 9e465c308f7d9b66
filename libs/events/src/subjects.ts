// Subject layout of the EKSPOSE stream: `ekspose.v1.<kind>.<ns-token>.<name-token>`.
//
// A '.' splits a NATS subject into tokens, and Deployment names are DNS-1123
// subdomains, which may contain dots ("api.v2"). Each of namespace and name is
// therefore carried as exactly one token, encoded so that the mapping is
// reversible for any string:
//   - `a-z`, `0-9` and `-` stay as they are (so ordinary names read naturally);
//   - every other UTF-8 byte, including '.', '_' itself and upper case, becomes
//     `_` followed by two lower-case hex digits: `api.v2` -> `api_2ev2`.
// '_' never appears in a Kubernetes name, so real subjects contain it only as
// the escape; `*`, `>` and whitespace can never reach a subject unescaped.

export const STREAM_NAME = 'EKSPOSE';
export const SUBJECT_PREFIX = 'ekspose.v1';
/** The stream's subject filter. */
export const SUBJECT_ROOT = `${SUBJECT_PREFIX}.>`;

export const EVENT_KINDS = ['deployment.deleted', 'deployment.exposed', 'service.recreated', 'ingress.recreated', 'httproute.recreated'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export function isEventKind(value: string): value is EventKind {
  return (EVENT_KINDS as readonly string[]).includes(value);
}

const PLAIN = /^[a-z0-9-]$/;
const ENCODED_TOKEN = /^(?:[a-z0-9-]|_[0-9a-f]{2})+$/;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Encodes one namespace or name as a single subject token (see the header comment). */
export function encodeToken(value: string): string {
  if (value.length === 0) throw new Error('cannot encode an empty namespace or name as a subject token');
  let out = '';
  for (const char of value) {
    if (PLAIN.test(char)) {
      out += char;
      continue;
    }
    for (const byte of utf8.encode(char)) out += `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of encodeToken; undefined for anything encodeToken would not have produced. */
export function decodeToken(token: string): string | undefined {
  if (!ENCODED_TOKEN.test(token)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    if (token[i] === '_') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(token.charCodeAt(i));
      i += 1;
    }
  }
  let value: string;
  try {
    value = strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
  // Escaping a plain character ("_61" for "a") would give two tokens for one name.
  return encodeToken(value) === token ? value : undefined;
}

/** The subject an event about `namespace/name` is published on. */
export function subjectFor(kind: EventKind, namespace: string, name: string): string {
  return `${SUBJECT_PREFIX}.${kind}.${encodeToken(namespace)}.${encodeToken(name)}`;
}

/** The filter matching every event of one kind. */
export function filterSubjectFor(kind: EventKind): string {
  return `${SUBJECT_PREFIX}.${kind}.>`;
}

export interface ParsedSubject {
  kind: EventKind;
  namespace: string;
  name: string;
}

/** Reads a subject back; undefined when it is not one subjectFor produces. */
export function parseSubject(subject: string): ParsedSubject | undefined {
  const tokens = subject.split('.');
  // ekspose . v1 . <kind: 2 tokens> . ns . name
  if (tokens.length !== 6 || `${tokens[0]}.${tokens[1]}` !== SUBJECT_PREFIX) return undefined;
  const kind = `${tokens[2]}.${tokens[3]}`;
  if (!isEventKind(kind)) return undefined;
  const namespace = decodeToken(tokens[4] ?? '');
  const name = decodeToken(tokens[5] ?? '');
  if (namespace === undefined || name === undefined) return undefined;
  return { kind, namespace, name };
}
