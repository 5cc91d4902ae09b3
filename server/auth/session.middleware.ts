import { forbidden, unauthorized } from '../errors.ts';
import type { AppContext, Middleware } from '../http/context.ts';
import type { SessionService } from './session.service.ts';

export const VISITOR_COOKIE = 'vf_visitor';
export const STAFF_COOKIE = 'vf_staff';

/** Where the staff behind a session are (their table) and what a request needs of a row of it. */
export interface StaffLookup {
  table: string;
  toStaff(row: any): { id: number; roles: string[]; departmentId: number | null; name: string; active: boolean };
}

/** Resolves the visitor and staff sessions (kept apart: one browser may hold both) into ctx.state. */
export function sessionMiddleware(sessions: SessionService, findStaff: StaffLookup): Middleware {
  return async (ctx, next) => {
    const visitorToken = ctx.cookies.get(VISITOR_COOKIE);
    if (visitorToken) {
      const session = await sessions.resolve('visitor', visitorToken);
      if (session) ctx.state.visitor = { id: session.subjectId, sessionId: session.id };
    }
    const staffToken = ctx.cookies.get(STAFF_COOKIE);
    if (staffToken) {
      const resolved = await sessions.resolveWithSubject('staff', staffToken, findStaff.table, findStaff.toStaff);
      if (resolved?.subject) {
        const { session, subject: staff } = resolved;
        if (staff.active) {
          ctx.state.staff = {
            id: staff.id,
            sessionId: session.id,
            roles: staff.roles,
            departmentId: staff.departmentId,
            name: staff.name,
          };
        }
      }
    }
    await next();
  };
}

/**
 * The cookie lives as long as the session, counted from now on the browser's clock (maxAge): an absolute expiry
 * from the server's clock is in the past for a browser whose clock runs behind, and the login then silently fails.
 * The session row's own expiry stays what the server checks.
 */
export function setSessionCookie(ctx: AppContext, name: string, token: string, secure: boolean, lifetimeMs: number) {
  ctx.cookies.set(name, token, { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: lifetimeMs, overwrite: true });
}

export function clearSessionCookie(ctx: AppContext, name: string, secure: boolean) {
  ctx.cookies.set(name, '', { httpOnly: true, sameSite: 'lax', secure, path: '/', expires: new Date(0), overwrite: true });
}

export function requireVisitor(ctx: AppContext) {
  if (!ctx.state.visitor) throw unauthorized('VISITOR_LOGIN_REQUIRED', '请先登录');
  return ctx.state.visitor;
}

export function requireStaff(ctx: AppContext, ...roles: string[]) {
  const staff = ctx.state.staff;
  if (!staff) throw unauthorized('STAFF_LOGIN_REQUIRED', '请先登录工作人员账号');
  if (roles.length && !roles.some((r) => staff.roles.includes(r))) throw forbidden('ROLE_REQUIRED', '您没有执行此操作的权限');
  return staff;
}
