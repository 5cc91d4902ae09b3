import crypto from 'node:crypto';
import type { Knex } from 'knex';
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { AuditService } from '../admin/audit.service.ts';
import type { Config } from '../config.ts';
import { Staff } from '../directory/directory.model.ts';
import { AppError } from '../errors.ts';
import { parseCasResponse } from './cas.ts';

/** How long a started sign-in may take at the provider before its callback is refused. */
export const SSO_FLOW_TTL_MS = 10 * 60_000;
export const SSO_CALLBACK_PATH = '/api/staff/sso/callback';
/** Where a signed-in staff member may be sent back to (one of our staff pages, nothing else). */
export const SSO_NEXT_PATHS = ['/staff/', '/admin/', '/gate/'] as const;

export const ssoErrors = {
  notConfigured: () => new AppError(404, 'SSO_NOT_CONFIGURED', '未启用统一身份认证登录'),
  badState: () => new AppError(400, 'SSO_STATE_INVALID', '登录请求已失效或已使用，请重新点击“统一身份认证登录”'),
  rejected: () => new AppError(401, 'SSO_REJECTED', '统一身份认证未通过，请重新登录'),
  unavailable: () => new AppError(502, 'SSO_PROVIDER_UNAVAILABLE', '统一身份认证服务暂时无法访问，请稍后再试'),
  noStaffKey: () => new AppError(403, 'SSO_STAFF_KEY_MISSING', '统一身份认证未提供工号或邮箱，无法关联工作人员账号，请联系管理员'),
  unknownStaff: () => new AppError(403, 'SSO_STAFF_NOT_FOUND', '您的统一身份认证账号未关联到本系统的工作人员名录，请联系管理员'),
  inactiveStaff: () => new AppError(403, 'SSO_STAFF_INACTIVE', '您的工作人员账号已停用，请联系管理员'),
};

const hashState = (state: string) => crypto.createHash('sha256').update(state).digest('hex');

/** What a provider told us about the person: a stable subject and the value linked to the directory. */
interface Identity {
  subject: string;
  key: string | null;
}

export interface SsoDeps {
  knex: Knex;
  clock: Clock;
  config: Config;
  logger: Logger;
  audit: AuditService;
}

/**
 * Staff single sign-on: OIDC (authorization code + PKCE + state + nonce, openid-client) or CAS 2.0/3.0 ticket
 * validation. A started sign-in is a row keyed by the hash of its state (the state itself is in the browser's
 * HttpOnly cookie): the callback deletes the row as it reads it, so a state, code or ticket works once.
 */
export class SsoService {
  readonly mode: Config['STAFF_SSO'];
  readonly localPasswords: boolean;
  private readonly redirectUri: string;
  private oidcConfig: Promise<oidc.Configuration> | null = null;

  constructor(private readonly d: SsoDeps) {
    this.mode = d.config.STAFF_SSO;
    this.localPasswords = d.config.STAFF_LOCAL_PASSWORDS;
    this.redirectUri = new URL(SSO_CALLBACK_PATH, d.config.PUBLIC_URL ?? 'http://localhost/').toString();
  }

  /** The provider's metadata, discovered at the first sign-in (a failure is retried at the next). */
  private discover(): Promise<oidc.Configuration> {
    const { config } = this.d;
    if (!this.oidcConfig) {
      const issuer = new URL(config.OIDC_ISSUER as string);
      this.oidcConfig = oidc
        .discovery(issuer, config.OIDC_CLIENT_ID as string, config.OIDC_CLIENT_SECRET, undefined, {
          // An http issuer is only accepted on this machine (a development or test provider).
          execute: issuer.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(issuer.hostname) ? [oidc.allowInsecureRequests] : [],
          timeout: 10,
        })
        .catch((err) => {
          this.oidcConfig = null;
          throw err;
        });
    }
    return this.oidcConfig;
  }

