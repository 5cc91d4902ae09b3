/**
 * The WeChat official account API, as much of it as task notices need: an access token
 * (POST /cgi-bin/stable_token, client_credential) and template messages (POST /cgi-bin/message/template/send).
 * Plain fetch: the token is the only state, and it is cached here.
 */

export type WechatErrorCode =
  | 'WECHAT_CREDENTIALS_REJECTED'
  | 'WECHAT_NOT_SUBSCRIBED'
  | 'WECHAT_OPENID_INVALID'
  | 'WECHAT_TEMPLATE_REJECTED'
  | 'WECHAT_THROTTLED'
  | 'WECHAT_UNAVAILABLE'
  | 'WECHAT_TOKEN_REJECTED'
  | 'WECHAT_OUTCOME_UNKNOWN'
  | 'WECHAT_REJECTED';

const RETRYABLE: ReadonlySet<WechatErrorCode> = new Set(['WECHAT_THROTTLED', 'WECHAT_UNAVAILABLE', 'WECHAT_TOKEN_REJECTED']);

export class WechatError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: WechatErrorCode,
    message: string,
    readonly errcode?: number,
  ) {
    super(message);
    this.name = 'WechatError';
    this.retryable = RETRYABLE.has(code);
  }

  describe(): string {
    return `${this.code}: ${this.errcode !== undefined ? `errcode ${this.errcode} ` : ''}${this.message}`;
  }
}

/** Access token errors: the cached token is dropped and fetched again, once per send. */
const TOKEN_ERRCODES = new Set([40001, 40014, 42001]);

function classify(errcode: number): WechatErrorCode {
  switch (errcode) {
    case -1: // system busy
      return 'WECHAT_UNAVAILABLE';
    case 45009: // API call limit reached
    case 45011: // API minute-level frequency limit
    case 45047:
      return 'WECHAT_THROTTLED';
    case 40013: // invalid appid
    case 40125: // invalid appsecret
    case 40164: // caller IP not in the account's whitelist
    case 41002:
    case 41004:
    case 48001: // API unauthorised (not a verified service account)
      return 'WECHAT_CREDENTIALS_REJECTED';
    case 43004: // recipient does not follow the account
      return 'WECHAT_NOT_SUBSCRIBED';
    case 40003: // invalid openid (e.g. of another account)
      return 'WECHAT_OPENID_INVALID';
    case 40037: // invalid template id
    case 47003: // template data not matching the template
      return 'WECHAT_TEMPLATE_REJECTED';
    default:
      return TOKEN_ERRCODES.has(errcode) ? 'WECHAT_TOKEN_REJECTED' : 'WECHAT_REJECTED';
  }
}

/** Connection errors of a request that never left: sending again is safe. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export interface WechatClientOptions {
  appId: string;
  appSecret: string;
  /** https://api.weixin.qq.com, or a double in tests. */
  apiBase: string;
  /** Milliseconds since the epoch (a fake clock in tests). */
  now?: () => number;
  /** A token is fetched again this long before WeChat says it expires (default 5 minutes). */
  refreshMarginMs?: number;
  timeoutMs?: number;
}

export interface TemplateMessage {
  openId: string;
  templateId: string;
  /** Template field -> value; sent as { field: { value } }. */
  data: Record<string, string>;
  url?: string;
}

export class WechatClient {
  private token: { value: string; refreshAt: number } | undefined;
  /** The fetch in flight: concurrent sends wait for it instead of fetching their own. */
  private fetching: Promise<string> | undefined;
  private readonly now: () => number;
  private readonly refreshMarginMs: number;
  private readonly timeoutMs: number;
  /** How many tokens were fetched (for tests and logs). */
  tokenFetches = 0;

