/**
 * WWW-Authenticate parsing (RFC 7235): one or more challenges, each a scheme
 * followed by comma-separated `key=value` or `key="quoted value"` parameters.
 */
export interface AuthChallenge {
  /** Lower-cased: "bearer", "basic", ... */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

export function parseChallenges(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const all = Array.isArray(header) ? header : [header];
  return all.flatMap(parseOne);
}

function parseOne(header: string): AuthChallenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skip = (re: RegExp): void => {
    while (i < header.length && re.test(header[i] ?? "")) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < header.length && /[^\s,=]/.test(header[i] ?? "")) i++;
    return header.slice(start, i);
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const word = token();
    if (word === "") break;
    skip(/\s/);
    if (header[i] !== "=" || out.length === 0) {
      out.push({ scheme: word.toLowerCase(), params: {} });
      continue;
    }
    i++;
    skip(/\s/);
    const current = out[out.length - 1];
    if (current) current.params[word.toLowerCase()] = readValue();
  }
  return out;

  function readValue(): string {
    if (header[i] !== '"') return token();
    i++;
    let value = "";
    while (i < header.length && header[i] !== '"') {
      if (header[i] === "\\") i++;
      value += header[i] ?? "";
      i++;
    }
    i++;
    return value;
  }
}
