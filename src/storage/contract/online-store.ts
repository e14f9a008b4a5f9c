/**
 * The contract of {@link OnlineStore}: what every online adapter (SQLite, Redis) must do the same way —
 * round trips of every value type, missing keys, many keys and large batches, "newer or equal event
 * time wins" under out-of-order and concurrent writers, TTL purges and table isolation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Random } from '../../core/random.ts';
import type { OnlineRecord, OnlineStore, OnlineWrite } from '../ports.ts';
import type { Backend, OpenedStore } from './backend.ts';

/** Runs the online-store contract against `backend`. */
export function describeOnlineStoreContract(backend: Backend<OnlineStore>): void {
  describe(`online store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let opened: OpenedStore<OnlineStore>;
    let store: OnlineStore;
    let n = 0;
    // Each test writes to its own table, so tests cannot see each other's records.
    const table = () => `contract/t${++n}`;
    before(async () => {
      opened = await backend.open();
      store = opened.store;
    });
    after(async () => {
      await opened?.cleanup();
    });

    it('round-trips every kind of value with its event time', async () => {
      const t = table();
      const values = {
        i: 42, neg: -7, big: Number.MAX_SAFE_INTEGER, f: 0.1, tiny: Number.MIN_VALUE, nan: NaN, inf: Infinity, ninf: -Infinity,
        s: 'héllo 😀 "quoted" | bar', empty: '', yes: true, no: false, missing: null, obj_like: '{"$f":"NaN"}',
      };
      const result = await store.write([{ table: t, key: '[1]', eventTime: 1_700_000_000_123, values }]);
      assert.deepEqual(result, { written: 1, skipped: 0 });
      const [record] = await store.read(t, ['[1]']);
      assert.equal(record?.eventTime, 1_700_000_000_123);
      assert.deepEqual(record?.values, values);
    });

    it('answers undefined for missing keys, in the order asked', async () => {
      const t = table();
      await store.write([
        { table: t, key: '["b"]', eventTime: 2, values: { x: 2 } },
        { table: t, key: '["d"]', eventTime: 4, values: { x: 4 } },
      ]);
      const got = await store.read(t, ['["a"]', '["b"]', '["c"]', '["d"]', '["b"]']);
      assert.deepEqual(got.map((r) => r?.values.x), [undefined, 2, undefined, 4, 2]);
      assert.deepEqual(await store.read(t, []), []);
      assert.deepEqual(await store.read(table(), ['["b"]']), [undefined]);
    });

    it('keeps tables apart and takes keys with any characters', async () => {
      const a = table();
      const b = table();
      const keys = ['[1]', '["x:y"]', '["*"]', '["a|b"]', '["日本"]', '[1,"two"]', '["?[]\\\\"]'];
      await store.write(keys.map((key, i) => ({ table: a, key, eventTime: 10, values: { i } })));
      await store.write([{ table: b, key: '[1]', eventTime: 10, values: { i: 'other' } }]);
      assert.deepEqual((await store.read(a, keys)).map((r) => r?.values.i), keys.map((_, i) => i));
      assert.deepEqual((await store.read(b, keys)).map((r) => r?.values.i), ['other', ...keys.slice(1).map(() => undefined)]);
    });

    it('overwrites only with a newer or equal event time', async () => {
      const t = table();
      await store.write([{ table: t, key: 'k', eventTime: 100, values: { v: 'first' } }]);
      assert.deepEqual(await store.write([{ table: t, key: 'k', eventTime: 99, values: { v: 'older' } }]), { written: 0, skipped: 1 });
      assert.equal((await store.read(t, ['k']))[0]?.values.v, 'first');
      assert.deepEqual(await store.write([{ table: t, key: 'k', eventTime: 100, values: { v: 'same time' } }]), { written: 1, skipped: 0 });
      assert.equal((await store.read(t, ['k']))[0]?.values.v, 'same time');
      await store.write([{ table: t, key: 'k', eventTime: 101, values: { v: 'newer' } }]);
      const [r] = await store.read(t, ['k']);
      assert.deepEqual(r, { eventTime: 101, values: { v: 'newer' } });
      // Within one batch, out of order: the newest wins.
      await store.write([
        { table: t, key: 'm', eventTime: 5, values: { v: 5 } },
        { table: t, key: 'm', eventTime: 9, values: { v: 9 } },
        { table: t, key: 'm', eventTime: 7, values: { v: 7 } },
      ]);
      assert.equal((await store.read(t, ['m']))[0]?.values.v, 9);
    });

    it('writes and reads a large batch', async () => {
      const t = table();
      const records: OnlineWrite[] = Array.from({ length: 20_000 }, (_, i) => ({
        table: t,
        key: `[${i}]`,
        eventTime: 1_000 + i,
        values: Object.fromEntries(Array.from({ length: 10 }, (_, f) => [`f${f}`, i * 10 + f])),
      }));
      assert.deepEqual(await store.write(records), { written: 20_000, skipped: 0 });
      const got = await store.read(t, records.map((r) => r.key));
      assert.equal(got.length, 20_000);
      for (let i = 0; i < got.length; i += 997) assert.deepEqual(got[i], { eventTime: records[i].eventTime, values: records[i].values });
      assert.equal(got.filter((r) => r === undefined).length, 0);
    });

    it('converges on the newest record under concurrent writers', async () => {
      const t = table();
      const rng = new Random(9);
      const keys = Array.from({ length: 200 }, (_, i) => `[${i}]`);
      const writers = Array.from({ length: 8 }, (_, w) =>
        Array.from({ length: 3 }, () => keys.map((key) => ({ table: t, key, eventTime: rng.int(1_000_000), values: { writer: w } }))),
      );
      const newest = new Map<string, OnlineRecord>();
      for (const batches of writers)
        for (const batch of batches)
          for (const r of batch) {
            const cur = newest.get(r.key);
            if (!cur || r.eventTime > cur.eventTime) newest.set(r.key, { eventTime: r.eventTime, values: r.values });
          }
      await Promise.all(writers.map(async (batches) => {
        for (const batch of batches) await store.write(batch);
      }));
      const got = await store.read(t, keys);
      keys.forEach((key, i) => assert.equal(got[i]?.eventTime, newest.get(key)!.eventTime, key));
    });

    it('purges records older than a cutoff, in one table only', async () => {
      const t = table();
      const other = table();
      await store.write(Array.from({ length: 50 }, (_, i) => ({ table: t, key: `[${i}]`, eventTime: i * 10, values: { i } })));
      await store.write([{ table: other, key: '[0]', eventTime: 0, values: { i: 0 } }]);
      assert.equal(await store.purge(t, 250), 25);
      const got = await store.read(t, Array.from({ length: 50 }, (_, i) => `[${i}]`));
      assert.deepEqual(got.map((r) => r !== undefined), Array.from({ length: 50 }, (_, i) => i >= 25));
      assert.notEqual((await store.read(other, ['[0]']))[0], undefined);
      assert.equal(await store.dropTable(t), 25);
      assert.deepEqual(await store.read(t, ['[30]']), [undefined]);
      assert.equal(await store.purge(table(), 1e15), 0);
    });

    it("keeps apart a table whose name extends another's (a view's row and window tables)", async () => {
      const t = table();
      const windows = `${t}#windows`;
      await store.write([
        { table: t, key: '[1]', eventTime: 5, values: { row: 1 } },
        { table: windows, key: '[1]', eventTime: 50, values: { window: 2 } },
      ]);
      assert.deepEqual(await store.read(windows, ['[1]']), [{ eventTime: 50, values: { window: 2 } }]);
      assert.equal(await store.purge(t, 100), 1);
      assert.equal(await store.dropTable(t), 0);
      assert.deepEqual(await store.read(windows, ['[1]']), [{ eventTime: 50, values: { window: 2 } }]);
      assert.equal(await store.dropTable(windows), 1);
    });

    it('answers ping', async () => {
      await store.ping();
    });
  });
}
