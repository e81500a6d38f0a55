/**
 * Resources in a real JupyterLab: open a notebook, pick a profile, apply it, and see the kernel
 * restart inside the new limits with live usage bars.
 */
import { expect, test } from '@jupyterlab/galata';

import { ResourcesSectionPage } from './pages/resources';

test.describe('labrig resources', () => {
  test('apply a profile: the kernel restarts with the new limits and live bars', async ({
    page
  }) => {
    test.setTimeout(180_000);
    await page.notebook.createNew();
    await page.notebook.setCell(
      0,
      'code',
      'import os; print("cpus", len(os.sched_getaffinity(0)))'
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('cpus');

    const resources = new ResourcesSectionPage(page);
    await resources.open();
    await expect(resources.view).toContainText('Untitled.ipynb');
    await expect(resources.now).toContainText('Server defaults (no request saved)');
    await expect(resources.bar('memory')).toContainText('(no limit)');

    await resources.form.getByLabel('Profile').selectOption('small');
    await expect(resources.form).toContainText('1 CPU, 2 GiB memory, 5 GiB scratch');
    await resources.form.getByRole('button', { name: 'Apply' }).click();

    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Its state will be lost');
    await dialog.getByRole('button', { name: 'Restart kernel' }).click();

    await expect(resources.view.getByRole('status')).toHaveText(
      'Applied: 1 kernel restarted with the new resources.'
    );
    await expect(resources.now).toContainText('small · 1 CPU · 2 GiB memory · 5 GiB scratch');
    await expect(resources.now).toContainText('kernel running');
    await expect(resources.bar('cpu')).toContainText('of 1 CPU');
    await expect(resources.bar('memory')).toContainText(/\d+(\.\d)? MiB of 2 GiB/);
    await expect(resources.bar('memory').getByRole('meter')).toHaveAttribute(
      'aria-valuenow',
      /^[1-9]\d*$/
    );
    for (const name of ['cpu', 'memory', 'disk'] as const) {
      await expect(resources.bar(name).getByTestId('labrig-enforcement')).toHaveText(
        /^(enforced|advisory)$/
      );
    }

    // The restarted kernel is inside the limit: one CPU.
    await page.notebook.activate('Untitled.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      'import os; print("cpus", len(os.sched_getaffinity(0)))'
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output').first()).toHaveText('cpus 1');
  });

  test('a kernel past its memory limit is stopped and the user is told why', async ({ page }) => {
    test.setTimeout(180_000);
    await page.notebook.createNew();
    const resources = new ResourcesSectionPage(page);
    await resources.open();
    await resources.form.getByLabel('Profile').selectOption('custom');
    await resources.form.getByLabel('Memory').fill('300Mi');
    await resources.form.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.jp-Dialog').getByRole('button', { name: 'Restart kernel' }).click();
    await expect(resources.view.getByRole('status')).toHaveText(
      'Applied: 1 kernel restarted with the new resources.'
    );
    await expect(resources.bar('memory')).toContainText('of 300 MiB');

    await page.notebook.activate('Untitled.ipynb');
    await page.notebook.setCell(0, 'code', 'x = bytearray(900 * 2**20)');
    // The cell never finishes (its kernel is stopped), so run it without waiting for it.
    await page.evaluate(async () => {
      await (window as any).jupyterapp.commands.execute('notebook:run-cell');
    });

    const message = 'kernel stopped: memory limit 300 MiB reached';
    await expect(page.locator('.Toastify__toast').filter({ hasText: message })).toBeVisible({
      timeout: 60_000
    });
    await expect(resources.view.getByTestId('labrig-resources-stop')).toHaveText(message, {
      timeout: 15_000
    });
  });
});
