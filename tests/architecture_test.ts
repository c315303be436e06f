import assert from "node:assert/strict";

/** The repository root, as a file URL ending in "/". */
const root = new URL("../", import.meta.url);

/** Import and re-export specifiers of a source: static, type-only, side-effect and dynamic imports. */
const specifierPatterns = [
  /\b(?:import|export)\s[^;'"]*?\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
];

/** Top-level folders the domain must not depend on, and why. */
const forbiddenLayers = ["adapters/", "outbox/", "application/", "bin/", "tests/"];

/** Removes block comments and whole-line comments, so documentation may mention Deno or imports. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/**
 * Lists the ways `source` (the file at `path`, relative to the repository root) breaks the domain's rules:
 * only relative imports that stay inside domain/, and no Deno global.
 */
function domainViolations(path: string, source: string): string[] {
  const code = withoutComments(source);
  const violations: string[] = [];
  const specifiers = specifierPatterns.flatMap((pattern) =>
    [...code.matchAll(pattern)].map((match) => match[1])
  );
  for (const specifier of specifiers) {
    if (!specifier.startsWith("./") && !specifier.startsWith("../")) {
      violations.push(`${path} imports "${specifier}": the domain may import only relative domain files`);
      continue;
    }
    const target = new URL(specifier, `file:///${path}`).pathname.slice(1);
    const layer = forbiddenLayers.find((prefix) => target.startsWith(prefix));
    if (layer) violations.push(`${path} imports "${specifier}" from ${layer}`);
    else if (!target.startsWith("domain/")) {
      violations.push(`${path} imports "${specifier}" from outside domain/`);
    }
  }
  for (const line of code.split("\n")) {
    if (/(?<![\w$.])Deno\s*\./.test(line)) violations.push(`${path} uses the Deno global: ${line.trim()}`);
  }
  return violations;
}

/** Paths (relative to the root) of the .ts files under `dir`, tests excluded, recursively. */
async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) files.push(...await sourceFiles(`${path}/`));
    else if (entry.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts")) files.push(path);
  }
  return files.sort();
}

Deno.test("domain files import only other domain files and do not use Deno", async () => {
  // given every non-test .ts file under domain/
  const files = await sourceFiles("domain/");
  assert.ok(files.length > 0, "no domain file found: the check would pass vacuously");
  assert.ok(files.includes("domain/interaction/like.ts"), `expected domain/interaction/like.ts in ${files}`);

  // when each is checked
  const violations: string[] = [];
  for (const file of files) {
    violations.push(...domainViolations(file, await Deno.readTextFile(new URL(file, root))));
  }

  // then none breaks the rules
  assert.deepEqual(violations, [], `domain rule violations:\n${violations.join("\n")}`);
});

Deno.test("the domain checker flags foreign imports and the Deno global, and accepts a pure file", () => {
  // given a source that imports packages and other layers and reads the environment
  const bad = [
    `import { z } from "zod";`,
    `import x from "npm:zod";`,
    `import { assert } from "jsr:@std/assert";`,
    `import process from "node:process";`,
    `export * from "https://example.com/mod.ts";`,
    `import type { Envelope } from "../../outbox/envelope.ts";`,
    `import { store } from "../../adapters/postgres/like_store.ts";`,
    `export { setLike } from "../../application/interaction/set_like.ts";`,
    `const config = await import("../../bin/config.ts");`,
    `import "../../outside.ts";`,
    `const level = Deno.env.get("X");`,
  ].join("\n");

  // when it is checked as a domain file
  const violations = domainViolations("domain/interaction/bad.ts", bad);

  // then each rule break is named with the file and the import
  assert.deepEqual(violations, [
    `domain/interaction/bad.ts imports "zod": the domain may import only relative domain files`,
    `domain/interaction/bad.ts imports "npm:zod": the domain may import only relative domain files`,
    `domain/interaction/bad.ts imports "jsr:@std/assert": the domain may import only relative domain files`,
    `domain/interaction/bad.ts imports "node:process": the domain may import only relative domain files`,
    `domain/interaction/bad.ts imports "https://example.com/mod.ts": the domain may import only relative domain files`,
    `domain/interaction/bad.ts imports "../../outbox/envelope.ts" from outbox/`,
    `domain/interaction/bad.ts imports "../../adapters/postgres/like_store.ts" from adapters/`,
    `domain/interaction/bad.ts imports "../../application/interaction/set_like.ts" from application/`,
    `domain/interaction/bad.ts imports "../../outside.ts" from outside domain/`,
    `domain/interaction/bad.ts imports "../../bin/config.ts" from bin/`,
    `domain/interaction/bad.ts uses the Deno global: const level = Deno.env.get("X");`,
  ]);

  // and a pure domain file, whose comments may mention Deno, passes
  const good = [
    `/** Pure rules: no Deno.env, no I/O. */`,
    `import { targetKey } from "./like.ts";`,
    `import type { Other } from "../shared/other.ts";`,
    `// Deno.exit is not used here`,
    `export const key = targetKey({ type: "video", id: "1" });`,
  ].join("\n");
  assert.deepEqual(domainViolations("domain/interaction/good.ts", good), []);
});

