import Router from '@koa/router';
import { z } from 'zod';
import type { AppState } from '../http/context.ts';
import { type DirectoryService, publicCampus, publicDepartment } from './directory.service.ts';

/** The public part of the directory: what a visitor needs to fill an application. */
export function directoryRoutes(directory: DirectoryService) {
  const router = new Router<AppState>({ prefix: '/api/directory' });
  router.get('/campuses', async (ctx) => {
    ctx.body = { campuses: (await directory.listCampuses()).map(publicCampus) };
  });
  router.get('/departments', async (ctx) => {
    const { campusId } = z.object({ campusId: z.coerce.number().int().positive().optional() }).parse(ctx.query);
    ctx.body = { departments: (await directory.listDepartments(campusId)).map(publicDepartment) };
  });
  return router;
}
