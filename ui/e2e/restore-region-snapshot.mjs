// The lazy-restore path an operator follows on a second screen: open a restore session in the
// UI, start the demo workload on the socket the page shows, watch its region appear without a
// reload, open it and see live statistics, then take a snapshot and watch it complete.
//
// Extra environment: FAULTLINE_DEMO (native-agent/build/faultline-demo), FAULTLINE_IMAGE (an
// image inside the service's image directory, made by `faultline-demo make-image`) and
// FAULTLINE_IMAGE_SIZE (its size as the demo takes it, e.g. 16M).
import { spawn } from 'node:child_process';

import { env, navigate, runFlow, signIn, unique } from './lib/harness.mjs';

const demo = process.env.FAULTLINE_DEMO;
const image = process.env.FAULTLINE_IMAGE;
const size = process.env.FAULTLINE_IMAGE_SIZE ?? '16M';
if (!demo || !image) {
  console.error('FAULTLINE_DEMO and FAULTLINE_IMAGE must be set');
  process.exit(2);
}

let workload;

await runFlow('restore-region-snapshot', async ({ page, step, screenshot }) => {
  await step('sign in', () => signIn(page));

  let name = unique('ui-demo');
  const socket = await step('open a restore session in the UI and read its socket', async () => {
    await navigate(page, 'Restores');
    // The created session's panel replaces the form inside this card; the list below may hold
    // other sessions' sockets, so never read it from there.
    const card = page.getByRole('region', { name: 'New restore session' });
    const form = card.getByRole('form', { name: 'New restore session' });
    // The defaults the service documents are pre-filled.
    if ((await form.getByLabel('Fault-around pages').inputValue()) !== '16') throw new Error('fault-around default is not 16');
    for (let attempt = 1; ; attempt += 1) {
      await form.getByLabel('Image path').fill(image);
      await form.getByLabel('Name').fill(name);
      await form.getByLabel('Labels').fill('app=faultline-demo, flow=ui');
      await form.getByRole('button', { name: 'Open restore session' }).click();
      const shown = card.getByTestId('restore-socket');
      const refused = form.getByRole('alert');
      await shown.or(refused).waitFor();
      if (await shown.isVisible()) break;
      const text = await refused.textContent();
      // A known service race (reported, not the UI's): the 1 s restore sync can mark a session
      // FAILED while create still waits for the agent, and create then fails its optimistic
      // lock with a 500. The UI showed it readably; try once more so this flow tests the UI.
      if (attempt === 1 && text?.includes('HTTP 500')) {
        console.log(`    WARNING: POST /api/v1/restores answered 500 (${text.trim()}); known RestoreService.create/RestoreSync race, retrying once`);
        name = unique('ui-demo');
        continue;
      }
      throw new Error(`the service refused the session: ${text}`);
    }
    const socketText = await card.getByTestId('restore-socket').textContent();
    if (!socketText?.endsWith('.sock')) throw new Error(`no socket shown: ${socketText}`);
    await card.getByRole('button', { name: 'Copy socket path' }).waitFor();
    await screenshot('restores');
    return socketText;
  });

  await step('the regions page is open before the workload starts', async () => {
    await navigate(page, 'Regions');
    await page.getByRole('heading', { name: 'Regions', level: 1 }).waitFor();
    if (await page.getByRole('link', { name }).count()) throw new Error('the region exists before the workload started');
  });

  await step('start the demo workload on that socket', async () => {
    workload = spawn(demo, ['restore', '--socket', socket, '--size', size, '--pattern', 'random', '--hold', '--name', name], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    workload.stdout.on('data', (chunk) => process.stdout.write(`    [demo] ${chunk}`));
  });

  await step('its region appears without a reload', async () => {
    const marker = await page.evaluate(() => {
      window.__sameDocument = true;
      return true;
    });
    await page.getByRole('link', { name }).waitFor({ timeout: 30_000 });
    const same = await page.evaluate(() => window.__sameDocument === true);
    if (!marker || !same) throw new Error('the page was reloaded');
    await screenshot('regions');
  });

  await step('open the region and see its geometry and live statistics', async () => {
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(name) }).waitFor();
    await page.getByRole('region', { name: 'Geometry' }).getByText(/^0x[0-9a-f]+$/).first().waitFor();
    const pages = page.getByRole('progressbar', { name: 'Pages present' });
    await pages.waitFor();
    await page.getByRole('region', { name: 'Faults, live' }).getByText(/missing/).waitFor();
    const installed = page.getByRole('region', { name: 'Pages' });
    await installed.getByText('demand').waitFor();
    // Two samples make a rate: the fault-rate chart leaves its waiting state.
    await page.getByRole('img', { name: /Fault rate, latest/ }).waitFor({ timeout: 15_000 });
    await screenshot('region');
  });

  await step('take a snapshot from the region page and watch it complete', async () => {
    await page.getByRole('button', { name: 'Take snapshot now' }).click();
    const job = page.getByTestId('snapshot-job');
    await job.waitFor();
    await page.locator('[data-testid="snapshot-job"][data-state="COMPLETED"], [data-testid="snapshot-job"][data-state="FAILED"]').waitFor({ timeout: 30_000 });
    const state = await job.getAttribute('data-state');
    const text = await job.textContent();
    if (!text?.includes(state)) throw new Error(`the job's state ${state} is not shown: ${text}`);
    if (state !== 'COMPLETED') {
      const reason = await page.getByTestId('snapshot-job-error').textContent();
      throw new Error(`the snapshot ended ${state}: ${reason}`);
    }
    await screenshot('region-snapshot-taken');
  });

  await step('the snapshot page shows it', async () => {
    await page.getByTestId('snapshot-job').getByRole('link').first().click();
    await page.getByRole('heading', { level: 1, name: /Snapshot/ }).waitFor();
    await page.getByRole('region', { name: 'Operations' }).waitFor();
    await screenshot('snapshot');
    await navigate(page, 'Snapshots');
    await page.getByRole('table', { name: 'Snapshots' }).waitFor();
    await screenshot('snapshots');
  });
  console.log(`    (service ${env.url})`);
});

workload?.kill('SIGTERM');
