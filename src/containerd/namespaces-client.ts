/** containerd's namespaces, and the rule containerd applies to their names. */
import { StargzError } from "../util/errors.ts";
import type { CallOptions, Rpc } from "./rpc.ts";
import type { GetNamespaceResponse, WireNamespace } from "./wire-types.ts";

const identifier = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const maxIdentifierLength = 76;

/** containerd's identifier rule for namespaces (and other ids): throws INVALID_ARGUMENT. */
export function validateNamespace(name: string): void {
  const why =
    name === ""
      ? "must not be empty"
      : name.length > maxIdentifierLength
        ? `is longer than ${maxIdentifierLength} characters`
        : identifier.test(name)
          ? undefined
          : "may hold only letters, digits and single '.', '_' or '-' between them";
  if (why)
    throw new StargzError("INVALID_ARGUMENT", `invalid containerd namespace "${name}": ${why}`, {
      context: { namespace: name },
    });
}

export class NamespacesClient {
  readonly #rpc: Rpc;

  constructor(rpc: Rpc) {
    this.#rpc = rpc;
  }

  async get(name: string, options: CallOptions = {}): Promise<WireNamespace> {
    const res = await this.#rpc.unary<GetNamespaceResponse>(
      "namespaces",
      "Get",
      { name },
      {
        ...options,
        what: "get namespace",
      },
    );
    if (!res.namespace)
      throw new StargzError("INTERNAL", "containerd answered without a namespace");
    return res.namespace;
  }
}
