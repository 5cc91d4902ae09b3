import type { Knex } from 'knex';
import { UniqueViolationError } from 'objection';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import { type FieldCrypto, maskIdNumber, maskMobile } from '../crypto/field-crypto.ts';
import { DUMMY_HASH_PROMISE, hashPassword, verifyPassword } from '../crypto/password.ts';
import { AppError, badRequest, conflict } from '../errors.ts';
import { IP_POLICY, type ThrottleService } from '../auth/throttle.service.ts';
import { normaliseMobile, parseResidentId, residentIdMessages } from './resident-id.ts';
import { Visitor } from './visitor.model.ts';

export const registrationSchema = z.object({
  name: z.string({ error: '请填写姓名' }).trim().min(1, '请填写姓名').max(50, '姓名不能超过50个字'),
  organisation: z.string({ error: '请填写单位（个人请填“个人”）' }).trim().min(1, '请填写单位（个人请填“个人”）').max(100, '单位名称不能超过100个字'),
  idNumber: z.string({ error: '请填写身份证号' }).max(40, '身份证号应为18位'),
  mobile: z.string({ error: '请填写手机号' }).max(20, '请填写正确的手机号'),
});

export const loginSchema = z.object({
  mobile: z.string({ error: '请填写手机号' }).max(20, '请填写正确的手机号'),
  password: z.string({ error: '请填写密码' }).max(40, '密码不正确'),
});

const INVALID_LOGIN = () => new AppError(401, 'INVALID_CREDENTIALS', '手机号或密码不正确');

export class VisitorService {
  constructor(
    private readonly knex: Knex,
    private readonly crypto: FieldCrypto,
    private readonly throttle: ThrottleService,
    private readonly clock: Clock,
  ) {}

  /**
   * With the caller's address: "already registered" answers tell whether a mobile or an ID number has an
   * account, so each counts against the address like a failed login; an address that probes many is throttled
   * and then locked out (LOGIN_LOCKED), for registering and logging in alike.
   */
  async register(input: z.infer<typeof registrationSchema>, ip?: string): Promise<Visitor> {
    if (!ip) return this.registerOnce(input);
    const ipKey = `ip:${ip}`;
    await this.throttle.check([ipKey]);
    try {
      return await this.registerOnce(input);
    } catch (err) {
      if (err instanceof AppError && err.status === 409) await this.throttle.recordFailure([{ key: ipKey, policy: IP_POLICY }]);
      throw err;
    }
  }

  private async registerOnce(input: z.infer<typeof registrationSchema>): Promise<Visitor> {
    const id = parseResidentId(input.idNumber, this.clock.now());
    if (typeof id === 'string') throw badRequest(id, residentIdMessages[id], [{ field: 'idNumber', message: residentIdMessages[id] }]);
    const mobile = normaliseMobile(input.mobile);
    if (!mobile) {
      throw badRequest('MOBILE_INVALID', '请填写正确的11位手机号', [{ field: 'mobile', message: '请填写正确的11位手机号' }]);
    }
    const mobileIndex = this.crypto.blindIndex('mobile', mobile);
    const idIndex = this.crypto.blindIndex('id', id.value);
    const taken = () => conflict('MOBILE_ALREADY_REGISTERED', '该手机号已注册，请直接登录', { login: '/api/visitors/login' });
    if (await Visitor.query(this.knex).findOne({ mobile_bidx: mobileIndex })) throw taken();
    if (await Visitor.query(this.knex).findOne({ id_number_bidx: idIndex })) {
      throw conflict('ID_NUMBER_ALREADY_REGISTERED', '该身份证号已注册，请使用注册时的手机号登录', { login: '/api/visitors/login' });
    }
    try {
      return await Visitor.query(this.knex).insertAndFetch({
        name: input.name,
        organisation: input.organisation,
        id_number_enc: this.crypto.encrypt(id.value),
        id_number_bidx: idIndex,
        id_number_masked: maskIdNumber(id.value),
        mobile_enc: this.crypto.encrypt(mobile),
        mobile_bidx: mobileIndex,
        mobile_masked: maskMobile(mobile),
        gender: id.gender,
        birth_date: id.birthDate,
        // The password is fixed by the domain (last 8 characters of the ID number); only its slow hash is kept.
        password_hash: await hashPassword(id.value.slice(-8)),
        // The injected clock, not the database's: retention ages accounts by it.
        created_at: this.clock.now(),
        updated_at: this.clock.now(),
      });
    } catch (err) {
      if (err instanceof UniqueViolationError) throw taken(); // lost a race with an identical registration
      throw err;
    }
  }

  async login(input: z.infer<typeof loginSchema>, ip: string): Promise<Visitor> {
    const mobile = normaliseMobile(input.mobile) ?? input.mobile.trim();
    const mobileIndex = this.crypto.blindIndex('mobile', mobile);
    const visitor = await this.throttle.attempt(
      `visitor:${mobileIndex}`,
      ip,
      async () => {
        const found = await Visitor.query(this.knex).findOne({ mobile_bidx: mobileIndex });
        const ok = await verifyPassword(input.password.trim().toUpperCase(), found?.password_hash ?? (await DUMMY_HASH_PROMISE));
        return found && ok ? found : null;
      },
      INVALID_LOGIN,
    );
    await Visitor.query(this.knex).patch({ last_login_at: this.clock.now() }).where({ id: visitor.id });
    return visitor;
  }

  /** A plain row (not the objection model): every form and submission reads it. */
  async find(id: number): Promise<Visitor | undefined> {
    return this.knex('visitors').where({ id }).first();
  }

  /** The clear values, for the rare role that needs them (never for a response by default). */
  revealIdNumber(v: Visitor): string {
    return this.crypto.decrypt(v.id_number_enc);
  }

  revealMobile(v: Visitor): string {
    return this.crypto.decrypt(v.mobile_enc);
  }
}
