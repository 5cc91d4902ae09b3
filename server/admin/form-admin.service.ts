import type { Knex } from 'knex';
import type { Config } from '../config.ts';
import { badRequest, notFound } from '../errors.ts';
import type { FormService } from '../forms/form.service.ts';
import { dataComponents, type FieldError, type FormComponent, type FormSchema, validateSubmission } from '../forms/form.validator.ts';
import type { Actor, AuditService } from './audit.service.ts';

export const FORM_KEY = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
const COMPONENT_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Fields the server reads from an application (directory look-ups, visit window): the start form must keep them. */
export const START_FORM_REQUIRED_KEYS = ['campusId', 'departmentId', 'hostName', 'hostMobile', 'visitDate', 'visitStartTime', 'visitEndTime'];

export const FORM_DEPLOY_HINT =
  '新表单版本已保存，但尚未生效：流程版本在部署时固定所用表单版本。请重新部署使用该表单的流程（或保存时选择“保存并重新部署”），之后的新申请才会使用新表单；已提交的申请仍使用原表单。';

export type RedeployFn = (actor: Actor, processId: string) => Promise<unknown>

/** Form.io forms for the admin pages: versions, checks a builder's output, saves a new version. */
export class FormAdminService {
  constructor(
    private readonly deps: {
      knex: Knex;
      config: Config;
      forms: FormService;
      audit: AuditService;
      redeploy: RedeployFn;
    },
  ) {}

  async list() {
    const { knex } = this.deps;
    const versions = await knex('form_versions')
      .leftJoin('staff', 'staff.id', 'form_versions.created_by')
      .select('form_versions.form_key', 'form_versions.version', 'form_versions.created_at', 'form_versions.created_by', 'staff.name as created_by_name', knex.raw("form_versions.schema->>'title' as title"))
      .orderBy([{ column: 'form_key' }, { column: 'version', order: 'desc' }]);
    const users = await this.latestPins();
    const forms = new Map<string, any>();
    for (const v of versions) {
      let f = forms.get(v.form_key);
      if (!f) {
        const usedBy = users.filter((u) => u.formKey === v.form_key);
        f = {
          formKey: v.form_key,
          title: v.title,
          latestVersion: v.version,
          usedBy: usedBy.map(({ processId, processVersion, formVersion }) => ({ processId, processVersion, formVersion })),
          // Saved but not yet deployed: new applications still get the pinned version.
          pendingDeploy: usedBy.some((u) => u.formVersion < v.version),
          versions: [],
        };
        forms.set(v.form_key, f);
      }
      f.versions.push({
        version: v.version,
        createdAt: v.created_at,
        createdBy: v.created_by ? { id: v.created_by, name: v.created_by_name } : null,
      });
    }
    return [...forms.values()];
  }

  /** For each process, the form versions pinned to its latest version (what new applications use). */
  private async latestPins(db: Knex = this.deps.knex) {
    const rows = await db('process_deployments as d')
      .join('process_forms as f', 'f.process_definition_key', 'd.process_definition_key')
      .whereRaw('d.version = (select max(version) from process_deployments x where x.process_id = d.process_id)')
      .select('d.process_id', 'd.version', 'f.form_key', 'f.form_version');
    return rows.map((r: any) => ({ processId: r.process_id, processVersion: r.version, formKey: r.form_key, formVersion: r.form_version }));
  }

  async get(formKey: string, version: number | 'latest') {
    if (!FORM_KEY.test(formKey)) throw notFound('FORM_NOT_FOUND', '表单不存在');
    const form = version === 'latest' ? await this.deps.forms.latest(formKey) : await this.deps.forms.get(formKey, version);
    if (!form) throw notFound('FORM_NOT_FOUND', '表单不存在');
    return form;
  }

