import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';
import { notFound } from '../errors.ts';
import type { FormSchema } from './form.validator.ts';

export interface FormVersion {
  formKey: string;
  version: number;
  schema: FormSchema;
}

const checksum = (schema: unknown) => crypto.createHash('sha256').update(JSON.stringify(schema)).digest('hex');

/** Versioned Form.io forms. Saving an unchanged form returns the existing version. */
export class FormService {
  private readonly cache = new Map<string, FormVersion>();
  private readonly pins = new Map<string, number>();

  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
  ) {}

  async save(formKey: string, schema: FormSchema, trx: Knex = this.knex): Promise<FormVersion> {
    const sum = checksum(schema);
    const latest = await trx('form_versions').where({ form_key: formKey }).orderBy('version', 'desc').first();
    if (latest?.checksum === sum) return { formKey, version: latest.version, schema: latest.schema };
    const version = (latest?.version ?? 0) + 1;
    await trx('form_versions').insert({
      form_key: formKey,
      version,
      checksum: sum,
      schema: JSON.stringify(schema),
      created_at: this.clock.now(),
    });
    return { formKey, version, schema };
  }

  /** Versions never change once saved, so they are cached for the life of the process. */
  async get(formKey: string, version: number): Promise<FormVersion> {
    const id = `${formKey}@${version}`;
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = await this.knex('form_versions').where({ form_key: formKey, version }).first();
    if (!row) throw notFound('FORM_NOT_FOUND', `表单 ${formKey} 版本 ${version} 不存在`);
    const form = { formKey, version, schema: row.schema as FormSchema };
    this.cache.set(id, form);
    return form;
  }

  async latest(formKey: string, trx: Knex = this.knex): Promise<FormVersion | undefined> {
    const row = await trx('form_versions').where({ form_key: formKey }).orderBy('version', 'desc').first();
    return row ? { formKey, version: row.version, schema: row.schema } : undefined;
  }

  /** The form version pinned to a deployed process version. */
  async forProcess(processDefinitionKey: string, formKey: string): Promise<FormVersion> {
    // A pin is written once, with its process version, and never changed: cached like the versions.
    const id = `${processDefinitionKey}|${formKey}`;
    let version = this.pins.get(id);
    if (version === undefined) {
      const pin = await this.knex('process_forms')
        .where({ process_definition_key: processDefinitionKey, form_key: formKey })
        .first();
      if (!pin) throw notFound('FORM_NOT_PINNED', `流程版本未关联表单 ${formKey}`);
      version = Number(pin.form_version);
      this.pins.set(id, version);
    }
    return this.get(formKey, version);
  }

  async pin(processDefinitionKey: string, formKey: string, version: number, trx: Knex = this.knex) {
    await trx('process_forms')
      .insert({ process_definition_key: processDefinitionKey, form_key: formKey, form_version: version })
      .onConflict(['process_definition_key', 'form_key'])
      .merge();
  }
}
