/**
 * The one error type of this package. Every function that cannot do what it was asked
 * returns or throws an `AncoraError` whose `code` says why; none throws anything else.
 */

/** Machine-readable reasons. */
export type AncoraErrorCode =
  /** Input that is not what the function takes (wrong type, bad encoding, bad JSON). */
  | "bad_input"
  /** A hash, proof object or key of the wrong length or shape. */
  | "bad_encoding"
  /** A leaf index past the end of the tree. */
  | "index_out_of_range"
  /** An options object the verifier cannot use (a malformed log key or trusted header). */
  | "bad_trust"
  /** The service answered with an error status that is not worth retrying. */
  | "http_error"
  /** The service could not be reached, or kept refusing after every retry. */
  | "unavailable"
  /** No such event, or no proof for it yet. */
  | "not_found"
  /** A wait ran out of time. */
  | "timeout"
  /** Events the client cannot send as given (missing digest, a signed event without id…). */
  | "bad_event";

/** An error with a stable `code`, a sentence in `message`, and, for HTTP errors, `status`. */
export class AncoraError extends Error {
  readonly code: AncoraErrorCode;
  /** The HTTP status, for `http_error`, `not_found` and `unavailable` after an answer. */
  readonly status?: number;
  /** Extra facts: the service's problem detail, receipts already accepted, … */
  readonly details?: Record<string, unknown>;

  constructor(code: AncoraErrorCode, message: string, extra?: { status?: number; details?: Record<string, unknown> }) {
    super(message);
    this.name = "AncoraError";
    this.code = code;
    if (extra?.status !== undefined) this.status = extra.status;
    if (extra?.details !== undefined) this.details = extra.details;
  }
}

/** True when `x` is an {@link AncoraError} (also across copies of this package). */
export function isAncoraError(x: unknown): x is AncoraError {
  return x instanceof AncoraError || (x instanceof Error && x.name === "AncoraError" && typeof (x as { code?: unknown }).code === "string");
}

/** Internal: throws an {@link AncoraError}; the pure code reports bad input this way and the
 * public functions turn it into a returned error or a failed step. */
export function fail(message: string, code: AncoraErrorCode = "bad_input"): never {
  throw new AncoraError(code, message);
}

/** Internal: any thrown value as an AncoraError (a bug shows as `bad_input` with its message). */
export function asAncoraError(e: unknown): AncoraError {
  if (e instanceof AncoraError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new AncoraError("bad_input", msg);
}
