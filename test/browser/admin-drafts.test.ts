import test from 'ava';
import type { Page } from 'playwright-core';
import { adminSession, noCspViolation } from '../helpers/admin-browser.ts';

/**
 * An administrator's unsaved work in the process editor and the form builder survives what rebuilds the page
 * (the language switch, a look at another screen) until it is deployed, saved or discarded.
 */
// One server and one logged-in administrator for these screens; the tests run one after another.
const session = adminSession(test);

const groupTitle = (p: Page, id: string) => p.locator(`#bpmn-properties [data-group-id="group-${id}"] .bio-properties-panel-group-header-title`);

async function switchLanguage(p: Page, to: 'en' | 'zh-CN') {
  await p.click('#vf-lang');
  await p.waitForFunction((lang) => document.documentElement.lang === lang, to);
}

test.serial('undeployed edits survive the language switch and a look at another screen, until discarded', async (t) => {
  const p = session.admin.page;
  await p.goto(`${session.server.url}/admin/#/processes/visit-pass/latest`);
  await p.click('#bpmn-canvas .djs-element[data-element-id="host-review"]');
  await p.waitForSelector('#bpmn-properties [data-group-id="group-general"]');
  const nameOf = () => p.evaluate(() => (window as any).vfModeler.get('elementRegistry').get('host-review').businessObject.name as string);
  const original = await nameOf();
  const nameInput = p.locator('#bio-properties-panel-name');
  if (!(await nameInput.isVisible())) await groupTitle(p, 'general').click();
  await nameInput.fill('接待人初审');
  await p.waitForFunction(() => (window as any).vfModeler.get('elementRegistry').get('host-review').businessObject.name === '接待人初审');
  t.true(await p.isVisible('#proc-dirty'));

  // The switch rebuilds the editor: the edit comes back with it, still flagged as undeployed.
  await switchLanguage(p, 'en');
  await p.waitForSelector('#proc-discard');
  t.is(await nameOf(), '接待人初审');
  t.true(await p.isVisible('#proc-dirty'));
  t.regex((await p.textContent('#proc-messages'))!, /undeployed changes are back/);
  await switchLanguage(p, 'zh-CN');
  await p.waitForSelector('#proc-discard');
  t.regex((await p.textContent('#proc-messages'))!, /已恢复此前未部署的修改/);

  // Another screen and back, as the header links do.
  await p.evaluate(() => {
    location.hash = '#/forms';
  });
  await p.waitForSelector('#bpmn-canvas', { state: 'detached' });
  await p.goBack();
  await p.waitForSelector('#proc-discard');
  t.is(await nameOf(), '接待人初审');

  // Discarded: the deployed version again, nothing flagged, and nothing comes back after a switch.
  await p.click('#proc-discard');
  await p.waitForSelector('#proc-dirty', { state: 'hidden' });
  t.is(await nameOf(), original);
  await switchLanguage(p, 'en');
  await p.waitForSelector('#bpmn-canvas [data-element-id="host-review"]');
  t.is(await nameOf(), original);
  t.false(await p.isVisible('#proc-discard'));
  t.false(await p.isVisible('#proc-dirty'));
  await switchLanguage(p, 'zh-CN');
  noCspViolation(t, session.admin);
});

test.serial('unsaved form builder changes survive the language switch and another screen, until discarded', async (t) => {
  const p = session.admin.page;
  await p.goto(`${session.server.url}/admin/#/forms/visit-application`);
  await p.waitForSelector('#form-builder .builder-component .formio-component-remark');
  const keys = () => p.evaluate(() => JSON.stringify((window as any).vfBuilder.schema.components.map((c: any) => c.key)));
  const original = await keys();
  t.false(await p.isVisible('#form-dirty'));
  // Removed with the builder's own button, as an administrator does.
  const remark = p.locator('#form-builder .builder-component:has(> .formio-component-remark)');
  await remark.hover();
  await remark.locator('[ref="removeComponent"]').first().click();
  await p.waitForSelector('#form-builder .formio-component-remark', { state: 'detached' });
  t.true(await p.isVisible('#form-dirty'));
  const edited = await keys();
  t.false(edited.includes('"remark"'));

  await switchLanguage(p, 'en');
  await p.waitForSelector('#form-discard');
  t.is(await keys(), edited, 'the removal is still there after the switch');
  t.regex((await p.textContent('#form-messages'))!, /unsaved changes are back/);
  await switchLanguage(p, 'zh-CN');
  await p.waitForSelector('#form-discard');
  await p.evaluate(() => {
    location.hash = '#/processes';
  });
  await p.waitForSelector('#form-builder', { state: 'detached' });
  await p.goBack();
  await p.waitForSelector('#form-discard');
  t.is(await keys(), edited);

  await p.click('#form-discard');
  await p.waitForSelector('#form-dirty', { state: 'hidden' });
  await p.waitForSelector('#form-builder .formio-component-remark');
  t.is(await keys(), original);
  await switchLanguage(p, 'en');
  await p.waitForSelector('#form-builder .formio-component-remark');
  t.false(await p.isVisible('#form-discard'));
  await switchLanguage(p, 'zh-CN');
  noCspViolation(t, session.admin);
});
