/**
 * A strict JSON reader that accepts exactly what the Rust core's serde_json accepts, and a
 * value model that keeps what JavaScript's JSON.parse loses:
 *
 * * integers (literals without fraction or exponent, inside i64/u64) are `bigint`, exact to
 *   64 bits; every other number is a `number` (so `1.0` is not the integer 1, as in serde);
 * * objects are `Map`s (no prototype pitfalls); a repeated key keeps its last value, as
 *   `serde_json::Value` does;
 * * lone surrogates, raw control characters, leading zeros, trailing commas, numbers out of
 *   range and nesting deeper than serde_json's limit are errors.
 *
 * Objects a caller already parsed are brought into the same model by {@link fromJs}.
 */
import { fail } from "./errors.js";

/** A JSON value. */
export type J = null | boolean | string | bigint | number | J[] | JObject;
/** A JSON object. */
export type JObject = Map<string, J>;

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
/** serde_json's default recursion limit. */
const MAX_DEPTH = 128;

class Parser {
  i = 0;
  depth = MAX_DEPTH;
  constructor(readonly s: string, readonly what: string) {}

  err(msg: string): never {
    return fail(`${this.what}: ${msg} at offset ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 10 || c === 9 || c === 13) this.i++;
      else break;
    }
  }

  value(): J {
    this.ws();
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 123: // {
        return this.object();
      case 91: // [
        return this.array();
      case 34: // "
        return this.string();
      case 116: // t
        return this.lit("true", true);
      case 102: // f
        return this.lit("false", false);
      case 110: // n
        return this.lit("null", null);
      default:
        if (c === 45 || (c >= 48 && c <= 57)) return this.number();
        return this.err(Number.isNaN(c) ? "unexpected end of input" : "expected a value");
    }
  }

  lit<T extends J>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.err("expected a value");
  }

  enter(): void {
    if (--this.depth === 0) this.err("recursion limit exceeded");
  }

  object(): JObject {
    this.enter();
    this.i++;
    const m: JObject = new Map();
    this.ws();
    if (this.s.charCodeAt(this.i) === 125) {
      this.i++;
      this.depth++;
      return m;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== 34) this.err("expected a string key");
      const k = this.string();
      this.ws();
      if (this.s.charCodeAt(this.i) !== 58) this.err("expected `:`");
      this.i++;
      const v = this.value();
      m.delete(k);
      m.set(k, v);
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === 44) continue;
      if (c === 125) break;
      this.i--;
      this.err("expected `,` or `}`");
    }
    this.depth++;
    return m;
  }

  array(): J[] {
    this.enter();
    this.i++;
    const a: J[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 93) {
      this.i++;
      this.depth++;
      return a;
    }
    for (;;) {
      a.push(this.value());
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === 44) continue;
      if (c === 93) break;
      this.i--;
      this.err("expected `,` or `]`");
    }
    this.depth++;
    return a;
  }

  hex4(): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(this.i++);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) this.err("invalid \\u escape");
      v = (v << 4) | d;
    }
    return v;
  }

  string(): string {
    const s = this.s;
    this.i++;
    let out = "";
    let start = this.i;
    for (;;) {
      if (this.i >= s.length) this.err("unterminated string");
      const c = s.charCodeAt(this.i);
      if (c === 34) {
        out += s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.err("control character in a string");
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = s.charCodeAt(this.i + 1);
        if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) this.err("invalid UTF-16 in a string");
        this.i += 2;
        continue;
      }
      if (c !== 92) {
        this.i++;
        continue;
      }
      out += s.slice(start, this.i);
      this.i++;
      const e = s.charCodeAt(this.i++);
      switch (e) {
        case 34: out += '"'; break;
        case 92: out += "\\"; break;
        case 47: out += "/"; break;
        case 98: out += "\b"; break;
        case 102: out += "\f"; break;
        case 110: out += "\n"; break;
        case 114: out += "\r"; break;
        case 116: out += "\t"; break;
        case 117: {
          const u = this.hex4();
          if (u >= 0xdc00 && u <= 0xdfff) this.err("lone trailing surrogate in a \\u escape");
          if (u >= 0xd800 && u <= 0xdbff) {
            if (s.charCodeAt(this.i) !== 92 || s.charCodeAt(this.i + 1) !== 117) this.err("lone leading surrogate in a \\u escape");
            this.i += 2;
            const lo = this.hex4();
            if (!(lo >= 0xdc00 && lo <= 0xdfff)) this.err("lone leading surrogate in a \\u escape");
            out += String.fromCharCode(u, lo);
          } else out += String.fromCharCode(u);
          break;
        }
        default:
          this.i--;
          this.err("invalid escape");
      }
      start = this.i;
    }
  }

  digits(): number {
    const s = this.s;
    const start = this.i;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c >= 48 && c <= 57) this.i++;
      else break;
    }
    return this.i - start;
  }

  number(): bigint | number {
    const s = this.s;
    const start = this.i;
    const neg = s.charCodeAt(this.i) === 45;
    if (neg) this.i++;
    const first = s.charCodeAt(this.i);
    if (first === 48) {
      this.i++;
      const c = s.charCodeAt(this.i);
      if (c >= 48 && c <= 57) this.err("invalid number (leading zero)");
    } else if (first >= 49 && first <= 57) this.digits();
    else this.err("invalid number");
    let isFloat = false;
    if (s.charCodeAt(this.i) === 46) {
      this.i++;
      if (this.digits() === 0) this.err("invalid number");
      isFloat = true;
    }
    const e = s.charCodeAt(this.i);
    if (e === 101 || e === 69) {
      this.i++;
      const sign = s.charCodeAt(this.i);
      if (sign === 43 || sign === 45) this.i++;
      if (this.digits() === 0) this.err("invalid number");
      isFloat = true;
    }
    const text = s.slice(start, this.i);
    if (!isFloat) {
      const v = BigInt(text);
      // serde_json turns -0 and integers outside i64/u64 into floats.
      if (!(neg && v === 0n) && v >= I64_MIN && v <= U64_MAX) return v;
    }
    const f = Number(text);
    if (!Number.isFinite(f)) this.err("number out of range");
    return f;
  }
}

/** Parses JSON text strictly (see the module documentation). Throws `AncoraError` naming `what`. */
export function parseJson(text: string, what = "JSON"): J {
  const p = new Parser(text, what);
  const v = p.value();
  p.ws();
  if (p.i !== text.length) p.err("trailing characters");
  return v;
}

/** The top-level keys of a JSON object text that appear more than once (for serde structs,
 * which refuse a repeated field), or an empty list. Only call on text `parseJson` accepted. */
export function repeatedTopLevelKeys(text: string): string[] {
  const p = new Parser(text, "JSON");
  p.ws();
  if (text.charCodeAt(p.i) !== 123) return [];
  p.i++;
  const seen = new Set<string>();
  const repeated: string[] = [];
  p.ws();
  if (text.charCodeAt(p.i) === 125) return [];
  for (;;) {
    p.ws();
    const k = p.string();
    if (seen.has(k)) repeated.push(k);
    seen.add(k);
    p.ws();
    p.i++;
    p.value();
    p.ws();
    const c = text.charCodeAt(p.i++);
    if (c !== 44) return repeated;
  }
}

/**
 * Brings a value a caller parsed (JSON.parse, or built by hand) into the model: integral
 * numbers become `bigint`, objects `Map`s; `undefined`, functions and symbols are dropped from
 * objects and become `null` in arrays, as JSON.stringify does. Non-finite numbers and cycles
 * (past the depth limit) are errors.
 */
export function fromJs(x: unknown, what = "JSON", depth = MAX_DEPTH): J {
  if (x === null) return null;
  switch (typeof x) {
    case "boolean":
    case "string":
    case "bigint":
      return x;
    case "number":
      if (!Number.isFinite(x)) return fail(`${what}: a number must be finite`);
      return Number.isInteger(x) && !Object.is(x, -0) ? BigInt(x) : x;
    case "object":
      break;
    default:
      return null;
  }
  if (depth <= 1) return fail(`${what}: recursion limit exceeded`);
  if (Array.isArray(x)) {
    return x.map((v) => (v === undefined || typeof v === "function" || typeof v === "symbol" ? null : fromJs(v, what, depth - 1)));
  }
  const toJSON = (x as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    return fromJs((toJSON as () => unknown).call(x), what, depth);
  }
  const m: JObject = new Map();
  for (const k of Object.keys(x)) {
    const v = (x as Record<string, unknown>)[k];
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    m.set(k, fromJs(v, what, depth - 1));
  }
  return m;
}

/** A JSON value as plain JavaScript (integers as numbers when exact, else as decimal strings). */
export function toJs(v: J): unknown {
  if (typeof v === "bigint") {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (Array.isArray(v)) return v.map(toJs);
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) Object.defineProperty(o, k, { value: toJs(x), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return v;
}

/** A short description of a value's type, for error messages ("a string", "an integer"…). */
export function kind(v: J | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (typeof v === "boolean") return "a boolean";
  if (typeof v === "string") return "a string";
  if (typeof v === "bigint") return "an integer";
  if (typeof v === "number") return "a floating-point number";
  if (Array.isArray(v)) return "an array";
  return "an object";
}

/** True for a JSON object. */
export function isObject(v: J | undefined): v is JObject {
  return v instanceof Map;
}
