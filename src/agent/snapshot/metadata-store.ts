/**
 * The transactional metadata store: one SQLite database (node:sqlite, WAL)
 * holding every snapshot's record. All access goes through
 * withTransaction(writable, fn): fn gets a Tx, and the transaction commits
 * when fn resolves and rolls back when it throws. Transactions are
 * serialized (node:sqlite is one synchronous connection), so fn may await
 * filesystem work (the rename of a staged directory) inside its transaction.
 *
 * Invariants: names are unique across kinds; a parent is always committed;
 * a snapshot with children cannot be removed; ids are never reused while the
 * database lives (AUTOINCREMENT), so a directory named by an id that the
 * database does not know is always garbage.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StargzError } from "../../util/errors.ts";
import { schemaSql } from "./metadata-schema.ts";
import { systemClockUs, type MicrosClock } from "./clock.ts";
import { SqliteTx, type Tx } from "./metadata-tx.ts";

export type { Tx } from "./metadata-tx.ts";

export interface MetadataStoreOptions {
  /** Path of the database file; ":memory:" for tests. */
  path: string;
  /** Microseconds since the epoch; systemClockUs() by default. */
  nowUs?: MicrosClock;
}

export class MetadataStore {
  readonly #db: DatabaseSync;
  readonly #now: MicrosClock;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #statements = new Map<string, StatementSync>();

  constructor(options: MetadataStoreOptions) {
    this.#db = new DatabaseSync(options.path);
    this.#now = options.nowUs ?? systemClockUs();
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = FULL");
    this.#db.exec("PRAGMA foreign_keys = ON");
    this.#db.exec("PRAGMA busy_timeout = 5000");
    this.#db.exec(schemaSql);
  }

  /** Runs fn in one transaction; resolves with fn's result after COMMIT. */
  withTransaction<T>(writable: boolean, fn: (tx: Tx) => Promise<T> | T): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.#closed) throw new StargzError("UNAVAILABLE", "metadata store is closed");
      this.#db.exec(writable ? "BEGIN IMMEDIATE" : "BEGIN");
      try {
        const result = await fn(new SqliteTx(this.#db, writable, this.#now, this.#statements));
        this.#db.exec("COMMIT");
        return result;
      } catch (err) {
        // SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR).
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        if (err instanceof StargzError) throw err;
        throw new StargzError("INTERNAL", "metadata transaction failed", {
          cause: err,
          context: { errno: sqliteCode(err) },
        });
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Waits for queued transactions, then closes the database. Idempotent. */
  async close(): Promise<void> {
    await this.#queue;
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function sqliteCode(err: unknown): string | undefined {
  const e = err as { errstr?: unknown; code?: unknown };
  return typeof e.errstr === "string" ? e.errstr : typeof e.code === "string" ? e.code : undefined;
}
