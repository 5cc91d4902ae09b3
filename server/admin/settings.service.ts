import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../engine-adapter/clock.ts';

export interface SmsTemplates {
  approved: string;
  refused: string;
  expired: string;
  taskAssigned: string;
  /** A host's pre-invitation to the visitor, with the link to apply (server/invitations). */
  invitation: string;
  /** The host cancelled an invitation whose SMS the visitor has (server/invitations). */
  invitationCanceled: string;
  /** A companion of a group visit: the link to his own pass (server/companions). */
  companionPass: string;
}

export interface Settings {
  reviewNotice: string;
  stockOpinions: string[];
  smsTemplates: SmsTemplates;
  retentionDays: number;
}

/** Shipped defaults; an administrator's saved value replaces one key at a time. */
export const DEFAULT_SETTINGS: Settings = {
  reviewNotice:
    '审核提示：请核对来访人员身份、来访事由与到访时间；来访人员需遵守校园管理规定，车辆按指定路线行驶并在指定区域停放。',
  stockOpinions: ['同意', '同意，请按约定时间到访', '不同意，来访事由不充分', '不同意，请改期申请'],
  smsTemplates: {
    approved:
      '【{university}】{name}，您申请于{visitDate}进入校园（流程号{flowNumber}）已审核通过。请在校门口扫码并登录（账号：手机号；密码：身份证号后8位）获取进校通行码。',
    refused: '【{university}】{name}，您申请于{visitDate}进入校园（流程号{flowNumber}）未获批准。审核意见：{opinion}',
    expired: '【{university}】{name}，您申请于{visitDate}进入校园（流程号{flowNumber}）因超时未审核已失效，如需来访请重新申请。',
    taskAssigned: '【{university}】{staffName}，您有一条访客入校申请待审核（流程号{flowNumber}，来访日期{visitDate}），请登录处理：{link}',
    invitation: '【{university}】{name}，{hostName}邀请您于{visitDate} {visitTime}到访{campus}{department}。请打开链接登记并提交入校申请（仅限本手机号使用）：{link}',
    invitationCanceled: '【{university}】{name}，{hostName}已取消邀请您于{visitDate} {visitTime}到访{campus}{department}，原邀请链接已失效。如有疑问请联系接待人。',
    companionPass:
      '【{university}】{name}，您作为{applicantName}的同行人员于{visitDate} {visitTime}入校的申请（流程号{flowNumber}）已审核通过。请在校门口打开您本人的通行码链接出示（请勿转发）：{link}',
  },
  retentionDays: 180,
};

/**
 * How long a setting read is reused. Settings are read by nearly every task view and engine event; a change
 * made through another server process shows here at most this much later (this process forgets at once).
 */
export const SETTINGS_FRESH_MS = 1000;

export class SettingsService {
  private readonly cache: LRUCache<keyof Settings, { value: unknown }>;

  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
  ) {
    this.cache = new LRUCache({
      max: 16,
      ttl: SETTINGS_FRESH_MS,
      // Concurrent reads of one key share one query (a burst of task views).
      fetchMethod: async (key) => {
        const row = await this.knex('settings').where({ key }).first();
        return { value: row ? row.value : DEFAULT_SETTINGS[key] };
      },
    });
  }

  async get<K extends keyof Settings>(key: K): Promise<Settings[K]> {
    const entry = await this.cache.fetch(key);
    // Callers get their own copy: a cached value must not be changed through them.
    return structuredClone(entry!.value) as Settings[K];
  }

  async set<K extends keyof Settings>(key: K, value: Settings[K], trx: Knex = this.knex): Promise<void> {
    await trx('settings')
      .insert({ key, value: JSON.stringify(value), updated_at: this.clock.now() })
      .onConflict('key')
      .merge();
    this.cache.delete(key);
    // Inside a transaction a read may cache the old value until it commits: forget again when it ends.
    if ('executionPromise' in trx) (trx as Knex.Transaction).executionPromise.finally(() => this.cache.delete(key)).catch(() => {});
  }
}
