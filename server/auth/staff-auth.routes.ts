import Router from '@koa/router';
import { z } from 'zod';
import { verifyPassword, DUMMY_HASH_PROMISE } from '../crypto/password.ts';
import type { DirectoryService } from '../directory/directory.service.ts';
import { publicStaff } from '../directory/directory.service.ts';
import { AppError, notFound } from '../errors.ts';
import type { AppState } from '../http/context.ts';
import { clearSessionCookie, requireStaff, STAFF_COOKIE, setSessionCookie } from './session.middleware.ts';
import type { SessionService } from './session.service.ts';
import type { ThrottleService } from './throttle.service.ts';

const staffLoginSchema = z.object({
  username: z.string({ error: '请填写用户名' }).trim().min(1, '请填写用户名').max(64, '用户名或密码不正确'),
  password: z.string({ error: '请填写密码' }).min(1, '请填写密码').max(200, '用户名或密码不正确'),
});

export function staffAuthRoutes(
  directory: DirectoryService,
  sessions: SessionService,
  throttle: ThrottleService,
  secureCookies: boolean,
  localPasswords = true,
) {
  const router = new Router<AppState>({ prefix: '/api/staff' });

  router.post('/login', async (ctx) => {
    // STAFF_LOCAL_PASSWORDS=false: staff sign in through the campus SSO only (GET /api/staff/sso/start).
    if (!localPasswords) throw new AppError(403, 'LOCAL_LOGIN_DISABLED', '本系统已改用统一身份认证登录，请点击“统一身份认证登录”');
    const input = staffLoginSchema.parse(ctx.request.body ?? {});
    const staff = await throttle.attempt(
      `staff:${input.username.toLowerCase()}`,
      ctx.ip,
      async () => {
        const found = await directory.findStaffByUsername(input.username);
        const ok = await verifyPassword(input.password, found?.password_hash ?? (await DUMMY_HASH_PROMISE));
        return found && ok && found.active ? found : null;
      },
      () => new AppError(401, 'INVALID_CREDENTIALS', '用户名或密码不正确'),
    );
    const { token, lifetimeMs } = await sessions.create('staff', staff.id);
    setSessionCookie(ctx, STAFF_COOKIE, token, secureCookies, lifetimeMs);
    ctx.body = { staff: publicStaff(staff) };
  });

  router.post('/logout', async (ctx) => {
    if (ctx.state.staff) await sessions.destroy(ctx.state.staff.sessionId);
    clearSessionCookie(ctx, STAFF_COOKIE, secureCookies);
    ctx.status = 204;
  });

  router.get('/me', async (ctx) => {
    const staff = await directory.findStaff(requireStaff(ctx).id);
    if (!staff) throw notFound('STAFF_NOT_FOUND', '账号不存在');
    ctx.body = { staff: publicStaff(staff) };
  });

  return router;
}
