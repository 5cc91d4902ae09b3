/**
 * A local HTTP double of the WeChat official account API, for tests only:
 * - POST /cgi-bin/stable_token { grant_type, appid, secret, force_refresh } checks the AppID and AppSecret
 *   (40013, 40125 as WeChat answers) and answers the current token with expires_in, as long as it is valid, to
 *   every caller (a new one when it expired or force_refresh is true, which ends the old one);
 * - POST /cgi-bin/message/template/send?access_token= checks the token (40001 unknown, 42001 expired), the
 *   template id (40037) and the openid (40003), and records the messages it accepted.
 * It can be told to expire the tokens it issued, to answer 45009 or 43004, or -1 (system busy).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WechatSent {
  touser: string;
  template_id: string;
  url?: string;
  data: Record<string, { value: string }>;
  msgid: number;
}

export class WechatDouble {
  url = '';
  /** Template messages accepted. */
  readonly sent: WechatSent[] = [];
  /** Every send answered, by errcode (0 when accepted). */
  readonly sendAnswers: number[] = [];
  /** Token requests received (whatever their outcome). */
  tokenRequests = 0;
  /** Token requests with force_refresh. */
  forcedRefreshes = 0;
  /** The valid token, handed to every caller until it expires. */
  private current: string | undefined;
  private readonly expired = new Set<string>();
  private failures: Array<{ errcode: number; times: number; openid?: string }> = [];
  private server: http.Server | undefined;
  private nextMsgId = 1000;
  /** Openids of followers; a send to anyone else answers 43004. Unset: everyone follows. */
  followers: Set<string> | undefined;

  constructor(
    readonly opts: { appId: string; appSecret: string; templates: string[]; expiresIn?: number },
  ) {}

  /** The token issued so far now answers 42001 (expired), as after its expires_in; the next request gets a new one. */
  expireTokens(): void {
    if (this.current) this.expired.add(this.current);
    this.current = undefined;
  }

  /** The token is refused with 40001 (as when another client forced a refresh long ago) but still handed out. */
  revokeTokenSilently(): void {
    if (this.current) this.revoked.add(this.current);
  }
  private readonly revoked = new Set<string>();

  /** The next `times` sends with a valid token (to `openid`, if given) answer this errcode. */
  failNext(errcode: number, options: { times?: number; openid?: string } = {}): void {
    this.failures.push({ errcode, times: options.times ?? 1, openid: options.openid });
  }

  private answer(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json; encoding=utf-8' });
    res.end(JSON.stringify(body));
  }

  private error(res: http.ServerResponse, errcode: number, errmsg: string): void {
    this.answer(res, { errcode, errmsg: `${errmsg} rid: ${randomUUID().slice(0, 8)}` });
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): unknown {
    const u = new URL(req.url ?? '/', 'http://double');
    if (req.method === 'POST' && u.pathname === '/cgi-bin/stable_token') {
      this.tokenRequests++;
      let q: any;
      try {
        q = JSON.parse(body);
      } catch {
        return this.error(res, 47001, 'data format error');
      }
      if (q.grant_type !== 'client_credential') return this.error(res, 40002, 'invalid grant_type');
      if (q.appid !== this.opts.appId) return this.error(res, 40013, 'invalid appid');
      if (q.secret !== this.opts.appSecret) return this.error(res, 40125, 'invalid appsecret');
      if (q.force_refresh === true) this.forcedRefreshes++;
      if (!this.current || q.force_refresh === true) {
        if (this.current) this.expired.add(this.current);
        this.current = `TOKEN_${randomUUID().replace(/-/g, '')}`;
      }
      return this.answer(res, { access_token: this.current, expires_in: this.opts.expiresIn ?? 7200 });
    }
    if (req.method === 'POST' && u.pathname === '/cgi-bin/message/template/send') {
      const token = u.searchParams.get('access_token') ?? '';
      const send = (errcode: number, errmsg: string) => {
        this.sendAnswers.push(errcode);
        this.error(res, errcode, errmsg);
      };
      if (this.expired.has(token)) return send(42001, 'access_token expired');
      if (token !== this.current || this.revoked.has(token)) return send(40001, 'invalid credential, access_token is invalid or not latest');
      let msg: any;
      try {
        msg = JSON.parse(body);
      } catch {
        return send(47001, 'data format error');
      }
      if (!this.opts.templates.includes(msg.template_id)) return send(40037, 'invalid template_id');
      if (typeof msg.touser !== 'string' || !/^[A-Za-z0-9_-]{20,64}$/.test(msg.touser)) return send(40003, 'invalid openid');
      const failure = this.failures.find((f) => !f.openid || f.openid === msg.touser);
      if (failure) {
        if (--failure.times <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
        const text: Record<number, string> = { 45009: 'reach max api daily quota limit', 43004: 'require subscribe', [-1]: 'system error' };
        return send(failure.errcode, text[failure.errcode] ?? 'test double failure');
      }
      if (this.followers && !this.followers.has(msg.touser)) return send(43004, 'require subscribe');
      const msgid = this.nextMsgId++;
      this.sent.push({ touser: msg.touser, template_id: msg.template_id, url: msg.url, data: msg.data, msgid });
      this.sendAnswers.push(0);
      return this.answer(res, { errcode: 0, errmsg: 'ok', msgid });
    }
    res.writeHead(404);
    res.end();
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
