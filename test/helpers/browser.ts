import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jsQRImport from 'jsqr';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const distIndex = path.join(repo, 'dist/web/index.html');
export const screenshotDir = path.join(repo, 'test-artifacts/screenshots');

function newestMtime(p: string): number {
  const s = fs.statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...fs.readdirSync(p).map((e) => newestMtime(path.join(p, e))));
}

function stale(): boolean {
  if (!fs.existsSync(distIndex)) return true;
  const built = fs.statSync(distIndex).mtimeMs;
  return newestMtime(path.join(repo, 'web')) > built || newestMtime(path.join(repo, 'vite.config.ts')) > built;
}

/**
 * Builds dist/web once per run when it is missing or older than web/. ava runs test files in parallel
 * processes: a directory made with mkdir is the lock (atomic), the others wait for it to go away.
 */
export async function ensureWebBuild(): Promise<void> {
  if (!stale()) return;
  const lock = path.join(repo, 'dist/.web-build.lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (let waited = 0; ; waited += 200) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // A lock older than five minutes belongs to a killed run.
      if (waited > 300_000 || Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 300_000) fs.rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
      if (!stale()) return;
    }
  }
  try {
    if (stale()) execFileSync(path.join(repo, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: repo, stdio: 'inherit' });
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  // playwright refuses --user-data-dir with launch(); it gives every launch a fresh temporary profile itself
  // (contexts are then isolated cookie jars: one per person in a test).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
    },
  };
}

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const PC = { viewport: { width: 1366, height: 900 } };

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Requests that left the origin (must stay empty: campus intranets have no internet). */
  foreign: string[];
  /** Console errors and uncaught page errors (CSP violations show up here). */
  errors: string[];
}

export async function openPage(browser: Browser, origin: string, device: typeof PHONE | typeof PC = PHONE): Promise<WatchedPage> {
  const context = await browser.newContext({ ...device, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  const foreign: string[] = [];
  const errors: string[] = [];
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  page.setDefaultTimeout(15_000);
  return { context, page, foreign, errors };
}

export async function shot(page: Page, name: string) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
}

/** Picks an option in a Form.io choices.js select by its label. */
export async function pickChoice(page: Page, key: string, label: string) {
  await page.click(`.formio-component-${key} .choices`);
  await page.click(`.formio-component-${key} .choices__list--dropdown .choices__item--choice:has-text("${label}")`);
}

export interface VisitorIdentity {
  name: string;
  organisation: string;
  idNumber: string;
  mobile: string;
}

/** Registration through the landing page; ends on the application form. */
export async function registerVisitor(page: Page, origin: string, who: VisitorIdentity, shots?: string) {
  await page.goto(`${origin}/`);
  await page.getByRole('link', { name: '首次使用：访客登记' }).click();
  await page.fill('#f-name', who.name);
  await page.fill('#f-organisation', who.organisation);
  await page.fill('#f-idNumber', who.idNumber);
  await page.fill('#f-mobile', who.mobile);
  if (shots) await shot(page, shots);
  await page.click('button[type=submit]');
}

/** Fills the default application form: 主校区 / 计算机学院, host 王老师, the given day 09:00-11:00. */
export async function fillApplication(page: Page, options: { visitDate?: string; attachment?: Buffer; remark?: string } = {}) {
  await page.waitForSelector('.formio-component-campusId .choices');
  await pickChoice(page, 'campusId', '主校区');
  await pickChoice(page, 'departmentId', '计算机学院');
  await page.fill('.formio-component-hostName input', '王老师');
  await page.fill('.formio-component-hostMobile input', '13800001000');
  const date = page.locator('.formio-component-visitDate input:not([type=hidden])').last();
  await date.fill(options.visitDate ?? '2026-12-03');
  await date.press('Enter');
  await page.fill('.formio-component-visitStartTime input', '09:00');
  await page.fill('.formio-component-visitEndTime input', '11:00');
  if (options.remark) await page.fill('.formio-component-remark textarea', options.remark);
  if (options.attachment) {
    // Form.io creates its file input on document.body when "browse" is clicked.
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('.formio-component-attachments a.browse')]);
    await chooser.setFiles({ name: '健康码.png', mimeType: 'image/png', buffer: options.attachment });
    await page.waitForSelector('.formio-component-attachments a[href*="/api/uploads/"], .formio-component-attachments .file a');
  }
}

export async function staffLogin(page: Page, origin: string, path: '/staff/' | '/gate/', username: string) {
  await page.goto(`${origin}${path}`);
  await page.waitForSelector('#f-username');
  await page.fill('#f-username', username);
  await page.fill('#f-password', 'Demo@2026');
  await page.click('button[type=submit]');
}

/** Opens the task of a flow number from "my tasks", decides, and waits for the list to come back. */
export async function decideTask(
  page: Page,
  flowNumber: string,
  decision: '同意' | '否决',
  options: { opinion?: string; stockOpinion?: string; leader?: string; shotName?: string } = {},
) {
  await page.click(`tr[data-flow="${flowNumber}"] a.btn`);
  await page.waitForSelector('.formio-component-opinion textarea');
  if (options.stockOpinion) await page.click(`#stock-opinions button:has-text("${options.stockOpinion}")`);
  if (options.opinion) await page.fill('.formio-component-opinion textarea', options.opinion);
  await page.click(`.formio-component-decision label:has-text("${decision}")`);
  if (options.leader) await pickChoice(page, 'leaderStaffId', options.leader);
  if (options.shotName) await shot(page, options.shotName);
  await page.click('.formio-component-submit button');
  await page.waitForSelector('#task-filters');
}

// jsqr is CommonJS with an ES-style default export: whichever shape the loader hands over.
export const jsQR = ((jsQRImport as any).default ?? jsQRImport) as (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;

/** Every page stayed on the origin (no CDN, no beacon) and met no Content Security Policy refusal. */
export function offOrigin(t: any, pages: WatchedPage[]) {
  for (const p of pages) {
    t.deepEqual(p.foreign, [], 'no request leaves the origin');
    t.deepEqual(
      p.errors.filter((e) => /Content Security Policy|EvalError|Refused to/i.test(e)),
      [],
      'no CSP violation',
    );
  }
}
