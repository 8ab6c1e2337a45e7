// What every Chromium journey needs, in one place: Debian's chromium with
// a CSP-violation listener, console and page errors collected, and
// `visit(name)`, which checks a page at 360 px and 1280 px (axe-core
// serious/critical, no sideways scroll, one h1, the page's language) and
// keeps a 360 px screenshot when ANSHIN_SCREENSHOTS names a directory.
// Older specs still carry their own copy of this; new ones import it.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const WIDTHS = [360, 1280];

/** Starts the browser for a journey in `lang`; `prefix` names its screenshots. */
export async function journey({ lang, prefix }) {
  const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    console.error(`chromium not found at ${executablePath}: run scripts/setup --test`);
    process.exit(2);
  }
  const problems = [];
  const checks = [];
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic'],
  });
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    locale: lang === 'ja' ? 'ja-JP' : 'en-US',
    viewport: { width: 360, height: 800 },
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));

  let pages = 0;
  async function visit(name) {
    pages += 1;
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      const where = `${name} @${width}px (${new URL(page.url()).pathname})`;
      const facts = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        h1: document.querySelectorAll('h1').length,
        lang: document.documentElement.lang,
      }));
      if (facts.scrollWidth > facts.innerWidth) problems.push(`${where}: scrolls sideways (${facts.scrollWidth} > ${facts.innerWidth})`);
      if (facts.h1 !== 1) problems.push(`${where}: ${facts.h1} h1 elements`);
      if (facts.lang !== lang) problems.push(`${where}: html lang="${facts.lang}"`);
      if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
      const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
      for (const v of result.violations) {
        if (v.impact === 'serious' || v.impact === 'critical') {
          const targets = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ');
          problems.push(`${where}: axe ${v.impact} ${v.id}: ${v.help} [${targets}]`);
        }
      }
      checks.push({ page: name, width, violations: result.violations.length });
      if (process.env.ANSHIN_SCREENSHOTS && width === 360) {
        const file = `${prefix}-${lang}-${String(pages).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`;
        await page.screenshot({ path: join(process.env.ANSHIN_SCREENSHOTS, file), fullPage: true });
      }
    }
    await page.setViewportSize({ width: 360, height: 800 });
  }

  /** Notes a problem unless the page's main text holds `text`. */
  async function says(text, after) {
    const got = (await page.locator('main').textContent()) || '';
    if (!text || !got.includes(text)) problems.push(`after ${after} on ${page.url()}: want "${text}"`);
  }

  /** Clicks the first match of `selector` and waits for the next page. */
  async function submit(selector) {
    await Promise.all([page.waitForNavigation(), page.locator(selector).first().click()]);
  }

  return { browser, context, page, problems, checks, visit, says, submit, pages: () => pages };
}