  /** Starts a sign-in: the provider URL to send the browser to and the state for its cookie. */
  async start(next: string): Promise<{ url: string; state: string }> {
    if (this.mode === 'none') throw ssoErrors.notConfigured();
    const { knex, clock } = this.d;
    const state = oidc.randomState();
    const now = clock.now();
    let url: string;
    let nonce: string | null = null;
    let verifier: string | null = null;
    if (this.mode === 'oidc') {
      const config = await this.discover().catch((err) => {
        this.d.logger.warn({ err }, 'OIDC discovery failed');
        throw ssoErrors.unavailable();
      });
      nonce = oidc.randomNonce();
      verifier = oidc.randomPKCECodeVerifier();
      url = oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: this.redirectUri,
          scope: this.d.config.OIDC_SCOPES,
          response_type: 'code',
          state,
          nonce,
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        })
        .toString();
    } else {
      url = `${this.casBase()}/login?service=${encodeURIComponent(this.redirectUri)}`;
    }
    await knex('staff_sso_flows').where('expires_at', '<=', now).del();
    await knex('staff_sso_flows').insert({
      id: hashState(state),
      nonce,
      code_verifier: verifier,
      next_path: next,
      expires_at: new Date(now.getTime() + SSO_FLOW_TTL_MS),
    });
    return { url, state };
  }

  /**
   * The callback: `query` is what the provider sent back, `cookieState` the state this browser started with.
   * Returns the linked, active staff member and where to send them.
   */
  async finish(query: Record<string, unknown>, rawQuery: string, cookieState: string | undefined): Promise<{ staff: Staff; next: string }> {
    if (this.mode === 'none') throw ssoErrors.notConfigured();
    const flow = await this.takeFlow(query, cookieState);
    const identity = this.mode === 'oidc' ? await this.exchangeCode(flow, rawQuery) : await this.validateTicket(query);
    const staff = await this.link(identity);
    return { staff, next: flow.next_path };
  }

  private async takeFlow(query: Record<string, unknown>, cookieState: string | undefined) {
    if (!cookieState || cookieState.length > 100) throw ssoErrors.badState();
    // OIDC sends the state back: it must be this browser's. CAS sends none: the cookie alone names the flow.
    if (this.mode === 'oidc' && query.state !== cookieState) throw ssoErrors.badState();
    const rows = await this.d
      .knex('staff_sso_flows')
      .where({ id: hashState(cookieState) })
      .where('expires_at', '>', this.d.clock.now())
      .del()
      .returning(['nonce', 'code_verifier', 'next_path']);
    const flow = Array.isArray(rows) ? rows[0] : undefined;
    if (!flow) throw ssoErrors.badState();
    return { ...flow, state: cookieState } as { nonce: string | null; code_verifier: string | null; next_path: string; state: string };
  }

  private async exchangeCode(flow: { nonce: string | null; code_verifier: string | null; state: string }, rawQuery: string): Promise<Identity> {
    const config = await this.discover().catch(() => {
      throw ssoErrors.unavailable();
    });
    const currentUrl = new URL(this.redirectUri);
    currentUrl.search = rawQuery;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: flow.code_verifier ?? undefined,
        expectedState: flow.state,
        expectedNonce: flow.nonce ?? undefined,
        idTokenExpected: true,
      });
    } catch (err: any) {
      // The provider refused (a used or wrong code, an error answer) or its answer failed a check.
      this.d.logger.warn({ err: { name: err?.name, code: err?.code, message: err?.message } }, 'OIDC code exchange refused');
      if (err?.name === 'TypeError' || err?.cause?.code === 'ECONNREFUSED') throw ssoErrors.unavailable();
      throw ssoErrors.rejected();
    }
    const claims = tokens.claims();
    if (!claims) throw ssoErrors.rejected();
    const claim = this.d.config.OIDC_STAFF_CLAIM;
    let value: unknown = claims[claim];
    let emailVerified: unknown = claims.email_verified;
    if (value === undefined && tokens.access_token) {
      // Many providers put profile claims in the userinfo answer only.
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub).catch(() => null);
      value = info?.[claim];
      emailVerified = info?.email_verified ?? emailVerified;
    }
    // An e-mail the provider has not verified is not a key to somebody's staff account.
    if (claim === 'email' && emailVerified === false) value = undefined;
    return {
      subject: `oidc:${config.serverMetadata().issuer}#${claims.sub}`,
      key: typeof value === 'string' || typeof value === 'number' ? String(value) : null,
    };
  }

  private casBase() {
    return (this.d.config.CAS_BASE_URL as string).replace(/\/+$/, '');
  }

  private async validateTicket(query: Record<string, unknown>): Promise<Identity> {
    const ticket = query.ticket;
    if (typeof ticket !== 'string' || !ticket || ticket.length > 1000) throw ssoErrors.rejected();
    const path = this.d.config.CAS_VERSION === '3' ? '/p3/serviceValidate' : '/serviceValidate';
    const url = `${this.casBase()}${path}?service=${encodeURIComponent(this.redirectUri)}&ticket=${encodeURIComponent(ticket)}`;
    let xml: string;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/xml, text/xml' } });
      if (!res.ok) throw new Error(`CAS answered ${res.status}`);
      xml = await res.text();
    } catch (err) {
      this.d.logger.warn({ err }, 'CAS ticket validation failed');
      throw ssoErrors.unavailable();
    }
    const answer = parseCasResponse(xml);
    if (!answer.ok) {
      this.d.logger.warn({ code: answer.code }, 'CAS refused the ticket');
      throw ssoErrors.rejected();
    }
    const attribute = this.d.config.CAS_STAFF_ATTRIBUTE;
    const key = attribute === 'user' ? answer.user : (answer.attributes[attribute]?.[0] ?? null);
    return { subject: `cas:${answer.user}`, key };
  }

  /**
   * The staff member of a provider identity: the one already linked to its subject, or at the first sign-in
   * the one whose staff number (or e-mail, for a value with an @) is the provider's value; the subject is then
   * stored on that row. A row linked to another subject is not taken over.
   */
  private async link(identity: Identity): Promise<Staff> {
    const { knex, audit } = this.d;
    const linked = await Staff.query(knex).findOne({ sso_subject: identity.subject });
    if (linked) return this.checkActive(linked, identity);
    if (!identity.key) {
      await this.recordFailure(identity, 'SSO_STAFF_KEY_MISSING');
      throw ssoErrors.noStaffKey();
    }
    const key = identity.key.trim();
    const candidate = key.includes('@')
      ? await Staff.query(knex).findOne({ email: key.toLowerCase() })
      : await Staff.query(knex).findOne({ staff_no: key });
    if (!candidate || (candidate.sso_subject && candidate.sso_subject !== identity.subject)) {
      await this.recordFailure(identity, 'SSO_STAFF_NOT_FOUND');
      throw ssoErrors.unknownStaff();
    }
    if (!candidate.active) return this.checkActive(candidate, identity);
    const updated = await knex.transaction(async (trx) => {
      const n = await trx('staff').where({ id: candidate.id }).whereNull('sso_subject').update({ sso_subject: identity.subject, updated_at: this.d.clock.now() });
      await audit.record(trx, { id: candidate.id, name: candidate.name }, {
        action: 'staff.sso.link',
        targetType: 'staff',
        targetId: candidate.id,
        after: { subject: identity.subject, linkedBy: key.includes('@') ? 'email' : 'staff_no' },
      });
      return n;
    });
    if (!updated) {
      // Linked by a concurrent first sign-in in between: only the same subject may go on.
      const again = await Staff.query(knex).findById(candidate.id);
      if (!again || again.sso_subject !== identity.subject) throw ssoErrors.unknownStaff();
    }
    return this.checkActive(candidate, identity);
  }

  private async checkActive(staff: Staff, identity: Identity): Promise<Staff> {
    if (!staff.active) {
      await this.recordFailure(identity, 'SSO_STAFF_INACTIVE', staff);
      throw ssoErrors.inactiveStaff();
    }
    await this.d.audit.record(this.d.knex, { id: staff.id, name: staff.name }, {
      action: 'staff.sso.login',
      targetType: 'staff',
      targetId: staff.id,
      after: { provider: this.mode, subject: identity.subject },
    });
    return staff;
  }

  private async recordFailure(identity: Identity, code: string, staff?: Staff) {
    await this.d.audit.record(this.d.knex, null, {
      action: 'staff.sso.refused',
      targetType: 'staff',
      targetId: staff?.id ?? null,
      after: { provider: this.mode, subject: identity.subject, key: identity.key, code },
    });
  }
}
