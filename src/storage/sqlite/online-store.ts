/** The embedded online store: one SQLite table in its own file beside the metadata database. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { decodeOnlineValues, encodeOnlineValues } from '../online-codec.ts';
import type { OnlineRecord, OnlineStore, OnlineWrite, OnlineWriteResult } from '../ports.ts';

/** Settings of {@link SqliteOnlineStore}. */
export interface SqliteOnlineStoreConfig {
  /** Database file (e.g. `<home>/online.db`), or `:memory:`. Parent folders are created. */
  readonly path: string;
}

/** {@link OnlineStore} on SQLite (better-sqlite3, WAL). */
export class SqliteOnlineStore implements OnlineStore {
  readonly kind = 'sqlite' as const;
  readonly #db: BetterSqlite3.Database;
  readonly #upsert: BetterSqlite3.Statement;
  readonly #get: BetterSqlite3.Statement;
  readonly #purge: BetterSqlite3.Statement;
  readonly #drop: BetterSqlite3.Statement;
  readonly #writeMany: (records: readonly OnlineWrite[]) => OnlineWriteResult;

  constructor(config: SqliteOnlineStoreConfig) {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    const db = new BetterSqlite3(config.path);
    db.pragma('journal_mode = WAL');
    // WAL with NORMAL survives kill -9 of the process (not power loss): the online store can be
    // rebuilt by materialization, unlike the metadata it is derived from.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(
      `CREATE TABLE IF NOT EXISTS online_features (
         tbl TEXT NOT NULL, k TEXT NOT NULL, t INTEGER NOT NULL, v TEXT NOT NULL,
         PRIMARY KEY (tbl, k)) WITHOUT ROWID`,
    );
    this.#db = db;
    this.#upsert = db.prepare(
      `INSERT INTO online_features (tbl, k, t, v) VALUES (?, ?, ?, ?)
       ON CONFLICT (tbl, k) DO UPDATE SET t = excluded.t, v = excluded.v WHERE excluded.t >= online_features.t`,
    );
    this.#get = db.prepare('SELECT t, v FROM online_features WHERE tbl = ? AND k = ?').raw(true);
    this.#purge = db.prepare('DELETE FROM online_features WHERE tbl = ? AND t < ?');
    this.#drop = db.prepare('DELETE FROM online_features WHERE tbl = ?');
    this.#writeMany = db.transaction((records: readonly OnlineWrite[]) => {
      let written = 0;
      for (const r of records) written += this.#upsert.run(r.table, r.key, r.eventTime, encodeOnlineValues(r.values)).changes;
      return { written, skipped: records.length - written };
    });
  }

  async write(records: readonly OnlineWrite[]): Promise<OnlineWriteResult> {
    return this.#writeMany(records);
  }

  async read(table: string, keys: readonly string[]): Promise<(OnlineRecord | undefined)[]> {
    return keys.map((key) => {
      const row = this.#get.get(table, key) as [number, string] | undefined;
      return row ? { eventTime: row[0], values: decodeOnlineValues(row[1]) } : undefined;
    });
  }

  async purge(table: string, before: number): Promise<number> {
    return this.#purge.run(table, before).changes;
  }

  async dropTable(table: string): Promise<number> {
    return this.#drop.run(table).changes;
  }

  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