  constructor(private readonly opts: WechatClientOptions) {
    this.now = opts.now ?? Date.now;
    this.refreshMarginMs = opts.refreshMarginMs ?? 5 * 60_000;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  private url(path: string, query: Record<string, string>): string {
    const u = new URL(path, this.opts.apiBase.endsWith('/') ? this.opts.apiBase : `${this.opts.apiBase}/`);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u.toString();
  }

  /** One call; `safeToRepeat` says whether a lost connection may have delivered something (template sends). */
  private async call(what: string, url: string, init: RequestInit, safeToRepeat: boolean): Promise<any> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err: any) {
      const code: string | undefined = err?.cause?.code ?? err?.code;
      if (safeToRepeat || (code && NOT_SENT.has(code))) throw new WechatError('WECHAT_UNAVAILABLE', `${what}: WeChat API unreachable (${code ?? err?.name ?? err})`);
      const how = err?.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `connection lost (${code ?? err?.message ?? err})`;
      throw new WechatError('WECHAT_OUTCOME_UNKNOWN', `${what}: ${how}; the message may have been sent, so it is not sent again`);
    }
    if (res.status >= 500) throw new WechatError('WECHAT_UNAVAILABLE', `${what}: HTTP ${res.status}`);
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      throw new WechatError(res.ok ? 'WECHAT_REJECTED' : 'WECHAT_UNAVAILABLE', `${what}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    const errcode = Number(json?.errcode ?? 0);
    if (errcode !== 0) throw new WechatError(classify(errcode), `${what}: ${String(json.errmsg ?? '').slice(0, 300)}`, errcode);
    return json;
  }

  /** The cached access token, or a fresh one; one fetch at a time however many sends ask. */
  async accessToken(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    if (!this.fetching) {
      this.fetching = this.fetchToken().finally(() => {
        this.fetching = undefined;
      });
    }
    return this.fetching;
  }

  /**
   * POST cgi-bin/stable_token: in its normal mode every caller gets the same token while it is valid, so
   * several server processes (WORKERS, several machines) do not invalidate each other's tokens, as repeated
   * calls of cgi-bin/token do. `force` asks for a new one (only when WeChat refused the one it gave us).
   */
  private async fetchToken(force = false): Promise<string> {
    const started = this.now();
    this.tokenFetches++;
    const json = await this.call(
      'token',
      this.url('cgi-bin/stable_token', {}),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credential', appid: this.opts.appId, secret: this.opts.appSecret, ...(force ? { force_refresh: true } : {}) }),
      },
      true,
    );
    if (typeof json.access_token !== 'string' || !json.access_token) throw new WechatError('WECHAT_REJECTED', 'token: answer without access_token');
    const lifetimeMs = (Number(json.expires_in) || 7200) * 1000;
    this.token = { value: json.access_token, refreshAt: started + Math.max(lifetimeMs - this.refreshMarginMs, lifetimeMs / 2) };
    return json.access_token;
  }

  /**
   * WeChat refused `rejected` (40001/40014/42001): the next token is fetched again, once for all concurrent
   * sends; when WeChat still hands out the token it refused, a new one is forced.
   */
  private async renew(rejected: string): Promise<string> {
    if (this.token && this.token.value !== rejected && this.now() < this.token.refreshAt) return this.token.value;
    if (!this.fetching) {
      this.token = undefined;
      this.fetching = this.fetchToken()
        .then((value) => (value === rejected ? this.fetchToken(true) : value))
        .finally(() => {
          this.fetching = undefined;
        });
    }
    return this.fetching;
  }

  /** Sends one template message; an invalid or expired token is refreshed once. Returns WeChat's msgid. */
  async sendTemplate(msg: TemplateMessage): Promise<{ msgId: string }> {
    const body = JSON.stringify({
      touser: msg.openId,
      template_id: msg.templateId,
      ...(msg.url ? { url: msg.url } : {}),
      data: Object.fromEntries(Object.entries(msg.data).map(([k, value]) => [k, { value }])),
    });
    let token = await this.accessToken();
    for (let attempt = 1; ; attempt++) {
      try {
        const json = await this.call(
          'template send',
          this.url('cgi-bin/message/template/send', { access_token: token }),
          { method: 'POST', headers: { 'content-type': 'application/json' }, body },
          false,
        );
        return { msgId: String(json.msgid ?? '') };
      } catch (err) {
        if (err instanceof WechatError && err.errcode !== undefined && TOKEN_ERRCODES.has(err.errcode) && attempt === 1) {
          token = await this.renew(token);
          continue;
        }
        throw err;
      }
    }
  }
}
