import type { Page } from 'playwright-core';
import type { WatchedPage } from './browser.ts';

/** Logs in on /admin/ as the demo administrator and waits for the process list. */
export async function adminLogin(page: Page, origin: string, username = 'admin') {
  await page.goto(`${origin}/admin/`);
  await page.waitForSelector('#admin-login #f-username');
  await page.fill('#f-username', username);
  await page.fill('#f-password', 'Demo@2026');
  await page.click('#admin-login button[type=submit]');
  await page.waitForSelector('#proc-new');
}

/** Accepts every confirm() the page asks (deactivate, cancel an application). */
export function acceptDialogs(page: Page) {
  page.on('dialog', (d) => void d.accept());
}

/** The page stayed on the intranet and the CSP refused nothing (Form.io and bpmn-js run without eval). */
export function noCspViolation(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, w: WatchedPage) {
  t.deepEqual(w.foreign, [], 'no request leaves the origin');
  t.deepEqual(
    w.errors.filter((e) => /Content Security Policy|EvalError|Refused to/i.test(e)),
    [],
    'no CSP violation',
  );
}
