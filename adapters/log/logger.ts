/** Structured logs: one JSON object a line, or a readable line when writing to a terminal. */
import type { LogFields, Logger } from "../../application/ports.ts";

const levels = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/** A log level name. */
export type LogLevel = keyof typeof levels;

/** Options of the console logger. */
export interface ConsoleLoggerOptions {
  readonly level?: LogLevel;
  readonly format?: "json" | "pretty";
  /** Fields on every line (the process name). */
  readonly base?: LogFields;
}

/** Writes log lines to stderr (stdout stays free for a process's own output). */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const min = levels[options.level ?? "info"];
  const format = options.format ?? (Deno.stderr.isTerminal() ? "pretty" : "json");
  const encoder = new TextEncoder();
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (levels[level] < min) return;
    const time = new Date().toISOString();
    const all = { ...options.base, ...fields };
    const line = format === "json"
      ? JSON.stringify({ level, time, msg: message, ...all })
      : `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${message}${
        Object.entries(all).filter(([, v]) => v !== undefined).map(([k, v]) =>
          ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
        ).join("")
      }`;
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
