/** Caches for decompressed chunks: a memory LRU and a size-bounded disk directory. */
export { checkCacheKey, type BlobCache, type CacheWriter } from "./blob-cache.ts";
export { MemoryLru, type MemoryLruOptions } from "./memory-lru.ts";
export { DiskCache, type DiskCacheOptions } from "./disk-cache.ts";
