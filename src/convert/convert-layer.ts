/**
 * One layer of a conversion: already-eStargz layers are verified and reused;
 * others are streamed from the source registry, decompressed, rebuilt as
 * eStargz into a temp file and pushed to the target repository.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline, Readable } from "node:stream";
import { createGunzip, createZstdDecompress, type Gunzip } from "node:zlib";
import {
  buildLayer,
  openLayer,
  EStargzError,
  TOC_DIGEST_ANNOTATION,
  UNCOMPRESSED_SIZE_ANNOTATION,
  type BuildResult,
} from "../estargz/index.ts";
import {
  formatReference,
  layerCompression,
  mediaTypes,
  type Descriptor,
  type ImageReference,
  type LayerCompression,
  type RegistryClient,
} from "../registry/index.ts";
import { StargzError, type ErrorContext } from "../util/errors.ts";
import type { ConvertProgress, LayerOutcomeKind } from "./progress.ts";
import { fileSink, fileSource } from "./temp-file.ts";
import { openFileBlob } from "../util/file-blob.ts";

export interface LayerBuildSettings {
  chunkSize?: number;
  compressionLevel?: number;
  prioritizedFiles?: string[];
}

export interface LayerJob {
  client: RegistryClient;
  source: ImageReference;
  target: ImageReference;
  layer: Descriptor;
  /** The layer's diffID from the source config. */
  diffID: string;
  settings: LayerBuildSettings;
  /** An earlier conversion of this layer with the same settings, found in the target. */
  previous?: ConvertedLayer;
  tmpDir: string;
  progress: ConvertProgress;
  signal?: AbortSignal;
}

export interface ConvertedLayer {
  descriptor: Descriptor;
  diffID: string;
  outcome: LayerOutcomeKind;
}

/** Annotations recording where a converted layer came from, so a re-run can reuse it. */
export const sourceDigestAnnotation = "io.stargz-operator.source-digest";
export const buildSettingsAnnotation = "io.stargz-operator.build-settings";

export function settingsKey(s: LayerBuildSettings): string {
  return JSON.stringify([
    s.chunkSize ?? null,
    s.compressionLevel ?? null,
    s.prioritizedFiles ?? [],
  ]);
}

export async function convertLayer(job: LayerJob): Promise<ConvertedLayer> {
  const context = layerContext(job);
  const compression = layerCompression(job.layer.mediaType);
  if (compression === undefined) {
    throw new StargzError(
      "FAILED_PRECONDITION",
      `unsupported layer media type ${job.layer.mediaType}`,
      { context },
    );
  }
  job.progress.layerStarted(job.layer.digest, job.layer.size);
  if (
    job.previous &&
    (await job.client.blobExists(job.target, job.previous.descriptor.digest, job))
  ) {
    job.progress.layerDone(job.layer.digest, "reused", job.previous.descriptor.digest);
    return { ...job.previous, outcome: "reused" };
  }
  if (compression === "gzip" && (await isEStargz(job))) {
    const descriptor = { ...job.layer, mediaType: mediaTypes.ociLayerGzip };
    await copyBlob(job, descriptor);
    job.progress.layerDone(job.layer.digest, "already-estargz", descriptor.digest);
    return { descriptor, diffID: job.diffID, outcome: "already-estargz" };
  }
  const built = await rebuild(job, compression, context);
  job.progress.layerDone(job.layer.digest, "converted", built.descriptor.digest);
  return built;
}

function layerContext(job: LayerJob): ErrorContext {
  return {
    image: formatReference(job.source),
    layer: job.layer.digest,
    registry: job.source.registry,
  };
}

/** A layer that carries both eStargz annotations and whose TOC checks out. */
async function isEStargz(job: LayerJob): Promise<boolean> {
  const annotations = job.layer.annotations ?? {};
  const tocDigest = annotations[TOC_DIGEST_ANNOTATION];
  if (!tocDigest || !annotations[UNCOMPRESSED_SIZE_ANNOTATION]) return false;
  try {
    await openLayer(job.client.blobReadAt(job.source, job.layer, job), {
      expectedTocDigest: tocDigest,
      layerName: job.layer.digest,
      ...(job.signal ? { signal: job.signal } : {}),
    });
    return true;
  } catch (err) {
    if (err instanceof EStargzError) return false;
    throw err;
  }
}

async function copyBlob(job: LayerJob, descriptor: Descriptor): Promise<void> {
  const sameRegistry = job.source.registry === job.target.registry;
  await job.client.pushBlob(
    job.target,
    descriptor,
    { open: () => job.client.blobStream(job.source, descriptor, job) },
    {
      ...(sameRegistry ? { mountFrom: job.source.repository } : {}),
      ...(job.signal ? { signal: job.signal } : {}),
    },
  );
}

