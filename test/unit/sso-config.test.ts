import test from 'ava';
import { parseCasResponse } from '../../server/auth/cas.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';

test('SSO is off by default and local passwords on', (t) => {
  const config = loadConfig({});
  t.is(config.STAFF_SSO, 'none');
  t.true(config.STAFF_LOCAL_PASSWORDS);
});

test('each SSO mode names the settings it lacks at start', (t) => {
  const oidc = t.throws(() => loadConfig({ STAFF_SSO: 'oidc' }), { instanceOf: ConfigError });
  for (const name of ['PUBLIC_URL', 'OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET']) t.regex(oidc!.message, new RegExp(name));
  const cas = t.throws(() => loadConfig({ STAFF_SSO: 'cas', PUBLIC_URL: 'https://visit.example.edu.cn' }), { instanceOf: ConfigError });
  t.regex(cas!.message, /CAS_BASE_URL: required when STAFF_SSO=cas/);
  t.notRegex(cas!.message, /PUBLIC_URL/);
  const plain = t.throws(
    () => loadConfig({ STAFF_SSO: 'oidc', PUBLIC_URL: 'https://v.example.edu.cn', OIDC_ISSUER: 'http://idp.example.edu.cn', OIDC_CLIENT_ID: 'a', OIDC_CLIENT_SECRET: 'b' }),
    { instanceOf: ConfigError },
  );
  t.regex(plain!.message, /OIDC_ISSUER: must be https/);
  const typo = t.throws(() => loadConfig({ STAFF_SSO: 'saml' }), { instanceOf: ConfigError });
  t.regex(typo!.message, /STAFF_SSO/);
  const noWayIn = t.throws(() => loadConfig({ STAFF_LOCAL_PASSWORDS: 'false' }), { instanceOf: ConfigError });
  t.regex(noWayIn!.message, /STAFF_LOCAL_PASSWORDS/);
  const ok = loadConfig({
    STAFF_SSO: 'oidc',
    PUBLIC_URL: 'https://visit.example.edu.cn',
    OIDC_ISSUER: 'https://idp.example.edu.cn/realms/staff',
    OIDC_CLIENT_ID: 'visitflow',
    OIDC_CLIENT_SECRET: 's3cret',
    STAFF_LOCAL_PASSWORDS: 'false',
  });
  t.is(ok.OIDC_STAFF_CLAIM, 'preferred_username');
  t.false(ok.STAFF_LOCAL_PASSWORDS);
});

test('the CAS answer is read with any namespace prefix, entities, CDATA and repeated attributes', (t) => {
  const success = parseCasResponse(`<?xml version="1.0"?>
<c:serviceResponse xmlns:c="http://www.yale.edu/tp/cas">
  <c:authenticationSuccess>
    <c:user>zhang&amp;san</c:user>
    <c:attributes>
      <c:employeeNumber><![CDATA[T1001]]></c:employeeNumber>
      <c:memberOf>staff</c:memberOf>
      <c:memberOf>cs</c:memberOf>
    </c:attributes>
  </c:authenticationSuccess>
</c:serviceResponse>`);
  t.deepEqual(success, { ok: true, user: 'zhang&san', attributes: { employeeNumber: ['T1001'], memberOf: ['staff', 'cs'] } });
  t.deepEqual(
    parseCasResponse('<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationFailure code="INVALID_TICKET">no</cas:authenticationFailure></cas:serviceResponse>'),
    { ok: false, code: 'INVALID_TICKET' },
  );
  t.false(parseCasResponse('<html>CAS is down</html>').ok);
  t.false(parseCasResponse('<cas:serviceResponse><cas:authenticationSuccess><cas:user></cas:user></cas:authenticationSuccess></cas:serviceResponse>').ok);
});
