import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** The address PUBLIC_URL names in SSO tests; the providers send the browser back here, the test rewrites it. */
export const TEST_PUBLIC_URL = 'http://visitflow.test';
export const TEST_CALLBACK = `${TEST_PUBLIC_URL}/api/staff/sso/callback`;

async function listen(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type Claims = Record<string, string | boolean>;

/**
 * A real OpenID provider (oidc-provider) on a random local port: one confidential client for visitflow, PKCE
 * required, the accounts given (id -> claims), and its development login/consent screens, which
 * `providerLogin` fills in as a browser would.
 */
export async function startOidcProvider(accounts: Record<string, Claims>) {
  let provider: Provider | undefined;
  const listening = await listen((req, res) => provider!.callback()(req, res));
  const issuer = `http://localhost:${listening.port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'visitflow',
        client_secret: 'visitflow-test-secret-0123456789',
        redirect_uris: [TEST_CALLBACK],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'employee_number'], email: ['email', 'email_verified'] },
    findAccount: async (_ctx, id) => (accounts[id] ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) } : undefined),
    cookies: { keys: ['oidc-test-cookie-key-0123456789abcdef'] },
    features: { devInteractions: { enabled: true } },
  });
  // oidc-provider logs a warning for its development-only defaults (keys, adapter): expected here.
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider', err));
  return { issuer, clientId: 'visitflow', clientSecret: 'visitflow-test-secret-0123456789', close: listening.close };
}

/** A cookie jar per host for the browser's visit to the provider. */
class Jar {
  private cookies = new Map<string, Map<string, string>>();
  header(url: URL) {
    const jar = this.cookies.get(url.host);
    return jar?.size ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }
  store(url: URL, res: Response) {
    const jar = this.cookies.get(url.host) ?? new Map<string, string>();
    this.cookies.set(url.host, jar);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || attrs.some((a) => /expires=thu, 01 jan 1970/i.test(a.trim()))) jar.delete(name);
      else jar.set(name, value);
    }
  }
}

/**
 * Follows a provider's redirects and answers its login and consent screens as `login` until the provider sends
 * the browser back to PUBLIC_URL; returns that callback's path and query (to send to the test server).
 */
export async function providerLogin(startLocation: string, login: string): Promise<string> {
  const jar = new Jar();
  let url = new URL(startLocation);
  let body: URLSearchParams | undefined;
  for (let step = 0; step < 20; step++) {
    if (url.origin === TEST_PUBLIC_URL) return url.pathname + url.search;
    const cookie = jar.header(url);
    const res = await fetch(url, {
      method: body ? 'POST' : 'GET',
      headers: { ...(cookie ? { cookie } : {}), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body,
      redirect: 'manual',
    });
    jar.store(url, res);
    body = undefined;
    const text = await res.text();
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url);
      continue;
    }
    if (res.status !== 200) throw new Error(`provider answered ${res.status} at ${url}: ${text.slice(0, 300)}`);
    if (text.includes('name="prompt" value="login"')) body = new URLSearchParams({ prompt: 'login', login, password: 'any' });
    else if (text.includes('name="prompt" value="consent"')) body = new URLSearchParams({ prompt: 'consent' });
    else throw new Error(`unexpected provider page at ${url}: ${text.slice(0, 300)}`);
  }
  throw new Error('the provider never sent the browser back');
}

/**
 * A CAS server double: /login sends the browser back with a ticket for the user given as `?as=`, else
 * `defaultUser` (the test's stand-in for the CAS login form); /p3/serviceValidate and /serviceValidate answer the CAS XML, each ticket
 * valid once and for the service it was issued for.
 */
export async function startCasDouble(users: Record<string, Record<string, string>>, options: { defaultUser?: string } = {}) {
  const tickets = new Map<string, { user: string; service: string }>();
  const validations: string[] = [];
  let n = 0;
  const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const listening = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://cas.local');
    if (url.pathname === '/cas/login') {
      const service = url.searchParams.get('service') ?? '';
      const user = url.searchParams.get('as') ?? options.defaultUser ?? '';
      const ticket = `ST-${++n}-${Math.random().toString(36).slice(2)}`;
      tickets.set(ticket, { user, service });
      res.writeHead(302, { location: `${service}${service.includes('?') ? '&' : '?'}ticket=${ticket}` }).end();
      return;
    }
    if (url.pathname === '/cas/p3/serviceValidate' || url.pathname === '/cas/serviceValidate') {
      validations.push(url.pathname);
      const ticket = url.searchParams.get('ticket') ?? '';
      const issued = tickets.get(ticket);
      tickets.delete(ticket);
      res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8' });
      if (!issued || issued.service !== url.searchParams.get('service') || !users[issued.user]) {
        res.end(`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationFailure code="INVALID_TICKET">Ticket ${xmlEscape(ticket)} not recognized</cas:authenticationFailure>
</cas:serviceResponse>`);
        return;
      }
      const attributes = url.pathname.startsWith('/cas/p3/')
        ? `<cas:attributes>${Object.entries(users[issued.user])
            .map(([k, v]) => `<cas:${k}>${xmlEscape(v)}</cas:${k}>`)
            .join('')}</cas:attributes>`
        : '';
      res.end(`<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationSuccess>
    <cas:user>${xmlEscape(issued.user)}</cas:user>
    ${attributes}
  </cas:authenticationSuccess>
</cas:serviceResponse>`);
      return;
    }
    res.writeHead(404).end();
  });
  return { baseUrl: `http://127.0.0.1:${listening.port}/cas`, validations, close: listening.close };
}
