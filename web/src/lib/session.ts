/**
 * Who is logged in on this page, shared by the four entry points. Navigation is passed in: the admin page
 * routes on its own, the others through app.ts.
 */
import { ApiError, get, post } from './api.ts';
import type { NavLink } from './app.ts';

export interface SessionOptions {
  /** "Who am I" endpoint and the key of its answer (`/api/visitors/me` answers `{visitor}`, staff `{staff}`). */
  me: string;
  key: string;
  logout: string;
  go: (hash: string) => void;
  /** The login screen gets `?next=` with the screen to return to; the gate has only one screen behind it. */
  comeBack?: boolean;
  /** Failures that mean "log in (again)"; pages differ in what else a missing login looks like (a 403). */
  loggedOut?: (err: ApiError) => boolean;
}

export interface Session<U> {
  /** Asks the server once; afterwards the known answer (null: nobody is logged in). */
  current(): Promise<U | null>;
  /** Asks the server even when the answer is known. */
  recheck(): Promise<U | null>;
  /** For the header, which is drawn synchronously: false also while nobody has asked yet. */
  signedIn(): boolean;
  /** What a login or registration answered, so the next screen does not ask again. */
  set(user: U | null): void;
  toLogin(): void;
  /** On a failure that means the login is gone, shows the login screen and says so; callers then stop. */
  needsLogin(err: unknown): boolean;
  logout(then: string): Promise<void>;
  logoutLink(then: string): NavLink;
}

export function createSession<U>(options: SessionOptions): Session<U> {
  const { me, key, logout: logoutPath, go, comeBack = true, loggedOut = (err) => err.status === 401 } = options;
  let user: U | null | undefined;

  async function recheck(): Promise<U | null> {
    try {
      user = (await get<Record<string, U>>(me))[key];
    } catch (err) {
      // Only a 401 is "nobody": anything else (network, server) is for the caller to show.
      if (err instanceof ApiError && err.status === 401) user = null;
      else throw err;
    }
    return user;
  }

  function toLogin() {
    go(comeBack ? `#/login?next=${encodeURIComponent(location.hash.slice(1))}` : '#/login');
  }

  const signedIn = () => Boolean(user);

  async function logout(then: string) {
    // Logged out here whatever the server says: the user asked to leave.
    await post(logoutPath).catch(() => {});
    user = null;
    go(then);
  }

  return {
    current: async () => (user !== undefined ? user : recheck()),
    recheck,
    signedIn,
    set: (next) => {
      user = next;
    },
    toLogin,
    needsLogin: (err) => {
      if (!(err instanceof ApiError && loggedOut(err))) return false;
      user = null;
      toLogin();
      return true;
    },
    logout,
    logoutLink: (then) => ({ label: 'nav.logout', show: signedIn, onClick: () => void logout(then) }),
  };
}
