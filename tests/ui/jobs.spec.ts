/**
 * Run the example notebook as a 2-process job from the toolbar with an edited parameter,
 * watch its progress and logs, and open its output notebook.
 */
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import { LabrigPanelPage } from './pages/labrig-panel';
import { JobsPage } from './pages/jobs';

const EXAMPLES = path.resolve(__dirname, '..', '..', 'examples');

/** The example notebook reads the demo dataset `moons`, which `make run` defines. */
async function addDemoDataset(page: IJupyterLabPageFixture): Promise<void> {
  const response = await page.request.post('/labrig/api/v1/datasets', {
    data: {
      name: 'moons',
      source_url: pathToFileURL(path.join(EXAMPLES, 'data')).href + '/',
      include: '*.csv'
    }
  });
  // 409: an earlier test of this server added it.
  expect([201, 409]).toContain(response.status());
}

// The datasets spec expects the catalog it finds to be empty.
test.afterEach(async ({ page }) => {
  const response = await page.request.delete('/labrig/api/v1/datasets/moons');
  expect([204, 404]).toContain(response.status());
});

test.use({ autoGoto: true });

test('Run as job: edited parameter, 2 processes, progress, logs, output notebook', async ({
  page
}) => {
  test.setTimeout(240 * 1000);
  await addDemoDataset(page);
  const notebook = fs.readFileSync(path.join(EXAMPLES, 'train_moons.ipynb'), 'utf-8');
  expect(await page.contents.uploadContent(notebook, 'text', 'train_moons.ipynb')).toBe(true);
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', {
      path: 'train_moons.ipynb'
    });
  });
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').first()).toBeVisible();
  await page.locator('.jp-NotebookPanel-toolbar .labrig-run-as-job').click();

  const jobs = new JobsPage(page);
  await expect(jobs.parameter('epochs')).toHaveValue('60');
  // A wrong type is refused in the form, naming the parameter.
  await jobs.parameter('epochs').fill('sixty');
  await jobs.parameter('epochs').press('Enter');
  await expect(jobs.form.getByTestId('labrig-error-parameters.epochs')).toContainText(
    'whole number'
  );
  await jobs.parameter('epochs').fill('7');
  await jobs.field('procs_per_node').fill('2');
  await jobs.field('name').fill('moons-ui');
  await jobs.field('name').press('Enter');

  await expect(jobs.view).toBeVisible();
  await expect(jobs.rankBars).toHaveCount(2);
  await expect(jobs.status).toHaveText('succeeded', { timeout: 180 * 1000 });
  await expect(jobs.log).toContainText('epoch   6');
  await expect(jobs.log).toContainText('test accuracy');
  for (const bar of await jobs.rankBars.all()) {
    expect(await bar.getAttribute('value')).toBe(await bar.getAttribute('max'));
  }
  await jobs.logRank.selectOption('1');
  await expect(jobs.log).toContainText('test accuracy');

  await jobs.view.getByTestId('labrig-open-output').click();
  await expect(
    page.locator('.jp-NotebookPanel .jp-Cell').filter({ hasText: 'epochs = 7' }).first()
  ).toBeVisible();
});

test('Run as Job from the file browser context menu opens the typed form', async ({
  page,
  tmpPath
}) => {
  const notebook = fs.readFileSync(path.join(EXAMPLES, 'train_moons.ipynb'), 'utf-8');
  expect(await page.contents.uploadContent(notebook, 'text', `${tmpPath}/menu_moons.ipynb`)).toBe(
    true
  );
  await page.filebrowser.refresh();
  await page.locator('.jp-DirListing-item', { hasText: 'menu_moons.ipynb' }).click({
    button: 'right'
  });
  await page.locator('.lm-Menu-item', { hasText: 'Run as Job' }).click();
  const jobs = new JobsPage(page);
  await expect(jobs.form).toContainText('menu_moons.ipynb as a job');
  await expect(jobs.parameter('lr')).toHaveValue('0.05');
});

test('Schedules in the panel: create, pause, resume, run now, delete', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(180 * 1000);
  await addDemoDataset(page);
  const notebook = fs.readFileSync(path.join(EXAMPLES, 'train_moons.ipynb'), 'utf-8');
  expect(await page.contents.uploadContent(notebook, 'text', `${tmpPath}/cron_moons.ipynb`)).toBe(
    true
  );
  await page.evaluate(async p => {
    await (window as any).jupyterapp.commands.execute('labrig:run-as-job', { path: p });
  }, `${tmpPath}/cron_moons.ipynb`);

  const jobs = new JobsPage(page);
  await expect(jobs.parameter('epochs')).toHaveValue('60');
  await jobs.parameter('epochs').fill('1');
  await jobs.field('name').fill('cron-ui');
  // An invalid cron expression is refused with the server's message, not JSON.
  await jobs.createSchedule('every day');
  await expect(jobs.form.getByTestId('labrig-error-cron')).toContainText('5-field cron');
  await expect(jobs.form.getByTestId('labrig-error-cron')).not.toContainText('{');
  await jobs.createSchedule('0 3 * * *');
  await expect(jobs.form).toHaveCount(0);

  const panel = new LabrigPanelPage(page);
  await panel.open();
  const row = jobs.schedule('cron-ui');
  await expect(row).toBeVisible();
  await expect(row).toContainText('0 3 * * *');
  await expect(row).toContainText('cron_moons.ipynb');
  await expect(row.getByTestId('labrig-schedule-next')).toContainText('next');
  await expect(row.getByTestId('labrig-schedule-last')).toHaveText('not run on schedule yet');

  await jobs.scheduleAction('cron-ui', 'Pause').click();
  await expect(row.getByTestId('labrig-schedule-next')).toHaveText('paused');
  await expect(jobs.scheduleAction('cron-ui', 'Resume')).toBeVisible();

  await jobs.scheduleAction('cron-ui', 'Resume').click();
  await expect(row.getByTestId('labrig-schedule-next')).toContainText('next');
  await expect(jobs.scheduleAction('cron-ui', 'Pause')).toBeVisible();

  const before = await jobs.jobRows.filter({ hasText: 'cron-ui' }).count();
  await jobs.scheduleAction('cron-ui', 'Run now').click();
  await expect(row.getByRole('status')).toContainText('Started job cron-ui');
  await expect(jobs.jobRows.filter({ hasText: 'cron-ui' })).toHaveCount(before + 1);

  await jobs.scheduleAction('cron-ui', 'Delete').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Delete the schedule "cron-ui"');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveCount(0);
  // Jobs the schedule started are kept.
  await expect(jobs.jobRows.filter({ hasText: 'cron-ui' })).toHaveCount(before + 1);
});
