import type { TestFn } from 'ava';
import type { Page } from 'playwright-core';
import { ensureWebBuild, launchBrowser, openPage, PC, type WatchedPage } from './browser.ts';
import { startTestServer, type TestServer } from './server.ts';

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

export interface AdminSession {
  server: TestServer;
  admin: WatchedPage;
}

/**
 * One server and one logged-in administrator (PC viewport, confirm() dialogs accepted) for a file of admin page
 * tests, which then run one after another; closed after the last. Read `session.server` / `session.admin`
 * inside the tests (they are set by test.before).
 */
export function adminSession(test: TestFn): AdminSession {
  const session = {} as AdminSession;
  let close: (() => Promise<void>) | undefined;
  test.before(async () => {
    await ensureWebBuild();
    session.server = await startTestServer('pglite');
    const launched = await launchBrowser();
    close = launched.close;
    session.admin = await openPage(launched.browser, session.server.url, PC);
    acceptDialogs(session.admin.page);
    await adminLogin(session.admin.page, session.server.url);
  });
  test.after.always(async () => {
    await close?.();
    await session.server?.close();
  });
  return session;
}
