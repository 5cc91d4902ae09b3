import type { Context, Next, ParameterizedContext } from 'koa';

export interface VisitorPrincipal {
  id: number;
  sessionId: string;
}

export interface StaffPrincipal {
  id: number;
  sessionId: string;
  roles: string[];
  departmentId: number | null;
  name: string;
}

export interface AppState {
  visitor?: VisitorPrincipal;
  staff?: StaffPrincipal;
  requestId: string;
  csrfToken?: string;
}

export type AppContext = ParameterizedContext<AppState> & Context;
export type Middleware = (ctx: AppContext, next: Next) => Promise<unknown>;
