import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { WorkflowEngine } from '../../engine-adapter/contract.ts';
import type { Config } from '../config.ts';
import type { AuditService } from './audit.service.ts';
import type { SettingsService } from './settings.service.ts';
import { PeriodicTask } from '../shared/periodic-task.ts';

export const FINISHED_STATUSES = ['approved', 'refused', 'expired', 'withdrawn'];
const DAY_MS = 86_400_000;
const BATCH = 100;

export interface PurgeResult {
  cutoff: Date;
  applications: number;
  uploads: number;
  visitors: number;
  /** Hosts' pre-invitations past their window and the period, with no application left (their SMS go too). */
  invitations: number;
}

/**
 * The retention period of the privacy rules: finished applications older than it are deleted with everything
 * that hangs off them (uploads, pass and gate events, tasks, timeline, SMS texts, engine state), leaving only
 * anonymous counts per visit day, campus, department and outcome; visitor accounts unused for as long and left
 * without applications go too. Safe to run on several servers at once: rows are claimed with SKIP LOCKED and
 * counted in the transaction that deletes them, so nothing is counted twice.
 */
export class RetentionService {
  private readonly schedule = new PeriodicTask(
    () => this.purge(),
    (err) => this.deps.logger.error({ err }, 'retention purge failed'),
  );

  constructor(
    private readonly deps: {
      knex: Knex;
      clock: Clock;
      logger: Logger;
      config: Config;
      engine: WorkflowEngine;
      settings: SettingsService;
      audit: AuditService;
      deleteUploadsOf(applicationId: number): Promise<number>;
      deleteUnlinkedUploadsBefore(cutoff: Date): Promise<number>;
    },
  ) {}

  async purge(now: Date = this.deps.clock.now()): Promise<PurgeResult> {
    const { knex } = this.deps;
    const days = await this.deps.settings.get('retentionDays');
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    const result: PurgeResult = { cutoff, applications: 0, uploads: 0, visitors: 0, invitations: 0 };
    const due = (q: Knex.QueryBuilder) =>
      q.whereIn('status', FINISHED_STATUSES).where('updated_at', '<', cutoff).where('window_end', '<', cutoff);

    for (let seen = new Set<number>(); ; ) {
      const batch: Array<{ id: number }> = await due(knex('applications').select('id'))
        .whereNotIn('id', [...seen])
        .orderBy('id')
        .limit(BATCH);
      if (!batch.length) break;
      for (const { id } of batch) {
        seen.add(id);
        // Files first and outside the transaction: a file cannot be rolled back, and a retried purge finds
        // the application again and deletes what is left.
        result.uploads += await this.deps.deleteUploadsOf(id);
      }
      result.applications += await knex.transaction(async (trx) => {
        const rows = await due(trx('applications'))
          .whereIn('id', batch.map((b) => b.id))
          .forUpdate()
          .skipLocked()
          .select('id', 'visit_date', 'campus_id', 'department_id', 'status', 'instance_key');
        if (!rows.length) return 0;
        const counts = new Map<string, { day: unknown; campus_id: number; department_id: number; status: string; count: number }>();
        for (const r of rows) {
          const day = r.visit_date instanceof Date ? dateOnly(r.visit_date) : String(r.visit_date).slice(0, 10);
          const key = `${day}|${r.campus_id}|${r.department_id}|${r.status}`;
          const c = counts.get(key) ?? { day, campus_id: r.campus_id, department_id: r.department_id, status: r.status, count: 0 };
          c.count++;
          counts.set(key, c);
        }
        await trx('report_counts')
          .insert([...counts.values()])
          .onConflict(['day', 'campus_id', 'department_id', 'status'])
          .merge({ count: trx.raw('report_counts.count + excluded.count') });
        const ids = rows.map((r: any) => r.id);
        const instanceKeys = rows.map((r: any) => r.instance_key).filter((k: string | null) => k && !k.startsWith('starting:'));
        if (instanceKeys.length) {
          await trx('tasks').whereIn('instance_key', instanceKeys).delete();
          await this.purgeEngineState(trx, instanceKeys);
        }
        // Timeline, tasks, SMS texts, passes and their gate events go with the row (ON DELETE CASCADE).
        await trx('applications').whereIn('id', ids).delete();
        return rows.length;
      });
    }

    result.uploads += await this.deps.deleteUnlinkedUploadsBefore(cutoff);
    result.visitors = await knex.transaction(async (trx) => {
      // A visitor with an upload left (newer than the cutoff) stays until that upload ages out with its file.
      const rows = await trx('visitors')
        .whereRaw('coalesce(last_login_at, created_at) < ?', [cutoff])
        .whereNotExists((q) => q.select(trx.raw('1')).from('applications').whereRaw('applications.visitor_id = visitors.id'))
        .whereNotExists((q) => q.select(trx.raw('1')).from('uploads').whereRaw('uploads.visitor_id = visitors.id'))
        .forUpdate()
        .skipLocked()
        .select('id');
      const ids = rows.map((r: any) => r.id);
      if (!ids.length) return 0;
      await trx('sessions').where({ kind: 'visitor' }).whereIn('subject_id', ids).delete();
      await trx('visitors').whereIn('id', ids).delete();
      return ids.length;
    });

    result.invitations = await knex.transaction(async (trx) => {
      const rows = await trx('invitations')
        .where('window_end', '<', cutoff)
        .where('updated_at', '<', cutoff)
        .whereNotExists((q) => q.select(trx.raw('1')).from('applications').whereRaw('applications.invitation_id = invitations.id'))
        .forUpdate()
        .skipLocked()
        .limit(1000)
        .select('id');
      const ids = rows.map((r: any) => r.id);
      if (!ids.length) return 0;
      // An invitation's SMS has no application id: it goes by the invitation's dedupe key.
      await trx('sms_outbox').whereIn('dedupe_key', ids.map((id: number) => `invitation:${id}`)).delete();
      await trx('invitations').whereIn('id', ids).delete();
      return ids.length;
    });

    if (result.applications || result.visitors || result.uploads || result.invitations) {
      await this.deps.audit.record(knex, null, {
        action: 'retention.purge',
        targetType: 'retention',
        after: {
          retentionDays: days,
          cutoff: cutoff.toISOString(),
          applications: result.applications,
          uploads: result.uploads,
          visitors: result.visitors,
          invitations: result.invitations,
        },
      });
      this.deps.logger.info({ ...result }, 'retention purge');
    }
    return result;
  }

