/** 64-bit ids, as every context uses them: kept as decimal text, since they may exceed 2^53. */

const maxId = 9223372036854775807n;
const idPattern = /^[1-9][0-9]{0,18}$/;

/** Parses a positive 64-bit id given as text or a safe integer; returns undefined when it is not one. */
export function parseId(raw: unknown): string | undefined {
  const text = typeof raw === "number" && Number.isSafeInteger(raw) ? String(raw) : raw;
  if (typeof text !== "string" || !idPattern.test(text)) return undefined;
  return BigInt(text) <= maxId ? text : undefined;
}
