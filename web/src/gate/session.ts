/** What the gate page's two screens share: the guard's login and the campus and gate they stand at. */
import { go } from '../lib/app.ts';
import { createSession } from '../lib/session.ts';

export const CAMPUS_KEY = 'vf_gate_campus';
/** The gate the guard stands at (an id of /api/gate/gates), kept with the campus across visits of the page. */
export const GATE_KEY = 'vf_gate_gate';

export interface Gate {
  id: number;
  campusId: number;
  name: string;
}

export const session = createSession<{ id: number; name: string }>({
  me: '/api/staff/me',
  key: 'staff',
  logout: '/api/staff/logout',
  go,
  comeBack: false,
  // A staff account without the guard role (403 ROLE_REQUIRED) must log in as a guard. Other 403s are not about the
  // login: a CSRF refusal, or a guard asking for another campus's visitors (CAMPUS_NOT_IN_SCOPE).
  loggedOut: (err) => err.status === 401 || err.code === 'ROLE_REQUIRED',
});
