import test from 'ava';
import type { Page } from 'playwright-core';
import { ensureWebBuild, fillApplication, launchBrowser, openPage, PC, PHONE, registerVisitor, shot } from '../helpers/browser.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';

test.before(async () => {
  await ensureWebBuild();
});

const CJK = /[\u4e00-\u9fff]/;

/** The header's language button; waits for the page to be drawn in the other language. */
async function switchTo(page: Page, lang: 'en' | 'zh') {
  await page.click('#vf-lang');
  await page.waitForSelector(`html[lang="${lang === 'en' ? 'en' : 'zh-CN'}"]`);
  await page.waitForSelector(`#vf-lang:has-text("${lang === 'en' ? '中文' : 'English'}")`);
}

const labelOf = async (page: Page, key: string) => ((await page.textContent(`.formio-component-${key} label`)) ?? '').trim();

test('in English the application form and a refused submission are in English; back in Chinese the form is Chinese again', async (t) => {
  t.timeout(120_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const { page, foreign } = await openPage(browser, server.url, PHONE);
    await registerVisitor(page, server.url, makeVisitor({ name: '史密斯' }));
    await page.waitForURL(/#\/apply$/);
    await page.waitForSelector('.formio-component-campusId .choices');
    t.regex(await labelOf(page, 'visitDate'), /到访日期/, 'Chinese first');

    await switchTo(page, 'en');
    await page.waitForSelector('.formio-component-visitDate label:has-text("Visit date")');
    t.regex(await labelOf(page, 'visitDate'), /^Visit date/);
    t.regex(await labelOf(page, 'hostName'), /^Host name/);
    t.regex(await labelOf(page, 'hostMobile'), /^Host mobile number/);
    t.regex(await labelOf(page, 'withVehicle'), /Coming by car/);
    t.is(((await page.textContent('.formio-component-submit button')) ?? '').trim(), 'Submit');
    t.regex((await page.textContent('.formio-component-visitTimePanel .card-title, .formio-component-visitTimePanel .card-header'))!, /Visit time/);
    t.regex((await page.textContent('.formio-component-attachments'))!, /Upload the required documents as images or PDF files/);
    t.is(await page.getAttribute('.formio-component-visitDate input:not([type=hidden])', 'placeholder'), 'Choose the visit date');

    // A host the department does not know: the server refuses with HOST_NOT_FOUND, shown in English at the field.
    await fillApplication(page);
    await page.fill('.formio-component-hostName input', 'Nobody');
    await page.click('.formio-component-submit button');
    await page.waitForSelector('.formio-component-hostName .formio-errors .error');
    const fieldError = (await page.textContent('.formio-component-hostName .formio-errors'))!;
    t.regex(fieldError, /does not match a host registered for this department/, fieldError);
    t.notRegex(fieldError, CJK, 'no Chinese left in the message');
    await shot(page, '40-application-en-refused');

    // A form rule of the JSON in English too: clearing the host name.
    await page.fill('.formio-component-hostName input', '');
    await page.locator('.formio-component-hostName input').blur();
    await page.waitForSelector('.formio-component-hostName .formio-errors:has-text("Enter the name of your host")');

    await switchTo(page, 'zh');
    await page.waitForSelector('.formio-component-visitDate label:has-text("到访日期")');
    t.regex(await labelOf(page, 'hostName'), /^接待人姓名/);
    t.is(((await page.textContent('.formio-component-submit button')) ?? '').trim(), '提交');
    t.deepEqual(foreign, []);
  } finally {
    await close();
    await server.close();
  }
});

test('a wrong login shows the English invalid-credentials text to a visitor and to staff', async (t) => {
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const { page, foreign } = await openPage(browser, server.url, PHONE);
    await page.goto(`${server.url}/#/login`);
    await page.waitForSelector('#f-mobile');
    await switchTo(page, 'en');
    await page.waitForSelector('h1:has-text("Visitor login")');
    const who = makeVisitor();
    await page.fill('#f-mobile', who.mobile);
    await page.fill('#f-password', '12345678');
    await page.click('button[type=submit]');
    await page.waitForSelector('.vf-alert');
    t.is(((await page.textContent('.vf-alert')) ?? '').trim(), 'Wrong mobile number or password');
    await shot(page, '41-login-en-refused');

    // Back in Chinese the server's own text is shown.
    await switchTo(page, 'zh');
    await page.fill('#f-mobile', who.mobile);
    await page.fill('#f-password', '12345678');
    await page.click('button[type=submit]');
    await page.waitForSelector('.vf-alert:has-text("手机号或密码不正确")');

    const staff = await openPage(browser, server.url, PC);
    await staff.page.goto(`${server.url}/staff/`);
    await staff.page.waitForSelector('#f-username');
    await switchTo(staff.page, 'en');
    await staff.page.fill('#f-username', 'host-cs');
    await staff.page.fill('#f-password', 'wrong-password');
    await staff.page.click('button[type=submit]');
    await staff.page.waitForSelector('.vf-alert');
    t.is(((await staff.page.textContent('.vf-alert')) ?? '').trim(), 'Wrong user name or password');
    t.deepEqual([...foreign, ...staff.foreign], []);
  } finally {
    await close();
    await server.close();
  }
});
