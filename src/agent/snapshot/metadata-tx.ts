/**
 * One transaction over the snapshot tables. Each method enforces one of
 * containerd's storage rules and throws StargzError with the code containerd
 * expects (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { StargzError } from "../../util/errors.ts";
import type { MicrosClock } from "./clock.ts";
import type { Kind, Labels, SnapshotInfo, StoredSnapshot, Usage } from "./types.ts";

export interface Tx {
  readonly writable: boolean;
  createSnapshot(kind: Kind, key: string, parent: string, labels: Labels): StoredSnapshot;
  has(name: string): boolean;
  getSnapshot(key: string): StoredSnapshot;
  getInfo(key: string): { id: number; info: SnapshotInfo; usage: Usage };
  commitActive(key: string, name: string, usage: Usage, labels: Labels): number;
  remove(key: string): { id: number; kind: Kind };
  setLabels(key: string, labels: Labels): SnapshotInfo;
  walk(): SnapshotInfo[];
  ids(): Set<number>;
  /** Labels of the snapshot with this id (empty when there is none). */
  labelsOf(id: number): Labels;
}

interface Row {
  id: number;
  name: string;
  parent_id: number | null;
  /** Ancestor ids, nearest first, comma-separated; fixed at creation. */
  chain: string;
  kind: Kind;
  created_us: number;
  updated_us: number;
  size: number;
  inodes: number;
}

export class SqliteTx implements Tx {
  readonly writable: boolean;
  readonly #db: DatabaseSync;
  readonly #now: MicrosClock;
  readonly #cache: Map<string, StatementSync>;

  /** `cache` outlives the transaction: compiled statements are reused by later ones. */
  constructor(
    db: DatabaseSync,
    writable: boolean,
    now: MicrosClock,
    cache: Map<string, StatementSync>,
  ) {
    this.#db = db;
    this.writable = writable;
    this.#now = now;
    this.#cache = cache;
  }

