// Tokens page (admin): create a token, see its secret once with a copy button, find it in the
// list, revoke it.
import { navigate, runFlow, signIn, unique } from './lib/harness.mjs';

await runFlow('tokens', async ({ page, step, screenshot }) => {
  const name = unique('ui-token');
  await step('sign in', () => signIn(page));
  await step('open the tokens page from the navigation', async () => {
    await navigate(page, 'Tokens');
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
  });
  await step('create a VIEWER token and see its secret once', async () => {
    const form = page.getByRole('form', { name: 'New token' });
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Role').selectOption('VIEWER');
    await form.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.getByTestId('issued-secret').textContent();
    if (!secret || secret.length < 16) throw new Error(`no secret shown: ${secret}`);
    await page.getByRole('button', { name: 'Copy token secret' }).waitFor();
    await page.getByRole('row', { name: new RegExp(name) }).waitFor();
    await screenshot('tokens');
    await page.getByRole('button', { name: /hide the secret/ }).click();
    if (await page.getByText(secret).count()) throw new Error('the secret is still on the page');
  });
  await step('revoke it with a confirmation', async () => {
    await page.getByRole('button', { name: `Revoke token ${name}` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('row', { name: new RegExp(name) }).waitFor({ state: 'detached' });
  });
});
