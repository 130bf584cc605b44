// Sign in with a token; the overview shows the agent READY and the stream live.
import { runFlow, signIn } from './lib/harness.mjs';

await runFlow('sign-in', async ({ page, step, screenshot }) => {
  await step('the sign-in page asks for a token', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot('sign-in');
  });
  await step('a wrong token is refused with the service’s words', async () => {
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Could not sign in' }).waitFor();
  });
  await step('the admin token opens the overview', () => signIn(page));
  await step('the overview shows the agent READY', async () => {
    const agent = page.getByRole('region', { name: 'Agent' });
    await agent.getByText(/^(State: )?READY$/).waitFor();
  });
  await step('the event stream is live', async () => {
    await page.locator('[data-stream-state="open"]').waitFor();
  });
  await step('totals and recent events are shown', async () => {
    await page.getByText('Regions attached').waitFor();
    await page.getByRole('region', { name: 'Recent events' }).waitFor();
    await screenshot('overview');
  });
  await step('the overview reads in dark mode too', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByRole('region', { name: 'Agent' }).waitFor();
    await screenshot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });
});
