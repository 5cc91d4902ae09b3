import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import formioCore from '@formio/core';
import test from 'ava';
import { compileBpmn } from '../../engine-adapter/embedded/definition/compile.ts';
import { visitPassXml } from '../engine-contract/harness.ts';

const { processSync, ProcessTargets, interpolateErrors } = formioCore as any;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const form = (name: string) => JSON.parse(fs.readFileSync(path.join(root, 'forms', `${name}.json`), 'utf8'));

/** Server-side validation as the server will run it; returns key -> message. */
function validate(name: string, data: Record<string, unknown>): Record<string, string> {
  const definition = form(name);
  const scope = { errors: [] as any[] };
  const context = { form: definition, submission: { data }, data, components: definition.components, scope, config: { server: true } };
  processSync({ ...context, processors: ProcessTargets.submission });
  processSync({ ...context, processors: ProcessTargets.evaluator });
  const out: Record<string, string> = {};
  for (const e of interpolateErrors(scope.errors)) out[String(e.path ?? e.context?.path)] = e.message;
  return out;
}

test('every form key of the default flow has a form', async (t) => {
  const compiled = await compileBpmn(visitPassXml);
  const keys = [...new Set([compiled.model.startFormKey, ...[...compiled.model.elements.values()].map((e) => e.formKey)])].filter(Boolean);
  t.deepEqual(keys.sort(), ['host-review', 'leader-review', 'security-review', 'visit-application']);
  for (const key of keys) {
    const f = form(key!);
    t.is(f.name, key);
    t.is(f.display, 'form');
    t.truthy(f.title);
  }
});

test('host review: opinion and decision required; a leader only when approving, in Chinese', (t) => {
  t.deepEqual(validate('host-review', { opinion: '', decision: 'approve' }), {
    opinion: '请填写审核意见',
    leaderStaffId: '同意时请选择部门主管领导',
  });
  t.deepEqual(validate('host-review', { opinion: '不符合', decision: 'refuse' }), {});
  t.deepEqual(validate('host-review', { opinion: '同意', decision: 'approve', leaderStaffId: 'staff-3' }), {});
  t.truthy(validate('leader-review', {}).decision);
});

test('application: required visited unit and time, mobile and plate patterns, plate only with a vehicle', (t) => {
  const valid = {
    campusId: 'c1',
    departmentId: 'd1',
    hostName: '李老师',
    hostMobile: '13812345678',
    visitDate: '12/03/2026',
    visitStartTime: '09:00',
    visitEndTime: '11:30',
    withVehicle: false,
  };
  t.deepEqual(validate('visit-application', valid), {});
  const errors = validate('visit-application', { ...valid, hostMobile: '12345', withVehicle: true, plateNumber: 'ABC' });
  t.deepEqual(Object.keys(errors).sort(), ['hostMobile', 'plateNumber']);
  t.is(errors.hostMobile, '请输入正确的11位手机号');
  t.deepEqual(validate('visit-application', { ...valid, withVehicle: true, plateNumber: '京A12345' }), {});
  t.truthy(validate('visit-application', { ...valid, visitEndTime: '08:00' }).visitEndTime, 'the end is after the start');
  const fields = form('visit-application');
  const flat = JSON.stringify(fields);
  for (const serverFilled of ['applicationDate', 'visitorName', 'account', 'idNumberMasked', 'gender', 'phone'])
    t.regex(flat, new RegExp(`"key":"${serverFilled}"[^}]*"disabled":true[^}]*"serverFilled"`));
  t.regex(flat, /"type":"file","key":"attachments"[^}]*"storage":"url","url":"\/api\/uploads"/);
});
