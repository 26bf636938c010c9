/**
 * What happened to each layer of each image, one JSON file per image under
 * `<dir>/<sha256 of the reference, 16 hex>.json`:
 *
 *   { "image": "reg/app:1", "layers": { "sha256:…": { "mode": "remote" | "fallback" | "restore_failed",
 *     "reason"?: "not_estargz", "error"?: "…", "time": "…" } } }
 *
 * so a fallback is visible per image without reading logs. Writes are
 * serialized per file and atomic (write a temp file, rename). The agent
 * never reads these back; they are for people and tools.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../util/log.ts";
import type { FallbackReason } from "./fallback-reason.ts";

export interface LayerRecord {
  mode: "remote" | "fallback" | "restore_failed";
  reason?: FallbackReason;
  error?: string;
  time: string;
}

export interface ImageStateFile {
  image: string;
  layers: Record<string, LayerRecord>;
}

export class ImageStates {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #pending = new Map<string, Promise<void>>();

  constructor(options: { dir: string; logger: Logger; now?: () => Date }) {
    this.#dir = options.dir;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
  }

  /** Path of an image's state file. */
  fileFor(image: string): string {
    const id = createHash("sha256").update(image).digest("hex").slice(0, 16);
    return join(this.#dir, `${id}.json`);
  }

  /** Records the outcome for one layer; never throws (a failed write is logged). */
  record(image: string, digest: string, record: Omit<LayerRecord, "time">): Promise<void> {
    const file = this.fileFor(image);
    const previous = this.#pending.get(file) ?? Promise.resolve();
    const next = previous
      .then(() => this.#write(file, image, digest, { ...record, time: this.#now().toISOString() }))
      .catch((err: unknown) =>
        this.#logger.warn("cannot write image state file", { image, file, error: err }),
      );
    this.#pending.set(file, next);
    void next.finally(() => {
      if (this.#pending.get(file) === next) this.#pending.delete(file);
    });
    return next;
  }

  /** Resolves when every write started so far has finished. */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending.values()]);
  }

  async read(image: string): Promise<ImageStateFile | undefined> {
    try {
      return JSON.parse(await readFile(this.fileFor(image), "utf8")) as ImageStateFile;
    } catch {
      return undefined;
    }
  }

  async #write(file: string, image: string, digest: string, record: LayerRecord): Promise<void> {
    const state = (await this.read(image)) ?? { image, layers: {} };
    state.layers[digest] = record;
    await mkdir(this.#dir, { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(state, null, 2) + "\n");
    await rename(temp, file);
  }
}
