import { z } from 'zod';
import { zhText } from '../shared/setting-issues.ts';
import { SmsProviderError } from './sms.provider.ts';

/**
 * Where one of our templates goes at a vendor: its template id (aliyun TemplateCode, tencent TemplateId) and
 * which of our values fill it. `params` is, for aliyun, a list of our names (sent under the same names) or a
 * map vendor name -> our name; for tencent, the list of our names in the order of the template's {1}, {2}, ...
 */
export interface SmsTemplateMapping {
  id: string;
  params?: string[] | Record<string, string>;
}

export type SmsTemplateMap = Record<string, SmsTemplateMapping>;

const paramName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, zhText('a placeholder name such as flowNumber', '应为取值名，如 flowNumber'));

const mapping = z.union([
  z
    .string()
    .trim()
    .min(1, zhText('the template id is empty', '请填写模板号'))
    .transform((id): SmsTemplateMapping => ({ id })),
  z
    .object({
      id: z.string().trim().min(1, zhText('the template id is empty', '请填写模板号')).max(64, zhText('the template id is longer than 64 characters', '模板号最多 64 个字符')),
      params: z.union([z.array(paramName).max(20), z.record(z.string().min(1).max(64), paramName)]).optional(),
    })
    .strict(),
]);

export const templateMapSchema: z.ZodType<SmsTemplateMap, unknown> = z.record(z.string(), mapping);

/** The mapping of a template, or a permanent error naming the missing entry. */
export function mappingOf(vendor: string, templates: SmsTemplateMap, template: string): SmsTemplateMapping {
  const found = Object.hasOwn(templates, template) ? templates[template] : undefined;
  if (!found) throw new SmsProviderError('SMS_TEMPLATE_REJECTED', `no ${vendor} template id is configured for the "${template}" SMS (SMS_TEMPLATES)`);
  return found;
}
