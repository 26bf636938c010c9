/**
 * Image references as containerd and docker read them:
 * `[host[:port]/]path[:tag][@digest]`. A first component is a host when it
 * contains "." or ":" or is "localhost"; otherwise the image is on docker.io,
 * where one-component names live under `library/`.
 */
import { StargzError } from "../util/errors.ts";

export interface ImageReference {
  /** Registry host as written (docker.io for Docker Hub), with port if any. */
  readonly registry: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

export const dockerHub = "docker.io";
const pathComponent = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

export function parseReference(input: string): ImageReference {
  const bad = (why: string): StargzError =>
    new StargzError("INVALID_ARGUMENT", `invalid image reference: ${why}`, {
      context: { image: input },
    });
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw bad("malformed digest");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad("malformed tag");
  }
  const { registry, parts } = splitRegistry(rest);
  if (parts.length === 0 || !parts.every((p) => pathComponent.test(p))) {
    throw bad("malformed repository path");
  }
  const repository = parts.join("/");
  if (tag === undefined && digest === undefined) tag = "latest";
  return { registry, repository, tag, digest };
}

/** A first component with "." or ":" or "localhost" is a host; else the image is on docker.io. */
function splitRegistry(name: string): { registry: string; parts: string[] } {
  const parts = name.split("/");
  const first = parts[0] ?? "";
  const isHost =
    parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  let registry = isHost ? first : dockerHub;
  if (isHost) parts.shift();
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = dockerHub;
  if (registry === dockerHub && parts.length === 1) parts.unshift("library");
  return { registry, parts };
}

/** The canonical string: `host/repo[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  let out = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** What a manifest GET/PUT names: the digest when there is one, else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

/** A copy of ref pointing at another tag or digest in the same repository. */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  return { registry: ref.registry, repository: ref.repository, digest };
}
