/**
 * The answer of CAS serviceValidate (2.0) / p3/serviceValidate (3.0), read without an XML library: the
 * format is a fixed, flat, documented shape (https://apereo.github.io/cas/development/protocol/CAS-Protocol-Specification.html,
 * section 2.5.2): <cas:serviceResponse> holding either <cas:authenticationFailure code="..."> or
 * <cas:authenticationSuccess> with <cas:user> and, in 3.0, <cas:attributes> whose children are the attributes
 * (an attribute may repeat). The npm CAS clients are Express/session middlewares, mostly unmaintained, and
 * would own the redirect and the session we already have; all we need is this reading of one answer.
 * The namespace prefix is whatever the server declared for http://www.yale.edu/tp/cas (usually `cas`).
 */
export type CasAnswer =
  | { ok: true; user: string; attributes: Record<string, string[]> }
  | { ok: false; code: string };

const decode = (s: string) =>
  s
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1')
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();

export function parseCasResponse(xml: string): CasAnswer {
  const ns = /<(?:([\w.-]+):)?serviceResponse[\s>]/.exec(xml);
  if (!ns) return { ok: false, code: 'MALFORMED_RESPONSE' };
  const p = ns[1] ? `${ns[1]}:` : '';
  const esc = p.replace(/[.-]/g, '\\$&');
  const failure = new RegExp(`<${esc}authenticationFailure(?:\\s+[^>]*?code="([^"]*)")?[^>]*>`).exec(xml);
  if (failure) return { ok: false, code: failure[1] || 'AUTHENTICATION_FAILURE' };
  const success = new RegExp(`<${esc}authenticationSuccess>([\\s\\S]*?)</${esc}authenticationSuccess>`).exec(xml);
  if (!success) return { ok: false, code: 'MALFORMED_RESPONSE' };
  const user = new RegExp(`<${esc}user>([\\s\\S]*?)</${esc}user>`).exec(success[1]);
  const name = user ? decode(user[1]) : '';
  if (!name) return { ok: false, code: 'MALFORMED_RESPONSE' };
  const attributes: Record<string, string[]> = {};
  const block = new RegExp(`<${esc}attributes>([\\s\\S]*?)</${esc}attributes>`).exec(success[1]);
  if (block) {
    const attr = new RegExp(`<${esc}([\\w.-]+)>([\\s\\S]*?)</${esc}\\1>`, 'g');
    for (const m of block[1].matchAll(attr)) {
      attributes[m[1]] ??= [];
      attributes[m[1]].push(decode(m[2]));
    }
  }
  return { ok: true, user: name, attributes };
}
