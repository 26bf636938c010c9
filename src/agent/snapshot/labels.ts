/**
 * Label validation and update by field paths, as containerd defines them:
 * a key plus its value may not exceed 4096 bytes; an update names "labels"
 * (replace all) or "labels.KEY" (set KEY, or delete it when absent from the
 * new labels); an empty path list replaces all labels.
 */
import { StargzError } from "../../util/errors.ts";
import type { Labels } from "./types.ts";

const maxLabelBytes = 4096;

export function validateLabels(labels: Labels): void {
  for (const [key, value] of Object.entries(labels)) {
    if (key === "") throw new StargzError("INVALID_ARGUMENT", "label key must not be empty");
    if (Buffer.byteLength(key) + Buffer.byteLength(value) > maxLabelBytes) {
      throw new StargzError("INVALID_ARGUMENT", "label key and value exceed 4096 bytes", {
        context: { label: key },
      });
    }
  }
}

/** The labels after applying `update` to `current` through `paths`. */
export function applyLabelUpdate(
  current: Labels,
  update: Labels,
  paths: readonly string[],
  name: string,
): Labels {
  if (paths.length === 0) return { ...update };
  const next: Labels = { ...current };
  for (const path of paths) {
    if (path === "labels") return replaceWithRest(update, paths, name);
    if (!path.startsWith("labels.")) {
      throw new StargzError("INVALID_ARGUMENT", "cannot update this field of a snapshot", {
        context: { field: path, key: name },
      });
    }
    const key = path.slice("labels.".length);
    const value = update[key];
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return next;
}

function replaceWithRest(update: Labels, paths: readonly string[], name: string): Labels {
  for (const path of paths) {
    if (path !== "labels" && !path.startsWith("labels.")) {
      throw new StargzError("INVALID_ARGUMENT", "cannot update this field of a snapshot", {
        context: { field: path, key: name },
      });
    }
  }
  return { ...update };
}