  /** Problems of a builder's output, per component path; empty when it can be saved. */
  async check(formKey: string, schema: unknown): Promise<FieldError[]> {
    const errors: FieldError[] = [];
    if (!FORM_KEY.test(formKey)) errors.push({ field: 'formKey', message: '表单标识只能包含字母、数字、短横线和下划线' });
    if (!schema || typeof schema !== 'object' || Array.isArray(schema)) return [...errors, { field: 'schema', message: '表单内容应为 Form.io JSON 对象' }];
    const components = (schema as FormSchema).components;
    if (!Array.isArray(components) || components.length === 0) return [...errors, { field: 'components', message: '表单至少需要一个组件（components 数组）' }];
    const seen = new Map<string, string>();
    const walk = (list: unknown, path: string) => {
      if (!Array.isArray(list)) {
        errors.push({ field: path, message: '组件列表应为数组' });
        return;
      }
      list.forEach((c: FormComponent, i) => {
        const at = `${path}[${i}]`;
        if (!c || typeof c !== 'object' || typeof c.type !== 'string' || !c.type) {
          errors.push({ field: at, message: '组件缺少类型（type）' });
          return;
        }
        if (typeof c.key !== 'string' || !COMPONENT_KEY.test(c.key)) {
          errors.push({ field: `${at}.key`, message: `组件“${c.label ?? c.type}”的字段标识（key）无效：应以字母开头，只含字母、数字、下划线和短横线` });
        } else if (seen.has(c.key)) {
          errors.push({ field: `${at}.key`, message: `字段标识“${c.key}”重复（已用于 ${seen.get(c.key)}）` });
        } else seen.set(c.key, at);
        if (c.components !== undefined) walk(c.components, `${at}.components`);
        if (c.columns !== undefined) {
          if (!Array.isArray(c.columns)) errors.push({ field: `${at}.columns`, message: '列布局应为数组' });
          else
            for (const [j, col] of c.columns.entries()) walk(col?.components ?? [], `${at}.columns[${j}].components`);
        }
      });
    };
    walk(components, 'components');
    if (errors.length) return errors;
    const startForm = await this.deps.knex('process_deployments')
      .where({ process_id: this.deps.config.VISIT_PROCESS_ID })
      .orderBy('version', 'desc')
      .first('start_form_key');
    if (startForm?.start_form_key === formKey) {
      const keys = new Set(dataComponents(components).map((c) => c.key));
      for (const key of START_FORM_REQUIRED_KEYS.filter((k) => !keys.has(k))) {
        errors.push({ field: key, message: `申请表单必须保留字段“${key}”（服务器据此核对校区、单位、接待人和到访时间）` });
      }
    }
    try {
      validateSubmission(schema as FormSchema, {});
    } catch (err: any) {
      errors.push({ field: 'schema', message: `表单无法被 Form.io 处理：${err.message}` });
    }
    return errors;
  }

  /**
   * Saves a new version (an unchanged form keeps its version). It reaches new applications only with a
   * process deployment, which pins the latest forms; `redeploy` does that at once for every process using it.
   */
  async save(actor: Actor, formKey: string, schema: unknown, options: { redeploy?: boolean } = {}) {
    const errors = await this.check(formKey, schema);
    if (errors.length) throw badRequest('FORM_SCHEMA_INVALID', errors[0].message, errors);
    const { knex, forms, audit } = this.deps;
    const saved = await knex.transaction(async (trx) => {
      const previous = await forms.latest(formKey, trx);
      const form = await forms.save(formKey, schema as FormSchema, trx);
      const created = form.version !== previous?.version;
      if (created) {
        await trx('form_versions').where({ form_key: formKey, version: form.version }).update({ created_by: actor.id });
        await audit.record(trx, actor, {
          action: 'form.save',
          targetType: 'form',
          targetId: formKey,
          before: previous ? summary(previous.version, previous.schema) : null,
          after: summary(form.version, form.schema),
        });
      }
      return { form, created };
    });
    const users = (await this.latestPins()).filter((u) => u.formKey === formKey);
    const stale = users.filter((u) => u.formVersion < saved.form.version);
    const deployments: unknown[] = [];
    if (options.redeploy) for (const u of stale) deployments.push(await this.deps.redeploy(actor, u.processId));
    return {
      form: { formKey, version: saved.form.version, created: saved.created },
      usedBy: users.map(({ processId, processVersion, formVersion }) => ({ processId, processVersion, formVersion })),
      ...(options.redeploy ? { deployments } : stale.length ? { hint: { code: 'FORM_NOT_DEPLOYED', message: FORM_DEPLOY_HINT, processes: stale.map((u) => u.processId) } } : {}),
    };
  }
}

function summary(version: number, schema: FormSchema) {
  return {
    version,
    title: schema.title ?? null,
    fields: dataComponents(schema.components).map((c) => ({ key: c.key, label: c.label ?? null, required: Boolean(c.validate?.required) })),
  };
}
