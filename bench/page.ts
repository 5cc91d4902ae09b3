import type { CDPSession, Page } from 'playwright-core';
import { ensureWebBuild, launchBrowser } from '../test/helpers/browser.ts';
import { newVisitor } from '../test/helpers/flow.ts';
import { startTestServer } from '../test/helpers/server.ts';

/**
 * The visitor application page on a phone under slow 4G (1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip)
 * and a 4x slower CPU: bytes on the wire, first paint, and the time until the form takes typing, for a first
 * visit (empty cache) and a repeat visit (same browser profile). Targets: first paint <= 1 s, interactive
 * <= 3 s first and <= 1 s repeat.
 */
const TARGETS = { firstPaint: 1000, firstInteractive: 3000, repeatInteractive: 1000 };
const RUNS = Number(process.env.BENCH_PAGE_RUNS ?? 3);

interface Sample {
  bytes: number;
  requests: number;
  firstPaint: number;
  interactive: number;
}

async function throttle(cdp: CDPSession) {
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
}

async function visit(page: Page, cdp: CDPSession, url: string): Promise<Sample> {
  let bytes = 0;
  let requests = 0;
  const onDone = (e: { encodedDataLength: number }) => {
    bytes += e.encodedDataLength;
    requests++;
  };
  cdp.on('Network.loadingFinished', onDone);
  await page.goto(url, { waitUntil: 'commit' });
  // The page marks nothing for us: poll for an enabled host-name input, then prove it takes a keystroke.
  await page.waitForSelector('.formio-component-hostName input:not([disabled])', { timeout: 60_000 });
  const interactive = await page.evaluate(() => performance.now());
  await page.type('.formio-component-hostName input', '王');
  if ((await page.inputValue('.formio-component-hostName input')) !== '王') throw new Error('the form did not take typing');
  const firstPaint = await page.evaluate(() => performance.getEntriesByName('first-paint')[0]?.startTime ?? Number.NaN);
  await page.waitForLoadState('networkidle');
  cdp.off('Network.loadingFinished', onDone);
  return { bytes, requests, firstPaint, interactive };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number) => `${Math.round(ms)} ms`;

export async function run() {
  await ensureWebBuild();
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  const first: Sample[] = [];
  const repeat: Sample[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const { client } = await newVisitor(server);
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' });
      const host = new URL(server.url).hostname;
      await context.addCookies(
        ['vf_visitor', 'vf_csrf'].map((name) => ({ name, value: client.cookie(name)!, domain: host, path: '/' })),
      );
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await throttle(cdp);
      // Each visit starts from a sessionStorage without a draft, as a new visitor would.
      first.push(await visit(page, cdp, `${server.url}/#/apply`));
      await page.evaluate(() => sessionStorage.clear());
      await page.goto('about:blank');
      repeat.push(await visit(page, cdp, `${server.url}/#/apply`));
      await context.close();
    }
  } finally {
    await close();
    await server.close();
  }
  const row = (name: string, s: Sample[], target: number) => {
    const fp = median(s.map((x) => x.firstPaint));
    const ti = median(s.map((x) => x.interactive));
    const kib = median(s.map((x) => x.bytes)) / 1024;
    console.log(
      `${name.padEnd(7)} ${kib.toFixed(0).padStart(5)} KiB on the wire in ${median(s.map((x) => x.requests))} requests; first paint ${fmt(fp)} (target ${fmt(TARGETS.firstPaint)}) ${fp <= TARGETS.firstPaint ? 'ok' : 'MISSED'}; form takes typing ${fmt(ti)} (target ${fmt(target)}) ${ti <= target ? 'ok' : 'MISSED'}`,
    );
  };
  console.log(`visitor application page, slow 4G (1.6 Mbit/s, 150 ms RTT) + 4x CPU, median of ${RUNS}`);
  row('first', first, TARGETS.firstInteractive);
  row('repeat', repeat, TARGETS.repeatInteractive);
}