async function rebuild(
  job: LayerJob,
  compression: LayerCompression,
  context: ErrorContext,
): Promise<ConvertedLayer> {
  const base = join(job.tmpDir, job.layer.digest.replace(":", "-"));
  const out = `${base}.esgz`;
  try {
    let result: BuildResult;
    const wantsFile = (job.settings.prioritizedFiles?.length ?? 0) > 0;
    try {
      result = wantsFile
        ? await buildFromFile(job, compression, base, out)
        : await buildFromStream(job, compression, out);
    } catch (err) {
      // A streamed tar cannot hold duplicate names; a file can (the later entry wins).
      if (wantsFile || !(err instanceof EStargzError && /duplicate/.test(err.message))) throw err;
      result = await buildFromFile(job, compression, base, out);
    }
    const descriptor: Descriptor = {
      mediaType: mediaTypes.ociLayerGzip,
      digest: result.digest,
      size: result.size,
      annotations: {
        [TOC_DIGEST_ANNOTATION]: result.tocDigest,
        [UNCOMPRESSED_SIZE_ANNOTATION]: String(result.uncompressedSize),
        [sourceDigestAnnotation]: job.layer.digest,
        [buildSettingsAnnotation]: settingsKey(job.settings),
      },
    };
    await job.client.pushBlob(
      job.target,
      descriptor,
      fileSource(out),
      job.signal ? { signal: job.signal } : {},
    );
    return { descriptor, diffID: result.diffID, outcome: "converted" };
  } catch (err) {
    throw wrapLayerError(err, context);
  } finally {
    await rm(out, { force: true });
    await rm(`${base}.tar`, { force: true });
  }
}

async function buildFromStream(
  job: LayerJob,
  compression: LayerCompression,
  out: string,
): Promise<BuildResult> {
  const sink = await fileSink(out, (n) => job.progress.layerWritten(job.layer.digest, n));
  try {
    return await buildLayer(uncompressed(job, compression), sink, buildOptions(job));
  } finally {
    await sink.close();
  }
}

async function buildFromFile(
  job: LayerJob,
  compression: LayerCompression,
  base: string,
  out: string,
): Promise<BuildResult> {
  const tarPath = `${base}.tar`;
  const tarSink = await fileSink(tarPath);
  try {
    for await (const chunk of uncompressed(job, compression)) await tarSink.write(chunk);
  } finally {
    await tarSink.close();
  }
  const tar = await openFileBlob(tarPath);
  const sink = await fileSink(out, (n) => job.progress.layerWritten(job.layer.digest, n));
  try {
    // As ctr-remote does, a prioritized file that is not in this layer is skipped.
    return await buildLayer(tar, sink, { ...buildOptions(job), allowMissingPrioritized: true });
  } finally {
    await sink.close();
    await tar.close();
  }
}

function buildOptions(job: LayerJob): Parameters<typeof buildLayer>[2] {
  return {
    layerName: job.layer.digest,
    ...(job.settings.chunkSize !== undefined ? { chunkSize: job.settings.chunkSize } : {}),
    ...(job.settings.compressionLevel !== undefined
      ? { compressionLevel: job.settings.compressionLevel }
      : {}),
    ...(job.settings.prioritizedFiles?.length
      ? { prioritizedFiles: job.settings.prioritizedFiles }
      : {}),
    ...(job.signal ? { signal: job.signal } : {}),
  };
}

/** The layer's tar stream: the verified blob, decompressed. */
function uncompressed(job: LayerJob, compression: LayerCompression): AsyncIterable<Uint8Array> {
  let read = 0;
  const blob = job.client.blobStream(job.source, job.layer, job);
  const counted = (async function* () {
    for await (const chunk of blob) {
      read += chunk.length;
      job.progress.layerRead(job.layer.digest, read);
      yield chunk;
    }
  })();
  if (compression === "none") return counted;
  const inflate: Gunzip | ReturnType<typeof createZstdDecompress> =
    compression === "gzip" ? createGunzip() : createZstdDecompress();
  return pipeline(Readable.from(counted), inflate, () => {});
}

function wrapLayerError(err: unknown, context: ErrorContext): Error {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("Z_")) {
    return new StargzError(
      "INVALID_ARGUMENT",
      `layer does not decompress as its media type says (${code})`,
      {
        cause: err,
        context,
      },
    );
  }
  if (err instanceof StargzError && !err.message.includes(String(context.layer))) {
    return new StargzError(err.code, err.message, { cause: err, context });
  }
  return err instanceof Error ? err : new Error(String(err));
}
