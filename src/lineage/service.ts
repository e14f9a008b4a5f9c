/**
 * Lineage: the graph of what was made from, or consumed, what — dataset → feature view → feature
 * service → model version → deployment, and so on. Modules record edges through {@link LineageService}
 * as they work; nobody records lineage by hand. Nodes are `(kind, id)` pairs named by the module that
 * owns them (e.g. `feature_view` / `driver_stats@<sha256>`, `model_version` / `churn/3`).
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.ts';
import type { RequestContext } from '../core/context.ts';
import type { MetadataStore } from '../storage/ports.ts';
import type { Database } from '../storage/schema.ts';

/** A node of the lineage graph. */
export interface LineageNode {
  readonly kind: string;
  readonly id: string;
}

/** An edge to record: `src` was used to make, or is consumed by, `dst`. */
export interface LineageEdgeInput {
  readonly src: LineageNode;
  readonly dst: LineageNode;
  /** What the edge means, e.g. `derived_from`, `consumed_by`, `deployed_as`. */
  readonly relation: string;
}

/** A recorded edge. */
export interface LineageEdge extends LineageEdgeInput {
  readonly created_at: number;
  readonly created_by: string;
}

/** A node reached by a walk, with how far it is and the edge that reached it. */
export interface ReachedNode {
  readonly node: LineageNode;
  readonly depth: number;
  readonly via: LineageEdge;
}

/** What {@link LineageService} needs. */
export interface LineageDeps {
  readonly metadata: MetadataStore;
  readonly clock: Clock;
}

/** Records and walks lineage edges. */
export class LineageService {
  constructor(readonly deps: LineageDeps) {}

  /** Records edges (already recorded ones are kept as they were). `db` lets a caller use its transaction. */
  async record(ctx: RequestContext, edges: readonly LineageEdgeInput[], db: Kysely<Database> = this.deps.metadata.db): Promise<void> {
    if (edges.length === 0) return;
    const now = this.deps.clock.now();
    await db
      .insertInto('lineage_edges')
      .values(
        edges.map((e) => ({
          project: ctx.project,
          src_kind: e.src.kind,
          src_id: e.src.id,
          dst_kind: e.dst.kind,
          dst_id: e.dst.id,
          relation: e.relation,
          created_at: now,
          created_by: ctx.actor.name,
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Removes every edge into or out of `node` (the thing it names is gone); resolves how many. */
  async removeNode(ctx: RequestContext, node: LineageNode): Promise<number> {
    const result = await this.deps.metadata.db
      .deleteFrom('lineage_edges')
      .where('project', '=', ctx.project)
      .where((eb) =>
        eb.or([
          eb.and([eb('src_kind', '=', node.kind), eb('src_id', '=', node.id)]),
          eb.and([eb('dst_kind', '=', node.kind), eb('dst_id', '=', node.id)]),
        ]),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Moves every edge of `from` to `to` (the thing was renamed), in one transaction. */
  async renameNode(ctx: RequestContext, from: LineageNode, to: LineageNode): Promise<void> {
    await this.deps.metadata.transaction(async (trx) => {
      for (const [kindColumn, idColumn] of [['src_kind', 'src_id'], ['dst_kind', 'dst_id']] as const) {
        await trx
          .updateTable('lineage_edges')
          .set({ [kindColumn]: to.kind, [idColumn]: to.id })
          .where('project', '=', ctx.project)
          .where(kindColumn, '=', from.kind)
          .where(idColumn, '=', from.id)
          .execute();
      }
    });
  }

  /** Every node reachable downstream of `from` (breadth first, each node once), up to `maxDepth` edges away. */
  async downstream(ctx: RequestContext, from: readonly LineageNode[], maxDepth = 16): Promise<ReachedNode[]> {
    return this.#walk(ctx, from, maxDepth, 'down');
  }

  /** Every node reachable upstream of `from` (what it was made from). */
  async upstream(ctx: RequestContext, from: readonly LineageNode[], maxDepth = 16): Promise<ReachedNode[]> {
    return this.#walk(ctx, from, maxDepth, 'up');
  }

  async #walk(ctx: RequestContext, from: readonly LineageNode[], maxDepth: number, direction: 'up' | 'down'): Promise<ReachedNode[]> {
    const key = (n: LineageNode) => `${n.kind}\u0000${n.id}`;
    const seen = new Set(from.map(key));
    const out: ReachedNode[] = [];
    let frontier = [...from];
    for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
      const next: LineageNode[] = [];
      for (const node of frontier) {
        const rows = await this.deps.metadata.db
          .selectFrom('lineage_edges')
          .selectAll()
          .where('project', '=', ctx.project)
          .where(direction === 'down' ? 'src_kind' : 'dst_kind', '=', node.kind)
          .where(direction === 'down' ? 'src_id' : 'dst_id', '=', node.id)
          .orderBy('created_at')
          .execute();
        for (const row of rows) {
          const edge: LineageEdge = {
            src: { kind: row.src_kind, id: row.src_id },
            dst: { kind: row.dst_kind, id: row.dst_id },
            relation: row.relation,
            created_at: Number(row.created_at),
            created_by: row.created_by,
          };
          const reached = direction === 'down' ? edge.dst : edge.src;
          if (seen.has(key(reached))) continue;
          seen.add(key(reached));
          out.push({ node: reached, depth, via: edge });
          next.push(reached);
        }
      }
      frontier = next;
    }
    return out;
  }
}
