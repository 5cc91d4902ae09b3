import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The staff single sign-on part of the environment (merged into server/config.ts). */
export const ssoEnvShape = {
  /** none: local passwords only; oidc: an OpenID Connect provider; cas: a CAS 2.0/3.0 server. */
  STAFF_SSO: z.enum(['none', 'oidc', 'cas']).default('none'),
  /** false: the password login answers 403 LOCAL_LOGIN_DISABLED (needs STAFF_SSO). */
  STAFF_LOCAL_PASSWORDS: bool.default(true),
  /** The issuer URL; its /.well-known/openid-configuration is read at the first sign-in. */
  OIDC_ISSUER: z.url().optional(),
  OIDC_CLIENT_ID: z.string().trim().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** The claim that holds the staff number or e-mail, e.g. preferred_username, employee_number, email. */
  OIDC_STAFF_CLAIM: z.string().trim().min(1).default('preferred_username'),
  OIDC_SCOPES: z.string().default('openid profile email'),
  /** The CAS server's base, e.g. https://cas.example.edu.cn/cas (its /login and /p3/serviceValidate). */
  CAS_BASE_URL: z.url().optional(),
  /** 3: /p3/serviceValidate (attributes); 2: /serviceValidate (the user name only). */
  CAS_VERSION: z.enum(['2', '3']).default('3'),
  /** The attribute holding the staff number or e-mail; `user` (the default) takes <cas:user>. */
  CAS_STAFF_ATTRIBUTE: z.string().trim().min(1).default('user'),
};

interface SsoEnv {
  STAFF_SSO: 'none' | 'oidc' | 'cas';
  STAFF_LOCAL_PASSWORDS: boolean;
  OIDC_ISSUER?: string;
  OIDC_CLIENT_ID?: string;
  OIDC_CLIENT_SECRET?: string;
  CAS_BASE_URL?: string;
  CAS_VERSION: '2' | '3';
  PUBLIC_URL?: string;
}

/** What the shapes alone cannot say: which settings the chosen mode needs. */
export function checkSsoEnv(env: SsoEnv): string[] {
  const issues: string[] = [];
  if (env.STAFF_SSO !== 'none' && !env.PUBLIC_URL)
    issues.push(`PUBLIC_URL: required when STAFF_SSO=${env.STAFF_SSO} (the provider sends the browser back to PUBLIC_URL/api/staff/sso/callback)`);
  if (env.STAFF_SSO === 'oidc') {
    if (!env.OIDC_ISSUER) issues.push('OIDC_ISSUER: required when STAFF_SSO=oidc (the issuer URL, e.g. https://idp.example.edu.cn/realms/staff)');
    if (!env.OIDC_CLIENT_ID) issues.push('OIDC_CLIENT_ID: required when STAFF_SSO=oidc (the client registered at the provider)');
    if (!env.OIDC_CLIENT_SECRET) issues.push('OIDC_CLIENT_SECRET: required when STAFF_SSO=oidc (the secret of that client)');
  }
  // Tokens and tickets are checked over these addresses: plain http only to this machine (a development provider).
  const insecure = (url: string | undefined) => {
    if (!url) return false;
    const u = new URL(url);
    return u.protocol !== 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  };
  if (env.STAFF_SSO === 'oidc' && insecure(env.OIDC_ISSUER)) issues.push('OIDC_ISSUER: must be https (plain http only for localhost)');
  if (env.STAFF_SSO === 'cas' && insecure(env.CAS_BASE_URL)) issues.push('CAS_BASE_URL: must be https (plain http only for localhost)');
  if (env.STAFF_SSO === 'cas' && !env.CAS_BASE_URL)
    issues.push('CAS_BASE_URL: required when STAFF_SSO=cas (e.g. https://cas.example.edu.cn/cas)');
  if (!env.STAFF_LOCAL_PASSWORDS && env.STAFF_SSO === 'none')
    issues.push('STAFF_LOCAL_PASSWORDS: false needs STAFF_SSO=oidc or cas, or no staff member could sign in');
  return issues;
}
