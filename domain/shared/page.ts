/** Keyset pagination shared by list endpoints: a bounded page size and an opaque "after" cursor. */

/** A request for one page. */
export interface PageRequest {
  readonly limit: number;
  /** The cursor of the last item of the previous page; undefined for the first page. */
  readonly after?: string;
}

/** One page of items and the cursor of the next page (undefined on the last one). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next?: string;
}

/** Why a page request was refused. */
export type PageError = { readonly ok: false; readonly error: "invalid_limit" | "invalid_cursor" };

/** Bounds of page sizes. */
export const pageLimits = { default: 20, max: 100 } as const;

/** Parses `limit` and `after` as a client sends them; a cursor is at most 200 printable characters. */
export function parsePage(
  raw: { readonly limit?: string; readonly after?: string },
): { readonly ok: true; readonly page: PageRequest } | PageError {
  let limit: number = pageLimits.default;
  if (raw.limit !== undefined) {
    if (!/^[0-9]{1,4}$/.test(raw.limit)) return { ok: false, error: "invalid_limit" };
    limit = Number(raw.limit);
    if (limit < 1 || limit > pageLimits.max) return { ok: false, error: "invalid_limit" };
  }
  if (raw.after !== undefined && !/^[\x21-\x7e]{1,200}$/.test(raw.after)) {
    return { ok: false, error: "invalid_cursor" };
  }
  return { ok: true, page: { limit, ...(raw.after !== undefined ? { after: raw.after } : {}) } };
}

/** Cuts `fetched` (read with `limit + 1` rows) into a page; `cursorOf` names an item's position. */
export function pageOf<T>(fetched: readonly T[], limit: number, cursorOf: (item: T) => string): Page<T> {
  const items = fetched.slice(0, limit);
  return fetched.length > limit ? { items, next: cursorOf(items[items.length - 1]) } : { items };
}
