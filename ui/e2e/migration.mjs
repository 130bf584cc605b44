// A live migration as an operator drives it from the UI: a workload writes on node-a, the
// operator starts a migration to node-b with manual postcopy, watches precopy, switches over,
// starts the destination workload on the socket the page shows and sees the job complete with
// its statistics. Needs the agent side of migrations (faultline-demo mig-source / mig-dest).
//
// Extra environment: FAULTLINE_DEMO (native-agent/build/faultline-demo), FAULTLINE_HANDOFF (the
// handoff socket of node-a's agent) and FAULTLINE_DUMP (a file the destination workload may write).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { api, navigate, runFlow, signIn, unique } from './lib/harness.mjs';

const demo = process.env.FAULTLINE_DEMO;
const handoff = process.env.FAULTLINE_HANDOFF;
const dump = process.env.FAULTLINE_DUMP;
if (!demo || !handoff || !dump) {
  console.error('FAULTLINE_DEMO, FAULTLINE_HANDOFF and FAULTLINE_DUMP must be set');
  process.exit(2);
}

const children = [];

/** Starts a demo workload; resolves with its first output line that contains {@code text}. */
function start(args, text) {
  const child = spawn(demo, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      console.log(`    [demo ${args[0]}] ${line}`);
      if (line.includes(text)) resolve({ child, line: JSON.parse(line) });
    });
    child.on('exit', (code) => reject(new Error(`faultline-demo ${args[0]} exited (${code}) before printing ${text}`)));
  });
}

await runFlow('migration', async ({ page, step, screenshot }) => {
  await step('sign in', () => signIn(page));

  const name = unique('ui-mig');
  const source = await step('a workload writes to a region on node-a', async () => {
    const { line } = await start(['mig-source', '--socket', handoff, '--size', '16M', '--name', name, '--threads', '1'], 'region_id');
    for (let i = 0; ; i += 1) {
      try {
        await api('GET', `/api/v1/regions/${line.region_id}`);
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return line.region_id;
  });

  await step('start a migration to node-b with manual postcopy', async () => {
    await navigate(page, 'Migrations');
    const form = page.getByRole('form', { name: 'Start a migration' });
    await form.getByLabel('Region').selectOption(source);
    if ((await form.getByLabel('Destination node').inputValue()) !== 'node-b') throw new Error('node-b is not offered as the destination');
    await form.getByLabel('Bandwidth limit (bytes/s)').fill(String(8 << 20));
    await form.getByLabel('Postcopy', { exact: true }).selectOption('manual');
    await screenshot('migration-start');
    await form.getByRole('button', { name: 'Start migration' }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(`${name}: node-a → node-b`) }).waitFor();
  });

  await step('precopy runs, then the operator switches over', async () => {
    await page.getByRole('heading', { level: 1, name: /PRECOPY/ }).waitFor({ timeout: 30_000 });
    await screenshot('migration-precopy');
    await page.getByRole('button', { name: 'Start postcopy now' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Start postcopy' }).click();
    await page.getByRole('heading', { level: 1, name: /SWITCHOVER|POSTCOPY|COMPLETED/ }).waitFor({ timeout: 30_000 });
  });

  await step('the destination workload attaches on the socket the page shows', async () => {
    const socket = (await page.getByTestId('destination-socket').textContent())?.trim();
    if (!socket?.endsWith('.sock')) throw new Error(`no destination socket shown: ${socket}`);
    await start(['mig-dest', '--socket', socket, '--size', '16M', '--name', name, '--dump', dump, '--mark', '4'], 'dumped');
  });

  await step('the job completes and keeps its statistics', async () => {
    await page.getByRole('heading', { level: 1, name: /COMPLETED/ }).waitFor({ timeout: 30_000 });
    await page.getByRole('link', { name: 'destination region' }).waitFor({ timeout: 10_000 });
    const downtime = page.locator('dt', { hasText: /^Downtime$/ }).locator('..');
    if ((await downtime.textContent())?.includes('—')) throw new Error('no downtime shown');
    await screenshot('migration-completed');
    await navigate(page, 'Migrations');
    await page.getByRole('link', { name: new RegExp(name) }).first().waitFor();
    await screenshot('migrations');
  });
});

for (const child of children) {
  child.stdin.write('exit\n');
  child.kill('SIGTERM');
}
