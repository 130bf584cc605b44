// Runs one smoke flow in Debian's Chromium against a running Faultline service.
//
// Environment (the JUnit test dev.faultline.ui.UiSmokeTest sets it):
//   FAULTLINE_URL          the service, e.g. http://localhost:8080
//   FAULTLINE_TOKEN        an ADMIN token
//   FAULTLINE_SCREENSHOTS  where each page's screenshot goes (default ../target/ui-screenshots)
//   CHROMIUM               the browser binary (default /usr/bin/chromium); never downloaded
// A flow is `runFlow(name, async (t) => { ... })`; it exits 0 when every step passed, and 1
// with the failing step, a screenshot and the page's console errors otherwise.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));

export const env = {
  url: required('FAULTLINE_URL').replace(/\/+$/, ''),
  token: required('FAULTLINE_TOKEN'),
  screenshots: resolve(process.env.FAULTLINE_SCREENSHOTS ?? join(here, '..', '..', '..', 'target', 'ui-screenshots')),
  chromium: process.env.CHROMIUM ?? '/usr/bin/chromium',
};

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; run this flow through UiSmokeTest or set it by hand`);
    process.exit(2);
  }
  return value;
}

/** Chromium as the brief fixes it: headless, no sandbox (containers), nothing fetched from the network. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

export async function runFlow(name, flow) {
  mkdirSync(env.screenshots, { recursive: true });
  // A fresh profile each run (Playwright passes it to Chromium as --user-data-dir).
  const profile = mkdtempSync(join(tmpdir(), 'faultline-ui-'));
  const problems = [];
  let context;
  let page;
  let current = 'launch';
  const started = Date.now();
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: env.chromium,
      headless: true,
      args: chromiumArgs,
      viewport: { width: 1366, height: 768 },
      baseURL: env.url,
      timeout: 30_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));

    const t = {
      page,
      context,
      env,
      async step(title, body) {
        current = title;
        const at = Date.now();
        const result = await body();
        console.log(`  ✓ ${title} (${Date.now() - at} ms)`);
        return result;
      },
      async screenshot(file) {
        const path = join(env.screenshots, `${file}.png`);
        await page.screenshot({ path, fullPage: true });
        console.log(`    screenshot ${path}`);
      },
    };
    console.log(`flow ${name}`);
    await flow(t);
    const pageErrors = problems.filter((p) => p.startsWith('page error'));
    if (pageErrors.length) throw new Error(`the page threw: ${pageErrors.join('; ')}`);
    console.log(`flow ${name}: passed in ${Date.now() - started} ms`);
    console.log('1 passed, 0 failed');
  } catch (error) {
    console.error(`  ✗ ${current}: ${error instanceof Error ? error.stack ?? error.message : error}`);
    if (page) {
      const path = join(env.screenshots, `${name}-failure.png`);
      await page.screenshot({ path, fullPage: true }).catch(() => {});
      console.error(`    failure screenshot ${path}; page at ${page.url()}`);
    }
    for (const problem of problems) console.error(`    ${problem}`);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  } finally {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Calls the API directly, for setup a flow is not about (a viewer token, say). */
export async function api(method, path, body, token = env.token) {
  const response = await fetch(`${env.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Signs in through the form, as a person would, and waits for the overview. */
export async function signIn(page, token = env.token) {
  await page.goto('/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Host overview' }).waitFor();
}

/** Goes to a page through the main navigation: client-side, no reload. */
export async function navigate(page, label) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
}

export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}
