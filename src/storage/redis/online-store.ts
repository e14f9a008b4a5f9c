/**
 * The online store on Redis: one string per (table, entity key), `<eventTime>|<values JSON>`, under
 * `<prefix><table>:<key>`. Writes go through a Lua script, so "newer or equal event time wins" holds
 * atomically however many writers race; reads of many keys are one MGET.
 */
import { Redis } from 'ioredis';
import { decodeOnlineValues, encodeOnlineValues } from '../online-codec.ts';
import type { OnlineRecord, OnlineStore, OnlineWrite, OnlineWriteResult } from '../ports.ts';

/** Settings of {@link RedisOnlineStore}. */
export interface RedisOnlineStoreConfig {
  /** `redis://[user:pass@]host:port[/db]`. */
  readonly url: string;
  /** Prefix of every key (default `mloop:online:`); lets tests and tenants share a server. */
  readonly keyPrefix?: string;
}

/** KEYS: records' keys; ARGV: event time and encoded values per key. Returns how many were stored. */
const PUT_SCRIPT = `
local written = 0
for i, key in ipairs(KEYS) do
  local t = tonumber(ARGV[2 * i - 1])
  local cur = redis.call('GET', key)
  local keep = false
  if cur then
    local bar = string.find(cur, '|', 1, true)
    if tonumber(string.sub(cur, 1, bar - 1)) > t then keep = true end
  end
  if not keep then
    redis.call('SET', key, ARGV[2 * i - 1] .. '|' .. ARGV[2 * i])
    written = written + 1
  end
end
return written`;

/** KEYS: candidate keys; ARGV[1]: cutoff. Deletes those with an older event time; returns the count. */
const PURGE_SCRIPT = `
local n = 0
local cutoff = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  if cur then
    local bar = string.find(cur, '|', 1, true)
    if tonumber(string.sub(cur, 1, bar - 1)) < cutoff then
      redis.call('DEL', key)
      n = n + 1
    end
  end
end
return n`;

/** Keys per script call and per MGET: bounds the time Redis spends in one command. */
const CHUNK = 500;

interface Scripts {
  mloopOnlinePut(numKeys: number, ...args: (string | number)[]): Promise<number>;
  mloopOnlinePurge(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** {@link OnlineStore} on Redis (ioredis). */
export class RedisOnlineStore implements OnlineStore {
  readonly kind = 'redis' as const;
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(config: RedisOnlineStoreConfig) {
    this.#redis = new Redis(config.url, { lazyConnect: false, maxRetriesPerRequest: 2, enableAutoPipelining: true });
    this.#redis.defineCommand('mloopOnlinePut', { lua: PUT_SCRIPT });
    this.#redis.defineCommand('mloopOnlinePurge', { lua: PURGE_SCRIPT });
    this.#prefix = config.keyPrefix ?? 'mloop:online:';
  }

  #key(table: string, key: string): string {
    return `${this.#prefix}${table}:${key}`;
  }

  get #scripts(): Scripts {
    return this.#redis as unknown as Scripts;
  }

  async write(records: readonly OnlineWrite[]): Promise<OnlineWriteResult> {
    const calls: Promise<number>[] = [];
    for (let start = 0; start < records.length; start += CHUNK) {
      const chunk = records.slice(start, start + CHUNK);
      const keys = chunk.map((r) => this.#key(r.table, r.key));
      const args = chunk.flatMap((r) => [String(r.eventTime), encodeOnlineValues(r.values)]);
      calls.push(this.#scripts.mloopOnlinePut(keys.length, ...keys, ...args));
    }
    const written = (await Promise.all(calls)).reduce((a, b) => a + b, 0);
    return { written, skipped: records.length - written };
  }

  async read(table: string, keys: readonly string[]): Promise<(OnlineRecord | undefined)[]> {
    if (keys.length === 0) return [];
    const out: (OnlineRecord | undefined)[] = [];
    for (let start = 0; start < keys.length; start += CHUNK) {
      const chunk = keys.slice(start, start + CHUNK).map((k) => this.#key(table, k));
      const values = chunk.length === 1 ? [await this.#redis.get(chunk[0])] : await this.#redis.mget(...chunk);
      for (const v of values) {
        if (v === null) {
          out.push(undefined);
          continue;
        }
        const bar = v.indexOf('|');
        out.push({ eventTime: Number(v.slice(0, bar)), values: decodeOnlineValues(v.slice(bar + 1)) });
      }
    }
    return out;
  }

  async #scan(table: string, onKeys: (keys: string[]) => Promise<number>): Promise<number> {
    const pattern = `${this.#prefix}${table}:`.replace(/[*?[\]\\]/g, '\\$&') + '*';
    let cursor = '0';
    let total = 0;
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) total += await onKeys(keys);
    } while (cursor !== '0');
    return total;
  }

  async purge(table: string, before: number): Promise<number> {
    return this.#scan(table, (keys) => this.#scripts.mloopOnlinePurge(keys.length, ...keys, before));
  }

  async dropTable(table: string): Promise<number> {
    return this.#scan(table, (keys) => this.#redis.unlink(...keys));
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    if (this.#redis.status !== 'end') await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
