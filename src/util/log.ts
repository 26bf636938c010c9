/**
 * Structured JSON logs, one object per line. Loggers are values passed to
 * whoever needs them (no global logger); child() adds context fields such as
 * the image or layer. Field names that look like secrets are redacted so a
 * careless caller cannot leak credentials.
 */
import { errorMessage } from "./errors.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to process.stderr. */
  write?: (line: string) => void;
  fields?: LogFields;
  now?: () => Date;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const secretKey = /pass(word)?|secret|token|authorization|credential|^auth$/i;

export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(levelRank, value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const minimum = levelRank[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
      if (levelRank[level] < minimum) return;
      const record = { time: now().toISOString(), level, msg, ...base, ...fields };
      write(JSON.stringify(record, redact) + "\n");
    };
    return {
      debug: (msg, fields) => emit("debug", msg, fields),
      info: (msg, fields) => emit("info", msg, fields),
      warn: (msg, fields) => emit("warn", msg, fields),
      error: (msg, fields) => emit("error", msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.fields ?? {});
}

/** A logger that drops everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return createLogger({ write: () => {} });
}

function redact(key: string, value: unknown): unknown {
  if (key !== "" && secretKey.test(key)) return "[redacted]";
  if (value instanceof Error) {
    return { message: errorMessage(value), code: (value as { code?: unknown }).code };
  }
  return value;
}
