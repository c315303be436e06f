/**
 * `deno run -A bin/command.ts <context> <command> [args]`: runs a context's operator command against the
 * configured database (migrated first with `deno task migrate`). Without a command it lists them all.
 * Exit codes: 0 done, 1 refused or failed, 2 usage error.
 */
import { UsageError } from "../adapters/context_module.ts";
import { Metrics } from "../adapters/metrics/prometheus.ts";
import { boot, openDatabase } from "./infrastructure.ts";
import { modules } from "./modules.ts";
import { buildModules, checkBucketCount, settingsProblems } from "./runtime.ts";

const [contextName, commandName, ...args] = Deno.args;
const { config, logger } = boot("command", {
  quiet: true,
  settingsProblems: () => settingsProblems(modules),
});
// Commands are built with their context (stores, hashing, settings), over the database.
const db = await openDatabase(config, logger);
const built = buildModules(modules, { db, config, logger, metrics: new Metrics({ process: "command" }) });
const commands = built.flatMap(({ module, parts }) =>
  Object.entries(parts.commands ?? {}).map(([name, command]) => ({ context: module.name, name, command }))
);
const list = commands.map(({ context, name, command }) => `  ${context} ${name}: ${command.summary}`);
const found = commands.find((c) => c.context === contextName && c.name === commandName);

let code = 0;
try {
  if (!found) {
    const known = contextName && commandName;
    (known ? console.error : console.log)(
      [known ? `no command "${contextName} ${commandName}"; commands:` : "commands:", ...list].join("\n"),
    );
    code = known ? 2 : 0;
  } else if (args.includes("--help")) {
    console.log(`usage: ${found.command.usage}\n${found.command.summary}`);
  } else {
    await checkBucketCount(db, config, logger);
    const lines = await found.command.run(args, {
      readStdin: async () =>
        Deno.stdin.isTerminal() ? undefined : await new Response(Deno.stdin.readable).text(),
    });
    for (const line of lines) console.log(line);
  }
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\nusage: ${found?.command.usage}`);
    code = 2;
  } else {
    console.error(`✗ ${error instanceof Error ? error.message : String(error)}`);
    code = 1;
  }
} finally {
  await db.close();
}
Deno.exit(code);