/** The bounded contexts: the folders under domain/ (the shared kernel aside). */
async function contexts(): Promise<{ name: string; words: string[] }[]> {
  const found: { name: string; words: string[] }[] = [];
  for await (const entry of Deno.readDir(new URL("domain/", root))) {
    if (!entry.isDirectory || entry.name === "shared") continue;
    const words = [entry.name];
    for await (const file of Deno.readDir(new URL(`domain/${entry.name}/`, root))) {
      if (file.isFile && file.name.endsWith(".ts") && !file.name.endsWith("_test.ts")) {
        words.push(file.name.replace(/\.ts$/, ""));
      }
    }
    found.push({ name: entry.name, words });
  }
  return found;
}

/**
 * Ways `source` names a context: an import from a context's folder or module file, or one of its words in
 * code (the context's name anywhere; a domain file's stem as an identifier part such as `likeRoutes`,
 * `like_counts`, `/likes`).
 */
function contextMentions(path: string, source: string, known: { name: string; words: string[] }[]): string[] {
  const code = withoutComments(source);
  const found: string[] = [];
  const specifiers = specifierPatterns.flatMap((pattern) => [...code.matchAll(pattern)].map((m) => m[1]));
  for (const { name, words } of known) {
    for (const specifier of specifiers) {
      if (specifier.includes(`/${name}/`) || specifier.includes(`modules/${name}`)) {
        found.push(`${path} imports "${specifier}" of the ${name} context`);
      }
    }
    for (const word of words) {
      const pattern = word === name
        ? new RegExp(`${word}`, "i")
        : new RegExp(`(\\b${word}[A-Z_s]|[a-z]${word[0].toUpperCase()}${word.slice(1)}|/${word}s?\\b)`);
      const line = code.split("\n").find((l) => pattern.test(l));
      if (line) found.push(`${path} names the ${name} context ("${word}"): ${line.trim()}`);
    }
  }
  return found;
}

/** The platform's files: the outbox machinery, the HTTP app, the migration runner, the composition roots. */
async function platformFiles(): Promise<string[]> {
  const bin = (await sourceFiles("bin/")).filter((file) => file !== "bin/modules.ts");
  const http = (await sourceFiles("adapters/http/")).filter((file) => !/^adapters\/http\/[^/]+\//.test(file));
  return [
    ...await sourceFiles("outbox/"),
    ...http,
    "adapters/context_module.ts",
    "adapters/postgres/migrate.ts",
    ...bin,
  ];
}

Deno.test("the platform names no bounded context: only the module list does", async () => {
  // given the contexts and the platform's files
  const known = await contexts();
  assert.ok(known.some((c) => c.name === "interaction"), "the interaction context is found under domain/");
  const files = await platformFiles();
  assert.ok(
    files.includes("bin/start.ts") && files.includes("outbox/relay.ts") &&
      files.includes("adapters/http/app.ts"),
  );

  // when each is searched for imports and names of a context
  const mentions: string[] = [];
  for (const file of files) {
    mentions.push(...contextMentions(file, await Deno.readTextFile(new URL(file, root)), known));
  }

  // then none names one
  assert.deepEqual(mentions, [], `the platform names a context:\n${mentions.join("\n")}`);

  // and the module list does, by importing each context's module
  const list = await Deno.readTextFile(new URL("bin/modules.ts", root));
  for (const { name } of known) assert.match(list, new RegExp(`modules/${name}\\.ts`));
});

Deno.test("the context checker flags an import and the names of a context, and passes neutral code", () => {
  const known = [{ name: "interaction", words: ["interaction", "like"] }];
  const bad = [
    `import { likeRoutes } from "../adapters/http/interaction/like_routes.ts";`,
    `import { interactionModule } from "../adapters/modules/interaction.ts";`,
    `const sql = "select * from like_counts";`,
  ].join("\n");
  const mentions = contextMentions("bin/x.ts", bad, known);
  assert.ok(
    mentions.some((m) => m.includes(`imports "../adapters/http/interaction/like_routes.ts"`)),
    mentions.join("\n"),
  );
  assert.ok(
    mentions.some((m) => m.includes(`imports "../adapters/modules/interaction.ts"`)),
    mentions.join("\n"),
  );
  assert.ok(mentions.some((m) => m.includes(`("like")`)), mentions.join("\n"));
  const neutral = [
    `/** Works like the relay, for every context (comments may say like and interaction). */`,
    `import { modules } from "./modules.ts";`,
    `export const groups = modules.length;`,
  ].join("\n");
  assert.deepEqual(contextMentions("bin/y.ts", neutral, known), []);
});
