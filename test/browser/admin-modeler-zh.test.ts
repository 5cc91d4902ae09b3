import test from 'ava';
import type { Page } from 'playwright-core';
import { adminSession, noCspViolation } from '../helpers/admin-browser.ts';
import { shot } from '../helpers/browser.ts';

// One server and one logged-in administrator for these screens; the tests run one after another.
const session = adminSession(test);

const groupTitle = (p: Page, id: string) => p.locator(`#bpmn-properties [data-group-id="group-${id}"] .bio-properties-panel-group-header-title`);

/** Opens the shipped process in the editor and selects its first user task (a click on the canvas). */
async function openUserTask(p: Page) {
  await p.goto(`${session.server.url}/admin/#/processes/visit-pass/latest`);
  await p.waitForSelector('#bpmn-canvas [data-element-id="host-review"]');
  await p.click('#bpmn-canvas .djs-element[data-element-id="host-review"]');
  await p.waitForSelector('#bpmn-properties [data-group-id="group-assignmentDefinition"]');
}

test.serial('the process editor speaks the page language: Chinese by default, English after the switch', async (t) => {
  const p = session.admin.page;
  t.is(await p.getAttribute('html', 'lang'), 'zh-CN');
  await openUserTask(p);

  // Properties panel: the element type, group titles, field labels, list buttons, FEEL field titles.
  t.is((await p.textContent('#bpmn-properties .bio-properties-panel-header-type'))!.trim(), '用户任务');
  t.is((await groupTitle(p, 'general').textContent())!.trim(), '常规');
  t.is((await groupTitle(p, 'assignmentDefinition').textContent())!.trim(), '分配');
  t.is((await groupTitle(p, 'form').textContent())!.trim(), '表单');
  t.is((await groupTitle(p, 'inputs').textContent())!.trim(), '输入映射');
  t.is((await groupTitle(p, 'outputs').textContent())!.trim(), '输出映射');
  t.is((await groupTitle(p, 'Zeebe__ExtensionProperties').textContent())!.trim(), '扩展属性');
  const assignment = p.locator('#bpmn-properties [data-group-id="group-assignmentDefinition"]');
  if (!(await assignment.locator('.bio-properties-panel-group-header.open').count())) await groupTitle(p, 'assignmentDefinition').click();
  await assignment.locator('.bio-properties-panel-group-entries.open').waitFor();
  t.deepEqual((await assignment.locator('.bio-properties-panel-label').allTextContents()).map((s) => s.trim()), ['办理人', '候选组', '候选用户', '到期时间', '跟进时间']);
  const feelTitles = await assignment.locator('.bio-properties-panel-feel-icon').evaluateAll((els) => els.map((e) => e.getAttribute('title')));
  t.true(feelTitles.length > 0 && feelTitles.every((title) => /FEEL 表达式/.test(title ?? '')), JSON.stringify(feelTitles));
  t.is(await p.getAttribute('#bpmn-properties [data-group-id="group-inputs"] .bio-properties-panel-add-entry', 'title'), '新增一项');
  t.is((await p.textContent('#bpmn-properties [data-group-id="group-inputs"] .bio-properties-panel-add-entry-label'))!.trim(), '创建');
  // Palette and context pad tooltips (bpmn-js's palette has a generic task; the replace menu makes it a user task).
  t.is(await p.getAttribute('.djs-palette [data-action="create.task"]', 'aria-label'), '创建任务');
  t.is(await p.getAttribute('.djs-palette [data-action="create.start-event"]', 'aria-label'), '创建开始事件');
  t.is(await p.getAttribute('.djs-context-pad [data-action="append.append-task"]', 'title'), '追加任务');
  await p.click('.djs-context-pad [data-action="replace"]');
  await p.waitForSelector('.djs-popup [data-id="replace-with-service-task"]');
  t.regex((await p.textContent('.djs-popup [data-id="replace-with-service-task"]'))!, /服务任务/);
  t.regex((await p.textContent('.djs-popup .djs-popup-title'))!, /更改元素类型/);
  await shot(p, 'admin-20-modeler-zh');
  await p.keyboard.press('Escape');

  // The header switch rebuilds the editor in English.
  await p.click('#vf-lang');
  await p.waitForFunction(() => document.documentElement.lang === 'en');
  await openUserTask(p);
  t.is((await p.textContent('#bpmn-properties .bio-properties-panel-header-type'))!.trim(), 'User Task');
  t.is((await groupTitle(p, 'general').textContent())!.trim(), 'General');
  t.is((await groupTitle(p, 'assignmentDefinition').textContent())!.trim(), 'Assignment');
  t.is((await groupTitle(p, 'form').textContent())!.trim(), 'Form');
  t.is((await groupTitle(p, 'inputs').textContent())!.trim(), 'Input mapping');
  t.is(await p.getAttribute('#bpmn-properties [data-group-id="group-inputs"] .bio-properties-panel-add-entry', 'title'), 'Create new list item');
  t.is(await p.getAttribute('.djs-palette [data-action="create.task"]', 'aria-label'), 'Create task');
  t.is(await p.getAttribute('.djs-context-pad [data-action="append.append-task"]', 'title'), 'Append task');
  await shot(p, 'admin-21-modeler-en');

  // And back: Chinese again without a reload.
  await p.click('#vf-lang');
  await p.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  await openUserTask(p);
  t.is((await groupTitle(p, 'form').textContent())!.trim(), '表单');
  t.is(await p.getAttribute('.djs-palette [data-action="create.task"]', 'aria-label'), '创建任务');
  noCspViolation(t, session.admin);
});
