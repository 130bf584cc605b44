// A VIEWER sees every page and no action: no button or link that would change something.
import { api, runFlow, signIn, unique } from './lib/harness.mjs';

/** Names of controls that change state; none may show for a viewer. */
const actions = [
  'Detach', 'Edit labels', 'Take snapshot now', 'Open restore session', 'Close', 'New policy', 'Pause', 'Resume',
  'Edit', 'Delete…', 'Verify', 'Restore…', 'Create token', 'Start migration', 'Cancel migration', 'Create policy', 'Save policy',
];

await runFlow('viewer', async ({ page, step, screenshot }) => {
  const issued = await api('POST', '/api/v1/tokens', { name: unique('ui-viewer'), role: 'VIEWER' });
  const regions = await api('GET', '/api/v1/regions?size=1');
  const policies = await api('GET', '/api/v1/snapshot-policies');
  const snapshots = await api('GET', '/api/v1/snapshots?size=1');

  async function noActions(where) {
    await page.getByRole('main').getByRole('heading', { level: 1 }).first().waitFor();
    // Let queries settle, so a button that would appear once data arrived is caught. (Not
    // 'networkidle': the event stream keeps a request open for good.)
    await page.waitForTimeout(1500);
    for (const name of actions) {
      const count = await page.getByRole('button', { name, exact: true }).count() + (await page.getByRole('link', { name, exact: true }).count());
      if (count) throw new Error(`${where}: a viewer sees "${name}"`);
    }
  }

  await step('sign in as a viewer', () => signIn(page, issued.token));
  await step('the header says VIEWER and offers no tokens page', async () => {
    await page.getByRole('banner').getByText('VIEWER', { exact: true }).waitFor();
    if (await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).count()) throw new Error('a viewer sees Tokens');
  });
  const pages = [
    ['overview', '/'],
    ['regions', '/regions'],
    ['restores', '/restores'],
    ['snapshots', '/snapshots'],
    ['policies', '/policies'],
    ['migrations', '/migrations'],
  ];
  if (regions.items[0]) pages.push(['region', `/regions/${regions.items[0].id}`]);
  if (policies[0]) pages.push(['policy', `/policies/${policies[0].id}`]);
  if (snapshots.items[0]) pages.push(['snapshot', `/snapshots/${snapshots.items[0].id}`]);
  for (const [label, path] of pages) {
    await step(`${label}: no action buttons`, async () => {
      await page.goto(path);
      await noActions(label);
      if (label === 'migrations') await screenshot('migrations');
    });
  }
  await step('screenshot as a viewer', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Host overview' }).waitFor();
    await screenshot('viewer-overview');
  });
});
