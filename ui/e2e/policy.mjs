// Create a snapshot policy: the form shows the next runs while the schedule is typed, and the
// saved policy's page shows the service's own next runs and its retention dry run.
import { navigate, runFlow, signIn, unique } from './lib/harness.mjs';

await runFlow('policy', async ({ page, step, screenshot }) => {
  const name = unique('ui-policy');
  await step('sign in', () => signIn(page));
  await step('open the new-policy form', async () => {
    await navigate(page, 'Policies');
    await page.getByRole('link', { name: 'New policy' }).click();
    await page.getByRole('heading', { name: 'New snapshot policy' }).waitFor();
  });
  const form = page.getByRole('form', { name: 'New snapshot policy' });
  await step('a schedule the service refuses is explained next to its field', async () => {
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Label selector').fill('app=faultline-demo');
    await form.getByLabel('Schedule (cron)').fill('0 0 31 2 *');
    await form.getByLabel('Time zone').fill('Europe/Berlin');
    await form.getByText('This schedule never fires in the next years.').waitFor();
    await form.getByLabel('Max age').fill('forever');
    await form.getByRole('button', { name: 'Create policy' }).click();
    await form.getByText(/must be a duration/).waitFor();
  });
  await step('the next five runs show in the chosen zone while typing', async () => {
    await form.getByLabel('Max age').fill('P30D');
    await form.getByLabel('Schedule (cron)').fill('30 2 * * *');
    const runs = form.getByRole('list', { name: 'Next runs' }).getByRole('listitem');
    await runs.first().waitFor();
    if ((await runs.count()) !== 5) throw new Error(`expected 5 next runs, saw ${await runs.count()}`);
    await form.getByLabel('Keep last').fill('3');
    await form.getByLabel('Daily').fill('7');
    await screenshot('policy-form');
  });
  await step('save it and see the service’s next runs and retention dry run', async () => {
    await form.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { level: 1, name: new RegExp(name) }).waitFor();
    const runs = page.getByRole('list', { name: 'Next runs from the service' }).getByRole('listitem');
    await runs.first().waitFor();
    if ((await runs.count()) !== 5) throw new Error(`expected 5 next runs from the service, saw ${await runs.count()}`);
    await page.getByRole('region', { name: 'Retention today' }).getByText(/Would keep/).waitFor();
    await screenshot('policy');
  });
  await step('pause and resume it', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('paused', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByText('active', { exact: true }).waitFor();
  });
  await step('the list shows it', async () => {
    await navigate(page, 'Policies');
    await page.getByRole('link', { name }).waitFor();
    await screenshot('policies');
  });
});
