import { z } from 'zod';
import { STAFF_ROLES } from '../directory/directory.model.ts';
import type { AppContext } from '../http/context.ts';
import { actorOf, adminRouter, idParam } from './admin-http.ts';
import type { DirectoryAdminService } from './directory-admin.service.ts';
import type { SettingsAdminService } from './settings-admin.service.ts';

const importBody = z.object({ csv: z.string({ error: '请提供 CSV 文件内容' }), dryRun: z.boolean().optional() });
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');

export function directoryAdminRoutes(directory: DirectoryAdminService, settings: SettingsAdminService) {
  const router = adminRouter('/api/admin');
  const actor = (ctx: unknown) => actorOf(ctx as AppContext);
  const campusId = (raw: string) => idParam(raw, 'CAMPUS_NOT_FOUND', '校区不存在');
  const departmentId = (raw: string) => idParam(raw, 'DEPARTMENT_NOT_FOUND', '单位不存在');
  const staffId = (raw: string) => idParam(raw, 'STAFF_NOT_FOUND', '工作人员不存在');

  router.get('/campuses', async (ctx) => {
    ctx.body = { campuses: await directory.listCampuses() };
  });
  router.post('/campuses', async (ctx) => {
    ctx.status = 201;
    ctx.body = { campus: await directory.createCampus(actor(ctx), ctx.request.body ?? {}) };
  });
  router.put('/campuses/:id', async (ctx) => {
    ctx.body = { campus: await directory.updateCampus(actor(ctx), campusId(ctx.params.id), ctx.request.body ?? {}) };
  });
  router.post('/campuses/:id/deactivate', async (ctx) => {
    ctx.body = { campus: await directory.setCampusActive(actor(ctx), campusId(ctx.params.id), false) };
  });
  router.post('/campuses/:id/activate', async (ctx) => {
    ctx.body = { campus: await directory.setCampusActive(actor(ctx), campusId(ctx.params.id), true) };
  });
  router.get('/campuses/:id/poster.png', async (ctx) => {
    const campus = await directory.campus(campusId(ctx.params.id));
    ctx.type = 'image/png';
    ctx.attachment(`gate-poster-${campus.code}.png`, { type: 'inline' });
    ctx.set('X-Registration-Url', settings.registrationUrl(campus.code));
    ctx.body = await settings.posterPng(campus.code);
  });

  router.get('/departments', async (ctx) => {
    const { campusId: id } = z.object({ campusId: z.coerce.number().int().positive().optional() }).parse(ctx.query);
    ctx.body = { departments: await directory.listDepartments(id) };
  });
  router.post('/departments', async (ctx) => {
    ctx.status = 201;
    ctx.body = { department: await directory.createDepartment(actor(ctx), ctx.request.body ?? {}) };
  });
  router.post('/departments/import', async (ctx) => {
    const body = importBody.parse(ctx.request.body ?? {});
    ctx.body = await directory.importDepartments(actor(ctx), body.csv, body.dryRun ?? false);
  });
  router.put('/departments/:id', async (ctx) => {
    ctx.body = { department: await directory.updateDepartment(actor(ctx), departmentId(ctx.params.id), ctx.request.body ?? {}) };
  });
  router.post('/departments/:id/deactivate', async (ctx) => {
    ctx.body = { department: await directory.setDepartmentActive(actor(ctx), departmentId(ctx.params.id), false) };
  });
  router.post('/departments/:id/activate', async (ctx) => {
    ctx.body = { department: await directory.setDepartmentActive(actor(ctx), departmentId(ctx.params.id), true) };
  });

  router.get('/staff', async (ctx) => {
    const q = z
      .object({
        departmentId: z.coerce.number().int().positive().optional(),
        role: z.enum(STAFF_ROLES as [string, ...string[]]).optional(),
        q: z.string().max(100).optional(),
        active: flag.optional(),
      })
      .parse(ctx.query);
    ctx.body = { staff: await directory.listStaff(q) };
  });
  router.post('/staff', async (ctx) => {
    ctx.status = 201;
    ctx.body = { staff: await directory.createStaff(actor(ctx), ctx.request.body ?? {}) };
  });
  router.post('/staff/import', async (ctx) => {
    const body = importBody.parse(ctx.request.body ?? {});
    ctx.body = await directory.importStaff(actor(ctx), body.csv, body.dryRun ?? false);
  });
  router.put('/staff/:id', async (ctx) => {
    ctx.body = { staff: await directory.updateStaff(actor(ctx), staffId(ctx.params.id), ctx.request.body ?? {}) };
  });
  router.post('/staff/:id/deactivate', async (ctx) => {
    ctx.body = { staff: await directory.setStaffActive(actor(ctx), staffId(ctx.params.id), false) };
  });
  router.post('/staff/:id/activate', async (ctx) => {
    ctx.body = { staff: await directory.setStaffActive(actor(ctx), staffId(ctx.params.id), true) };
  });
  router.post('/staff/:id/sso-unlink', async (ctx) => {
    ctx.body = { staff: await directory.unlinkSso(actor(ctx), staffId(ctx.params.id)) };
  });
  router.post('/staff/:id/password', async (ctx) => {
    await directory.resetPassword(actor(ctx), staffId(ctx.params.id), ctx.request.body ?? {});
    ctx.status = 204;
  });
  return router;
}