  /**
   * The embedded engine keeps an instance in its own tables (waits and incidents cascade from the instance
   * row; the outbox is keyed by instance). A Zeebe cluster keeps history in its exporters, which have their
   * own retention: there nothing is stored here to delete.
   */
  private async purgeEngineState(trx: Knex.Transaction, instanceKeys: string[]) {
    if (this.deps.config.ENGINE !== 'embedded') return;
    await trx('engine_outbox').whereIn('instance_key', instanceKeys).delete();
    await trx('engine_instances').whereIn('key', instanceKeys).delete();
  }

  /** Counts per visit day for reports: purged applications (anonymous) plus those still kept. */
  async counts(from: string, to: string) {
    const { knex } = this.deps;
    const purged = await knex('report_counts')
      .whereBetween('day', [from, to])
      .select('day', 'campus_id', 'department_id', 'status', 'count');
    const live = await knex('applications')
      .whereBetween('visit_date', [from, to])
      .groupBy('visit_date', 'campus_id', 'department_id', 'status')
      .select('visit_date as day', 'campus_id', 'department_id', 'status')
      .count({ count: '*' });
    const merged = new Map<string, { day: string; campusId: number; departmentId: number; status: string; count: number }>();
    for (const r of [...purged, ...live] as any[]) {
      const day = r.day instanceof Date ? dateOnly(r.day) : String(r.day).slice(0, 10);
      const key = `${day}|${r.campus_id}|${r.department_id}|${r.status}`;
      const m = merged.get(key) ?? { day, campusId: r.campus_id, departmentId: r.department_id, status: r.status, count: 0 };
      m.count += Number(r.count);
      merged.set(key, m);
    }
    return [...merged.values()].sort((a, b) => a.day.localeCompare(b.day) || a.campusId - b.campusId || a.departmentId - b.departmentId || a.status.localeCompare(b.status));
  }

  /** Purges once a day (first a few minutes after start); one failed run is logged and retried the next day. */
  start(options: { firstDelayMs?: number; intervalMs?: number } = {}): void {
    this.schedule.start({ firstDelayMs: options.firstDelayMs ?? 5 * 60_000, intervalMs: options.intervalMs ?? DAY_MS });
  }

  stop(): Promise<void> {
    return this.schedule.stop();
  }
}

// pg returns a DATE as local midnight: keep the calendar day as stored.
function dateOnly(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
