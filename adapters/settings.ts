/**
 * Settings read from environment variables: the field types the platform's configuration and each context's
 * own settings share, and one way to validate them that names every bad variable.
 */
import { z } from "zod";

/** A whole number with a default, bounded. */
export const intSetting = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.string().regex(/^[0-9]+$/, "must be a whole number").transform(Number).pipe(z.number().min(min).max(max))
    .default(fallback);

/** `true` or `false`, with a default. */
export const boolSetting = (fallback: boolean) =>
  z.enum(["true", "false"]).transform((value) => value === "true").default(fallback);

/** An optional secret sent as a bearer token: at least 16 characters of the token68 set when set. */
export const secretSetting = () =>
  z.string().min(16, "must be at least 16 characters").regex(
    /^[A-Za-z0-9._~+/=-]+$/,
    "letters, digits and . _ ~ + / = - only (it travels in an Authorization header)",
  ).optional();

/** Validates `env` with `schema`; on failure the lines name each bad variable and its value. */
export function parseSettings<S>(
  schema: z.ZodType<S>,
  env: Readonly<Record<string, string | undefined>>,
): { readonly ok: true; readonly value: S } | { readonly ok: false; readonly problems: string[] } {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = schema.safeParse(present);
  if (parsed.success) return { ok: true, value: parsed.data };
  const secret = (name: string) => /TOKEN|SECRET|PASSWORD/.test(name);
  // A URL's password is masked (postgres://user:***@…, smtp://user:***@…); the rest helps find the mistake.
  const masked = (value: string | undefined) => value?.replace(/(\/\/[^:/@\s]*:)[^@\s]*@/, "$1***@");
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const shown = secret(name) ? "<hidden>" : JSON.stringify(masked(present[name]) ?? "");
      return `  ${issue.path.join(".")}=${shown}: ${issue.message}`;
    }),
  };
}
