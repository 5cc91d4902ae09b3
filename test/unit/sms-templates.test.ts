import test from 'ava';
import { DEFAULT_SETTINGS } from '../../server/admin/settings.service.ts';
import { createLogger } from '../../server/logger.ts';
import { ConsoleSmsProvider, maskPersonalNumbers } from '../../server/sms/sms.provider.ts';
import { blotSecrets, blotSecretsJson } from '../../server/sms/sms.secrets.ts';
import { renderTemplate, renderTemplateChecked, templatePlaceholders } from '../../server/sms/sms.templates.ts';

test('renderTemplate fills {name} placeholders, numbers included, every occurrence', (t) => {
  t.is(renderTemplate('{a}-{b}-{a}', { a: '甲', b: 2 }), '甲-2-甲');
  t.is(renderTemplate('没有占位符', { a: 1 }), '没有占位符');
});

test('an unknown or undefined placeholder stays visible and is reported once', (t) => {
  const reported: string[][] = [];
  const text = renderTemplate('{name}您好，流程号{flowNumber}，{name}', { name: '张三', flowNumber: undefined }, (m) => reported.push(m));
  t.is(text, '张三您好，流程号{flowNumber}，张三');
  t.deepEqual(reported, [['flowNumber']]);
  t.deepEqual(renderTemplateChecked('{x}{y}{x}', { y: 'ok' }), { text: '{x}ok{x}', missing: ['x'] });
  // only own keys count: an inherited property is not a value
  t.deepEqual(renderTemplateChecked('{toString}', {}).missing, ['toString']);
});

test('values are inserted literally: a value that looks like a placeholder is not expanded again', (t) => {
  t.is(renderTemplate('{opinion}', { opinion: '请联系{name}', name: 'X' }), '请联系{name}');
  t.is(renderTemplate('{opinion}', { opinion: '$& $1' }), '$& $1');
});

test('the shipped templates render completely with the variables the flow provides', (t) => {
  const vars = {
    university: '示例大学',
    name: '张三',
    staffName: '王老师',
    visitDate: '2026-12-03',
    flowNumber: 'FK20261201000001',
    opinion: '不同意，请改期申请',
    link: 'https://visit.example.edu.cn/tasks/1',
    // a group visit's companion SMS (companionPass)
    applicantName: '李四',
    visitTime: '09:00-11:00',
  };
  const { invitation, invitationCanceled, ...flowTemplates } = DEFAULT_SETTINGS.smsTemplates;
  for (const [key, template] of Object.entries(flowTemplates)) {
    const { text, missing } = renderTemplateChecked(template, vars);
    t.deepEqual(missing, [], key);
    t.notRegex(text, /\{\w+\}/, key);
    t.true(text.includes('FK20261201000001'), key);
  }
  t.deepEqual(templatePlaceholders(DEFAULT_SETTINGS.smsTemplates.refused), ['university', 'name', 'visitDate', 'flowNumber', 'opinion']);
  // The host's invitation has no flow number yet: it carries the link to apply with.
  const invited = renderTemplateChecked(invitation, {
    ...vars,
    hostName: '王老师',
    campus: '主校区',
    department: '计算机学院',
    visitTime: '09:00-11:00',
    link: 'https://visit.example.edu.cn/?invite=abc',
  });
  t.deepEqual(invited.missing, []);
  t.is(invited.text, '【示例大学】张三，王老师邀请您于2026-12-03 09:00-11:00到访主校区计算机学院。请打开链接登记并提交入校申请（仅限本手机号使用）：https://visit.example.edu.cn/?invite=abc');
  // Its cancellation names the visit and carries no link (the old one is dead).
  const canceled = renderTemplateChecked(invitationCanceled, { ...vars, hostName: '王老师', campus: '主校区', department: '计算机学院' });
  t.deepEqual(canceled.missing, []);
  t.is(canceled.text, '【示例大学】张三，王老师已取消邀请您于2026-12-03 09:00-11:00到访主校区计算机学院，原邀请链接已失效。如有疑问请联系接待人。');
});

test('secret link parameters are blotted for logs and lists, other links are left alone', (t) => {
  t.is(blotSecrets('请打开 https://v.example.edu.cn/?invite=AbC-_9x 登记'), '请打开 https://v.example.edu.cn/?invite=*** 登记');
  t.is(blotSecrets('https://v.example.edu.cn/staff/#/tasks/12'), 'https://v.example.edu.cn/staff/#/tasks/12');
  t.is(blotSecretsJson(JSON.stringify({ link: 'https://x/?a=1&invite=zzz', name: '张三' })), JSON.stringify({ link: 'https://x/?a=1&invite=***', name: '张三' }));
  t.is(blotSecretsJson(null), null);
  t.is(blotSecretsJson(JSON.stringify({ token: 'zzz', name: '张三' })), JSON.stringify({ token: '***', name: '张三' }), 'a bare token value too');
});

test('the console provider never logs an invitation link token', async (t) => {
  const lines: string[] = [];
  const provider = new ConsoleSmsProvider(createLogger('info', { write: (line: string) => lines.push(line) }));
  await provider.send({ to: '13812345678', template: 'invitation', params: {}, body: '邀请您来访：https://v.example.edu.cn/?invite=SeCrEt0123456789abcdef' });
  t.false(lines.join('\n').includes('SeCrEt0123456789abcdef'));
  t.true(JSON.parse(lines[0]).sms.body.includes('?invite=***'));
});

test('maskPersonalNumbers masks mobiles and resident ID numbers but leaves flow numbers and dates', (t) => {
  t.is(maskPersonalNumbers('请致电13812345678或+86 13912345678'), '请致电138****5678或139****5678');
  t.is(maskPersonalNumbers('证件11010519491231002X'), '证件110***********002X');
  t.is(maskPersonalNumbers('流程号FK20261201000001，日期2026-12-03'), '流程号FK20261201000001，日期2026-12-03');
});

test('the console provider logs the recipient masked, never the clear mobile', async (t) => {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(line) });
  const provider = new ConsoleSmsProvider(logger);
  const { messageId } = await provider.send({ to: '13812345678', template: 'approved', params: {}, body: '【示例大学】张三，您的申请已通过。联系电话13987654321' });
  t.regex(messageId, /^console-/);
  const all = lines.join('\n');
  t.false(all.includes('13812345678'));
  t.false(all.includes('13987654321'));
  const entry = JSON.parse(lines[0]);
  t.is(entry.sms.to, '138****5678');
  t.is(entry.sms.messageId, messageId);
  t.true(entry.sms.body.includes('139****4321'));
});
