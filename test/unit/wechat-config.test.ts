import test from 'ava';
import { ConfigError, loadConfig } from '../../server/config.ts';

const good = {
  WECHAT_ENABLED: 'true',
  WECHAT_APP_ID: 'wx0123456789abcdef',
  WECHAT_APP_SECRET: '0123456789abcdef0123456789abcdef',
  WECHAT_TEMPLATES: JSON.stringify({ taskAssigned: { templateId: 'Tpl_TaskAssigned-0123456789abcdef', fields: { thing1: 'taskName', character_string2: 'flowNumber' } } }),
};

const issues = (env: Record<string, string>) => {
  const err = (() => {
    try {
      loadConfig(env);
    } catch (e) {
      return e;
    }
  })();
  if (!(err instanceof ConfigError)) throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
  return err.message;
};

test('WeChat is off by default and on with credentials and templates', (t) => {
  t.false(loadConfig({}).WECHAT_ENABLED);
  const config = loadConfig(good);
  t.true(config.WECHAT_ENABLED);
  t.is(config.WECHAT_API_BASE, 'https://api.weixin.qq.com');
});

test('bad WeChat credentials stop start-up with a message naming the variable', (t) => {
  t.regex(issues({ ...good, WECHAT_APP_ID: undefined as any }), /WECHAT_APP_ID: required when WECHAT_ENABLED=true/);
  t.regex(issues({ ...good, WECHAT_APP_SECRET: '' }), /WECHAT_APP_SECRET: required/);
  t.regex(issues({ ...good, WECHAT_APP_ID: 'gh_0123456789ab' }), /WECHAT_APP_ID: does not look like an official account AppID/);
  t.regex(issues({ ...good, WECHAT_APP_SECRET: `${good.WECHAT_APP_SECRET}\n` }), /WECHAT_APP_SECRET: has a space or line break/);
  t.regex(issues({ ...good, WECHAT_APP_SECRET: 'secret' }), /WECHAT_APP_SECRET: does not look like an AppSecret/);
  t.regex(issues({ ...good, WECHAT_API_BASE: 'api.weixin.qq.com' }), /WECHAT_API_BASE/);
});

test('WECHAT_TEMPLATES is checked at start like SMS_TEMPLATES', (t) => {
  t.regex(issues({ ...good, WECHAT_TEMPLATES: '{taskAssigned' }), /WECHAT_TEMPLATES: not valid JSON/);
  t.regex(issues({ ...good, WECHAT_TEMPLATES: '{}' }), /WECHAT_TEMPLATES: no template for "taskAssigned"/);
  t.regex(
    issues({ ...good, WECHAT_TEMPLATES: JSON.stringify({ taskAssigned: { templateId: 'Tpl_0123456789abcdef', fields: { thing1: 'mobile' } } }) }),
    /WECHAT_TEMPLATES\.taskAssigned\.fields\.thing1: "mobile" is not a value of this notice/,
  );
  t.regex(
    issues({ ...good, WECHAT_TEMPLATES: JSON.stringify({ approved: { templateId: 'Tpl_0123456789abcdef', fields: { thing1: 'name' } } }) }),
    /WECHAT_TEMPLATES\.approved: unknown notice/,
  );
  t.regex(issues({ ...good, WECHAT_TEMPLATES: JSON.stringify({ taskAssigned: { fields: { thing1: 'taskName' } } }) }), /WECHAT_TEMPLATES\.taskAssigned\.templateId/);
});
