import test from 'ava';
import type { Knex } from 'knex';
import { FakeClock } from '../../engine-adapter/clock.ts';
import type { FieldCrypto } from '../../server/crypto/field-crypto.ts';
import { createLogger } from '../../server/logger.ts';
import { ConsoleSmsProvider, type SmsProvider } from '../../server/sms/sms.provider.ts';
import { SmsService } from '../../server/sms/sms.service.ts';

// The send test talks to the provider only: no database, no field encryption.
function service(provider: (logger: ReturnType<typeof createLogger>) => SmsProvider) {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(line) });
  const sms = new SmsService({
    knex: {} as Knex,
    fieldCrypto: {} as FieldCrypto,
    provider: provider(logger),
    clock: new FakeClock(),
    logger,
    universityName: '测试大学',
  });
  return { sms, lines };
}

test('with the console provider the send test prints the test SMS, recipient masked', async (t) => {
  const { sms, lines } = service((logger) => new ConsoleSmsProvider(logger));
  const result = await sms.sendTest('13912345678');
  t.like(result, { ok: true, provider: 'console', template: 'test', to: '139****5678' });
  t.regex(result.messageId!, /^console-/);
  const printed = lines.map((l) => JSON.parse(l)).find((l) => l.sms?.template === 'test');
  t.regex(printed.sms.body, /^【测试大学】短信测试：验证码 \d{6}/);
  t.false(lines.join('\n').includes('13912345678'));
});

test('a provider failure that is not classified answers SMS_REJECTED with its text, mobile masked', async (t) => {
  const { sms, lines } = service(() => ({
    name: 'broken',
    send: async ({ to }) => {
      throw new Error(`gateway closed for ${to}`);
    },
  }));
  const result = await sms.sendTest('13912345678');
  t.false(result.ok);
  t.like(result.error, { code: 'SMS_REJECTED', vendorMessage: 'gateway closed for 139****5678', retryable: false });
  t.regex(result.error!.message, /^短信服务商拒绝发送：gateway closed for 139\*{4}5678$/);
  t.false(lines.join('\n').includes('13912345678'));
});
