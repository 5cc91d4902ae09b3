/**
 * Query parameters of our links that open something by themselves (a host's pre-invitation, a companion's pass): whoever reads
 * the text can use it. The outbox keeps them only until the vendor has the message; an administrator's list
 * and the log lines never show them.
 */
const SECRET_PARAMS = /([?&](?:invite|pass)=)[A-Za-z0-9_-]+/g;

export const BLOT = '***';
/** Template values that are a secret by themselves (the invitation token, for a template holding the address). */
const SECRET_VALUES = new Set(['token']);

/** The text with every secret link parameter replaced by ***. */
export function blotSecrets(text: string): string {
  return text.replace(SECRET_PARAMS, `$1${BLOT}`);
}

/** blotSecrets over a JSON text of template values (the outbox's params column); null stays null. */
export function blotSecretsJson(json: string | null): string | null {
  if (json === null) return null;
  const values = JSON.parse(json) as Record<string, string>;
  return JSON.stringify(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, SECRET_VALUES.has(k) ? BLOT : blotSecrets(String(v))])));
}