  #stmt(sql: string): StatementSync {
    let stmt = this.#cache.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#cache.set(sql, stmt);
    }
    return stmt;
  }

  createSnapshot(kind: Kind, key: string, parent: string, labels: Labels): StoredSnapshot {
    this.#mustWrite();
    if (kind === "committed") {
      throw new StargzError("INVALID_ARGUMENT", "cannot create a committed snapshot", {
        context: { key },
      });
    }
    if (key === "") throw new StargzError("INVALID_ARGUMENT", "snapshot key must not be empty");
    if (this.#row(key))
      throw new StargzError("ALREADY_EXISTS", "snapshot already exists", { context: { key } });
    const p = parent === "" ? undefined : this.#committedParent(key, parent);
    const parentIds = p ? [p.id, ...chainOf(p)] : [];
    const us = this.#now();
    const res = this.#stmt(
      "INSERT INTO snapshots (name, parent_id, chain, kind, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(key, p?.id ?? null, parentIds.join(","), kind, us, us);
    const id = Number(res.lastInsertRowid);
    this.#writeLabels(id, labels);
    return { id, kind, parentIds };
  }

  has(name: string): boolean {
    return this.#row(name) !== undefined;
  }

  #committedParent(key: string, parent: string): Row {
    const p = this.#row(parent);
    if (!p) {
      throw new StargzError("NOT_FOUND", "parent snapshot does not exist", {
        context: { key, parent },
      });
    }
    if (p.kind !== "committed") {
      throw new StargzError("INVALID_ARGUMENT", "parent is not a committed snapshot", {
        context: { key, parent },
      });
    }
    return p;
  }

  getSnapshot(key: string): StoredSnapshot {
    const row = this.#mustRow(key);
    if (row.kind === "committed") {
      throw new StargzError("FAILED_PRECONDITION", "snapshot is not active or a view", {
        context: { key },
      });
    }
    return { id: row.id, kind: row.kind, parentIds: chainOf(row) };
  }

  getInfo(key: string): { id: number; info: SnapshotInfo; usage: Usage } {
    const row = this.#mustRow(key);
    return { id: row.id, info: this.#info(row), usage: { size: row.size, inodes: row.inodes } };
  }

  commitActive(key: string, name: string, usage: Usage, labels: Labels): number {
    this.#mustWrite();
    if (name === "")
      throw new StargzError("INVALID_ARGUMENT", "snapshot name must not be empty", {
        context: { key },
      });
    if (this.#row(name))
      throw new StargzError("ALREADY_EXISTS", "snapshot already exists", {
        context: { key: name },
      });
    const row = this.#mustRow(key);
    if (row.kind !== "active")
      throw new StargzError("FAILED_PRECONDITION", "snapshot is not active", { context: { key } });
    const us = this.#now();
    this.#stmt(
      "UPDATE snapshots SET name = ?, kind = 'committed', created_us = ?, updated_us = ?, size = ?, inodes = ? WHERE id = ?",
    ).run(name, us, us, usage.size, usage.inodes, row.id);
    this.#stmt("DELETE FROM labels WHERE snapshot_id = ?").run(row.id);
    this.#writeLabels(row.id, labels);
    return row.id;
  }

  remove(key: string): { id: number; kind: Kind } {
    this.#mustWrite();
    const row = this.#mustRow(key);
    const child = this.#stmt("SELECT 1 AS one FROM snapshots WHERE parent_id = ? LIMIT 1").get(
      row.id,
    );
    if (child)
      throw new StargzError("FAILED_PRECONDITION", "cannot remove a snapshot with children", {
        context: { key },
      });
    this.#stmt("DELETE FROM snapshots WHERE id = ?").run(row.id);
    return { id: row.id, kind: row.kind };
  }

  setLabels(key: string, labels: Labels): SnapshotInfo {
    this.#mustWrite();
    const row = this.#mustRow(key);
    this.#stmt("DELETE FROM labels WHERE snapshot_id = ?").run(row.id);
    this.#writeLabels(row.id, labels);
    const us = this.#now();
    this.#stmt("UPDATE snapshots SET updated_us = ? WHERE id = ?").run(us, row.id);
    return this.#info({ ...row, updated_us: us });
  }

  walk(): SnapshotInfo[] {
    const rows = this.#stmt("SELECT * FROM snapshots ORDER BY id").all() as unknown as Row[];
    return rows.map((row) => this.#info(row));
  }

  ids(): Set<number> {
    const rows = this.#stmt("SELECT id FROM snapshots").all() as unknown as { id: number }[];
    return new Set(rows.map((r) => r.id));
  }

  labelsOf(id: number): Labels {
    return this.#labels(id);
  }

  #info(row: Row): SnapshotInfo {
    const parent =
      row.parent_id === null
        ? ""
        : (
            this.#stmt("SELECT name FROM snapshots WHERE id = ?").get(row.parent_id) as {
              name: string;
            }
          ).name;
    return {
      name: row.name,
      parent,
      kind: row.kind,
      labels: this.#labels(row.id),
      createdUs: row.created_us,
      updatedUs: row.updated_us,
    };
  }

  #labels(id: number): Labels {
    const rows = this.#stmt("SELECT key, value FROM labels WHERE snapshot_id = ?").all(
      id,
    ) as unknown as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  #writeLabels(id: number, labels: Labels): void {
    const insert = this.#stmt("INSERT INTO labels (snapshot_id, key, value) VALUES (?, ?, ?)");
    for (const [key, value] of Object.entries(labels)) insert.run(id, key, value);
  }

  #row(name: string): Row | undefined {
    return this.#stmt("SELECT * FROM snapshots WHERE name = ?").get(name) as Row | undefined;
  }

  #mustRow(name: string): Row {
    const row = this.#row(name);
    if (!row)
      throw new StargzError("NOT_FOUND", "snapshot does not exist", { context: { key: name } });
    return row;
  }

  #mustWrite(): void {
    if (!this.writable) throw new StargzError("INTERNAL", "write in a read-only transaction");
  }
}

function chainOf(row: Row): number[] {
  return row.chain === "" ? [] : row.chain.split(",").map(Number);
}
