/**
 * containerd's filter language, as containerd and ctr send it in List:
 *   filter   := selector ("," selector)*        all selectors must match
 *   selector := fieldpath [op value]            no op: the field is present
 *   fieldpath:= field ("." field)*              field: identifier or "quoted"
 *   op       := "==" | "!=" | "~="              ~= is a regular expression
 *   value    := bare | "quoted" | /regex/ | |regex|
 * A list of filters matches when any one does (OR). Snapshot fields are
 * name, parent, kind and labels.KEY (a dotted KEY may be quoted).
 */
import { StargzError } from "../../util/errors.ts";
import type { SnapshotInfo } from "./types.ts";

type Operator = "present" | "==" | "!=" | "~=";

interface Selector {
  readonly path: readonly string[];
  readonly op: Operator;
  readonly value: string;
  readonly regex?: RegExp;
}

export type Filter = readonly Selector[];

/** Parses all filters; an empty list matches everything. */
export function parseFilters(filters: readonly string[]): Filter[] {
  return filters.filter((f) => f.trim() !== "").map(parseFilter);
}

export function matchesAny(filters: readonly Filter[], info: SnapshotInfo): boolean {
  if (filters.length === 0) return true;
  return filters.some((f) => f.every((s) => matchSelector(s, info)));
}

export function parseFilter(text: string): Filter {
  const scanner = new Scanner(text);
  const selectors: Selector[] = [];
  do {
    selectors.push(parseSelector(scanner));
    scanner.skipSpace();
  } while (scanner.eat(","));
  if (!scanner.done()) scanner.fail("unexpected input");
  return selectors;
}

function parseSelector(s: Scanner): Selector {
  const path = [s.field()];
  while (s.eat(".")) path.push(s.field());
  s.skipSpace();
  const op = (["==", "!=", "~="] as const).find((o) => s.eat(o));
  if (op === undefined) return { path, op: "present", value: "" };
  s.skipSpace();
  const value = s.value(op === "~=");
  if (op !== "~=") return { path, op, value };
  try {
    return { path, op, value, regex: new RegExp(value) };
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", "invalid regular expression in filter", {
      cause: err,
      context: { filter: s.text },
    });
  }
}

function fieldOf(info: SnapshotInfo, path: readonly string[]): string | undefined {
  const [head, ...rest] = path;
  if (rest.length === 0 && head === "name") return info.name;
  if (rest.length === 0 && head === "parent") return info.parent;
  if (rest.length === 0 && head === "kind") return info.kind;
  if (head === "labels" && rest.length > 0) return info.labels[rest.join(".")];
  return undefined;
}

function matchSelector(s: Selector, info: SnapshotInfo): boolean {
  const value = fieldOf(info, s.path);
  if (value === undefined) return false;
  if (s.op === "present") return true;
  if (s.op === "==") return value === s.value;
  if (s.op === "!=") return value !== s.value;
  return s.regex?.test(value) ?? false;
}

class Scanner {
  readonly text: string;
  #pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  done(): boolean {
    return this.#pos >= this.text.length;
  }

  skipSpace(): void {
    while (/\s/.test(this.text[this.#pos] ?? "")) this.#pos++;
  }

  eat(token: string): boolean {
    if (!this.text.startsWith(token, this.#pos)) return false;
    this.#pos += token.length;
    return true;
  }

  field(): string {
    this.skipSpace();
    if (this.text[this.#pos] === '"') return this.#quoted('"');
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.text.slice(this.#pos));
    if (!m) this.fail("expected a field name");
    this.#pos += m[0].length;
    return m[0];
  }

  value(allowRegexQuotes: boolean): string {
    const c = this.text[this.#pos];
    if (c === '"' || (allowRegexQuotes && (c === "/" || c === "|"))) return this.#quoted(c);
    const m = /^[^\s,"]+/.exec(this.text.slice(this.#pos));
    if (!m) this.fail("expected a value");
    this.#pos += m[0].length;
    return m[0];
  }

  fail(what: string): never {
    throw new StargzError("INVALID_ARGUMENT", `invalid filter: ${what}`, {
      context: { filter: this.text, offset: this.#pos },
    });
  }

  /** A quoted string; a backslash escapes the next character (the quote itself included). */
  #quoted(quote: string): string {
    let out = "";
    for (let i = this.#pos + 1; i < this.text.length; i++) {
      const c = this.text[i] as string;
      if (c === quote) {
        this.#pos = i + 1;
        return out;
      }
      if (c === "\\" && i + 1 < this.text.length) {
        const next = this.text[++i] as string;
        out += quote === '"' ? unescape(next) : next === quote ? next : `\\${next}`;
      } else out += c;
    }
    return this.fail("unterminated quote");
  }
}

function unescape(c: string): string {
  return ({ n: "\n", t: "\t", r: "\r" } as Record<string, string>)[c] ?? c;
}
