import Router from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { AuditService } from '../admin/audit.service.ts';
import { requireStaff } from '../auth/session.middleware.ts';
import type { AppContext, AppState } from '../http/context.ts';
import { exportTable, toCsv, toXlsx } from './report.export.ts';
import { REPORTS, type ReportName, type ReportService } from './report.service.ts';

const exportQuery = z
  .object({
    format: z.enum(['csv', 'xlsx'], { error: '导出格式应为 csv 或 xlsx' }),
    report: z.enum([...REPORTS, 'all'], { error: '请选择要导出的报表' }),
    lang: z.enum(['zh', 'en']).default('zh'),
  })
  .refine((q) => q.format === 'xlsx' || q.report !== 'all', { message: 'CSV 每次导出一张报表', path: ['report'] });

const PATHS: Record<ReportName, string> = {
  visits: '/visits',
  'approval-times': '/approval-times',
  refusals: '/refusals',
  'no-shows': '/no-shows',
  'peak-hours': '/peak-hours',
};

/**
 * The reports API. Under /api/reports rather than /api/admin: leaders use it too, for their own department
 * (the service fixes the scope); hosts and guards get 403 ROLE_REQUIRED.
 */
export function reportRoutes(reports: ReportService, audit: AuditService, knex: Knex) {
  const router = new Router<AppState>({ prefix: '/api/reports' });
  router.use(async (ctx, next) => {
    requireStaff(ctx as AppContext, 'admin', 'leader');
    await next();
  });
  for (const name of REPORTS) {
    router.get(PATHS[name], async (ctx) => {
      const range = await reports.filterFor(ctx.state.staff!, ctx.query);
      ctx.body = await reports.report(name, range);
    });
  }
  router.get('/export', async (ctx) => {
    const staff = ctx.state.staff!;
    const { format, report, lang } = exportQuery.parse(ctx.query);
    const { format: _f, report: _r, lang: _l, ...rest } = ctx.query;
    const range = await reports.filterFor(staff, rest);
    const names = report === 'all' ? [...REPORTS] : [report];
    const tables = [];
    for (const name of names) tables.push(await exportTable(reports, name, range, lang));
    const f = range.filter;
    // Data leaving the system is recorded, as other admin actions are (aggregates only, but still the campus's).
    await audit.record(knex, { id: staff.id, name: staff.name }, {
      action: 'report.export',
      targetType: 'report',
      targetId: report,
      after: { format, from: f.from, to: f.to, campusId: f.campusId, departmentId: f.departmentId, scope: f.scope },
    });
    const file = `visitflow-${report}-${f.from}_${f.to}.${format}`;
    ctx.set('Content-Disposition', `attachment; filename="${file}"`);
    if (format === 'csv') {
      ctx.type = 'text/csv; charset=utf-8';
      ctx.body = toCsv(tables[0]);
    } else {
      ctx.type = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
      const campus = f.campusId ? await knex('campuses').where({ id: f.campusId }).first('name') : undefined;
      const department = f.departmentId ? await knex('departments').where({ id: f.departmentId }).first('name') : undefined;
      ctx.body = await toXlsx(tables, f, lang, { campus: campus?.name, department: department?.name });
    }
  });
  return router;
}
