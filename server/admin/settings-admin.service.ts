import type { Knex } from 'knex';
import QRCode from 'qrcode';
import { z } from 'zod';
import { badRequest } from '../errors.ts';
import { renderTemplateChecked, templatePlaceholders } from '../sms/sms.templates.ts';
import type { Actor, AuditService } from './audit.service.ts';
import { DEFAULT_SETTINGS, type Settings, type SettingsService, type SmsTemplates } from './settings.service.ts';

/** The values each SMS template is rendered with (server/applications/process-workers.ts, server/tasks). */
export const TEMPLATE_PLACEHOLDERS: Record<keyof SmsTemplates, string[]> = {
  approved: ['university', 'name', 'visitDate', 'visitTime', 'flowNumber', 'opinion'],
  refused: ['university', 'name', 'visitDate', 'visitTime', 'flowNumber', 'opinion'],
  expired: ['university', 'name', 'visitDate', 'visitTime', 'flowNumber', 'opinion'],
  taskAssigned: ['university', 'staffName', 'flowNumber', 'visitDate', 'link'],
  invitation: ['university', 'name', 'hostName', 'campus', 'department', 'visitDate', 'visitTime', 'link', 'token'],
  invitationCanceled: ['university', 'name', 'hostName', 'campus', 'department', 'visitDate', 'visitTime'],
  companionPass: ['university', 'name', 'applicantName', 'visitDate', 'visitTime', 'flowNumber', 'link'],
};

const TEMPLATE_KEYS = Object.keys(TEMPLATE_PLACEHOLDERS) as Array<keyof SmsTemplates>;

const template = z.string().trim().min(1, '短信模板不能为空').max(500, '短信模板不能超过 500 个字符');

export const settingsInput = z
  .object({
    reviewNotice: z.string().trim().max(2000, '审核提示不能超过 2000 个字符'),
    stockOpinions: z
      .array(z.string().trim().min(1, '常用意见不能为空').max(200, '每条常用意见不能超过 200 个字符'))
      .min(1, '请至少保留一条常用意见')
      .max(30, '常用意见最多 30 条'),
    smsTemplates: z.object({ approved: template, refused: template, expired: template, taskAssigned: template, companionPass: template.optional(), invitation: template.optional(), invitationCanceled: template.optional() })
      .strict(),
    retentionDays: z.number({ error: '保存期限应为天数' }).int('保存期限应为整数天').min(7, '保存期限至少 7 天').max(3650, '保存期限最多 3650 天'),
  })
  .partial()
  .strict();

export interface SettingsAdminDeps {
  knex: Knex;
  settings: SettingsService;
  audit: AuditService;
  publicUrl: string;
  universityName: string;
}

/** Texts and parameters administrators change: checked on save, previewed with sample data. */
export class SettingsAdminService {
  constructor(private readonly deps: SettingsAdminDeps) {}

  async getAll(): Promise<Settings> {
    const s = this.deps.settings;
    return {
      reviewNotice: await s.get('reviewNotice'),
      stockOpinions: await s.get('stockOpinions'),
      // A saved set lacking a template added later still renders that template from the defaults.
      smsTemplates: { ...DEFAULT_SETTINGS.smsTemplates, ...(await s.get('smsTemplates')) },
      retentionDays: await s.get('retentionDays'),
    };
  }

  async update(actor: Actor, raw: unknown): Promise<Settings> {
    const input = settingsInput.parse(raw);
    if (input.smsTemplates) {
      const details = TEMPLATE_KEYS.flatMap((key) =>
        templatePlaceholders(input.smsTemplates![key] ?? '')
          .filter((p) => !TEMPLATE_PLACEHOLDERS[key].includes(p))
          .map((p) => ({ field: `smsTemplates.${key}`, message: `模板中的占位符 {${p}} 无法填充；可用：${TEMPLATE_PLACEHOLDERS[key].map((x) => `{${x}}`).join(' ')}` })),
      );
      if (details.length) throw badRequest('SMS_TEMPLATE_PLACEHOLDER_UNKNOWN', details[0].message, details);
    }
    const before = await this.getAll();
    await this.deps.knex.transaction(async (trx) => {
      for (const [key, value] of Object.entries(input) as Array<[keyof Settings, any]>) {
        if (JSON.stringify(before[key]) === JSON.stringify(value)) continue;
        await this.deps.settings.set(key, value, trx);
        await this.deps.audit.record(trx, actor, { action: `settings.${key}`, targetType: 'settings', targetId: key, before: before[key], after: value });
      }
    });
    return this.getAll();
  }

  /** A template filled with sample data, as the recipient would read it, and the placeholders it cannot fill. */
  async preview(raw: unknown) {
    const input = z
      .object({ key: z.enum(TEMPLATE_KEYS as [keyof SmsTemplates, ...Array<keyof SmsTemplates>], { error: '未知的短信模板' }), template: template.optional() })
      .strict()
      .parse(raw);
    const text = input.template ?? (await this.getAll()).smsTemplates[input.key];
    const sample: Record<string, string> = {
      university: this.deps.universityName,
      name: '张三',
      staffName: '王老师',
      visitDate: '2026-12-03',
      visitTime: '09:00-11:00',
      flowNumber: 'VF20261201000123',
      opinion: '同意，请按约定时间到访',
      link:
        input.key === 'companionPass'
          ? `${this.deps.publicUrl}/?pass=Yq3vN8kT2mWcR5xZ0aB7dE`
          : input.key === 'invitation'
            ? `${this.deps.publicUrl}/?invite=示例链接`
            : `${this.deps.publicUrl}/staff/#/tasks/123`,
      applicantName: '李四',
      hostName: '王老师',
      campus: '主校区',
      department: '计算机学院',
      token: '示例链接',
    };
    const vars = Object.fromEntries(TEMPLATE_PLACEHOLDERS[input.key].map((k) => [k, sample[k]]));
    const { text: rendered, missing } = renderTemplateChecked(text, vars);
    // Carriers bill a Chinese SMS per 70 characters (67 per part once split).
    const parts = rendered.length <= 70 ? 1 : Math.ceil(rendered.length / 67);
    return { key: input.key, text: rendered, missing, length: rendered.length, parts };
  }

  /** The registration address a gate poster carries. */
  registrationUrl(campusCode: string): string {
    return `${this.deps.publicUrl}/?campus=${encodeURIComponent(campusCode)}`;
  }

  async posterPng(campusCode: string): Promise<Buffer> {
    return QRCode.toBuffer(this.registrationUrl(campusCode), { type: 'png', errorCorrectionLevel: 'M', margin: 4, width: 1024 });
  }
}
