/**
 * The research loop end to end, as a new user does it in the demo workspace of `make run`
 * (its own server: jupyter_server_test_config.py with LABRIG_UI_WORKSPACE=demo):
 *
 * open the example notebook -> 1 CPU / 2 GiB for its kernel -> mount the demo dataset -> run
 * the cells and see the loss -> Run as job with 2 processes and another learning rate -> watch
 * each rank's progress and log -> a notification says it succeeded -> it registered
 * demo-model v1 -> the version's metrics and lineage graph, its snapshot and back, alias
 * production -> a second job with another learning rate -> the two versions compared ->
 * demo-model@production loaded in a new cell.
 *
 * Every step asserts on what the user sees and leaves a numbered screenshot in
 * tests/ui/test-results/; LABRIG_DOCS_SCREENSHOTS=1 also refreshes the docs' images.
 */
import { expect, test } from '@jupyterlab/galata';

import { DatasetsSection } from './pages/datasets';
import { JobsPage } from './pages/jobs';
import { LinksPage } from './pages/links';
import { ModelsPage } from './pages/models';
import { NotebookPage } from './pages/notebook';
import { ResourcesSectionPage } from './pages/resources';
import { Screenshots } from './pages/screenshots';

const NOTEBOOK = 'train_moons.ipynb';
const MODEL = 'demo-model';

test.use({ autoGoto: true });

test('the research loop: notebook, resources, dataset, jobs, model, compare, load', async ({
  page
}, testInfo) => {
  test.setTimeout(300 * 1000);
  const shots = new Screenshots(testInfo);
  const notebook = new NotebookPage(page, NOTEBOOK);
  const resources = new ResourcesSectionPage(page);
  const panel = resources.panel;
  const datasets = new DatasetsSection(panel);
  const jobs = new JobsPage(page);
  const models = new ModelsPage(page);
  const links = new LinksPage(page);

  await test.step('open the example notebook', async () => {
    await notebook.open();
    await expect(notebook.cells.first()).toContainText('Two moons');
    await panel.open();
    await notebook.waitForIdleKernel();
    await shots.take('notebook', page, 'img/01-notebook.png');
  });

  await test.step('1 CPU and 2 GiB for its kernel', async () => {
    await expect(resources.view).toContainText(NOTEBOOK);
    await resources.form.getByLabel('Profile').selectOption('custom');
    await resources.form.getByLabel('CPUs', { exact: true }).fill('1');
    await resources.form.getByLabel('Memory', { exact: true }).fill('2Gi');
    await resources.form.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.jp-Dialog').getByRole('button', { name: 'Restart kernel' }).click();
    await expect(resources.view.getByRole('status')).toHaveText(
      'Applied: 1 kernel restarted with the new resources.'
    );
    await expect(resources.now).toContainText('1 CPU · 2 GiB memory');
    await expect(resources.now).toContainText('kernel running');
    await expect(resources.bar('memory')).toContainText('of 2 GiB');
    await shots.take('resources', panel.section('resources'), 'img/02-resources.png');
  });

  await test.step('warm and mount the demo dataset', async () => {
    const moons = datasets.row('moons');
    await moons
      .getByRole('button', { name: 'Warm moons: fetch every file into the cache' })
      .click();
    await expect(links.notification('Dataset moons is warm')).toBeVisible({ timeout: 60 * 1000 });
    await expect(moons.getByTestId('labrig-dataset-facts')).toContainText('100% cached');
    await moons.getByRole('button', { name: 'Mount moons for every kernel' }).click();
    await expect(moons.getByTestId('labrig-dataset-mounted')).toBeVisible();
    await expect(moons.getByTestId('labrig-dataset-path')).toContainText('moons');
    await shots.take('dataset', panel.section('datasets'), 'img/03-dataset.png');
  });

  await test.step('run the cells and see the loss', async () => {
    // Parameters, setup, data and training: the last cell registers a model, which the job
    // does below, so it is not run here.
    await notebook.runCells(1, 4);
    await expect(notebook.output(2)).toContainText('process 0 of 1');
    await expect(notebook.output(3)).toContainText('moons from');
    await expect(notebook.output(3)).toContainText('480 training points');
    await expect(notebook.output(4)).toContainText('epoch  59  loss 0.');
    await notebook.output(4).scrollIntoViewIfNeeded();
    await shots.take('loss', notebook.cells.nth(4), 'img/04-loss.png');
  });

  await test.step('Run as job: 2 processes, learning rate 0.1', async () => {
    await notebook.runAsJob.click();
    await expect(jobs.parameter('lr')).toHaveValue('0.05');
    await jobs.parameter('lr').fill('0.1');
    await jobs.field('procs_per_node').fill('2');
    await jobs.field('name').fill('moons-lr-0.1');
    // The mounted dataset is offered, already checked.
    await expect(jobs.form.getByLabel('moons')).toBeChecked();
    await shots.take('run-as-job', jobs.form, 'img/05-run-as-job.png');
    await jobs.form.getByRole('button', { name: 'Run job' }).click();
  });

  await test.step('watch each rank and its log; a notification says it succeeded', async () => {
    await expect(jobs.view).toBeVisible();
    await expect(jobs.rankBars).toHaveCount(2);
    await expect(jobs.view.getByRole('progressbar', { name: 'Progress of rank 1' })).toBeVisible();
    await expect(jobs.log).toContainText('process 0 of 2', { timeout: 120 * 1000 });
    await shots.take('job-running', jobs.view);
    await expect(jobs.status).toHaveText('succeeded', { timeout: 120 * 1000 });
    // Notifications close after 8 s: read them first.
    await expect(links.notification(/Job moons-lr-0\.1 .* succeeded/)).toBeVisible();
    await expect(links.notification(`Registered ${MODEL} v1`)).toBeVisible();
    await shots.take('job', page, 'img/06-job.png');
    await expect(jobs.log).toContainText('240 points on rank 0');
    // Inside a rank the registration is staged; the version appears when the job ends.
    await expect(jobs.log).toContainText('registered demo-model (staged: registered when job');
    for (const bar of await jobs.rankBars.all()) {
      expect(await bar.getAttribute('value')).toBe(await bar.getAttribute('max'));
    }
    await jobs.logRank.selectOption('1');
    await expect(jobs.log).toContainText('240 points on rank 1');
  });

  await test.step('the job registered demo-model v1: metrics and lineage', async () => {
    await expect(jobs.registered).toContainText(`${MODEL} v1`);
    await jobs.registered.getByRole('button', { name: `Open model version ${MODEL} v1` }).click();
    await expect(models.detail).toContainText(`${MODEL} v1`);
    await expect(models.detail.getByRole('heading', { name: 'Metrics' })).toBeVisible();
    await expect(models.value('accuracy')).toHaveText(/^0\.\d+$/);
    await expect(models.value('loss')).toHaveText(/^0\.\d+$/);
    await expect(links.lineageNode('dataset')).toContainText('moons');
    await expect(links.lineageNode('snapshot')).toContainText('lr=0.1');
    await expect(links.lineageNode('job')).toContainText('succeeded');
    await expect(links.lineageNode('job')).toContainText('2 ranks');
    await links.lineage.scrollIntoViewIfNeeded();
    await shots.take('lineage', panel.root, 'img/07-lineage.png');
  });

  await test.step('its snapshot, read-only, and back', async () => {
    await links.lineage
      .getByRole('button', { name: `Open the notebook snapshot of ${NOTEBOOK} read-only` })
      .click();
    await expect(links.snapshotHeader).toContainText('Parameters: lr=0.1');
    await expect(links.snapshotHeader).toContainText('read-only');
    await shots.take('snapshot', links.snapshot, 'img/08-snapshot.png');
    // Back: the job that ran it, then the version that job registered.
    await links.snapshotHeader.getByRole('button', { name: /^Open job moons-lr-0\.1/ }).click();
    await expect(jobs.view.last()).toContainText('moons-lr-0.1');
    await jobs.registered
      .last()
      .getByRole('button', { name: `Open model version ${MODEL} v1` })
      .click();
    await expect(models.detail).toContainText(`${MODEL} v1`);
  });

  await test.step('alias production -> v1', async () => {
    await models.detail.getByLabel('Alias name').fill('production');
    await models.detail.getByRole('button', { name: 'Point here' }).click();
    await expect(models.detail.getByTestId('labrig-alias')).toHaveText(/production/);
  });

  await test.step('a second job with learning rate 0.02, from the command palette', async () => {
    await notebook.runAsJobFromPalette();
    await jobs.parameter('lr').fill('0.02');
    await jobs.field('procs_per_node').fill('2');
    await jobs.field('name').fill('moons-lr-0.02');
    await jobs.form.getByRole('button', { name: 'Run job' }).click();
    await expect(links.notification(`Registered ${MODEL} v2`)).toBeVisible({
      timeout: 120 * 1000
    });
    await expect(jobs.view.last().getByTestId('labrig-job-status')).toHaveText('succeeded');
  });

  await test.step('compare v1 and v2: parameters, metrics, curves', async () => {
    // Done with the jobs' views and the snapshot: close them, so the comparison gets room.
    await notebook.closeTabs(/^Job /);
    await notebook.closeTabs('(read-only)');
    await models.openModel(MODEL);
    await expect(models.versionRows).toHaveCount(2);
    await models.pickForCompare(1).check();
    await models.pickForCompare(2).check();
    await models.compareButton.click();
    await expect(links.compareRow('parameters', 'lr')).toContainText('0.1');
    await expect(links.compareRow('parameters', 'lr')).toContainText('0.02');
    await expect(links.compareRow('parameters', 'lr')).toContainText('differs');
    await expect(links.compareRow('metrics', 'loss')).toContainText('%');
    await expect(links.compareRow('metrics', 'accuracy')).toBeVisible();
    // One loss curve per version and rank (each rank logs the loss of its half of the data).
    await expect(links.compareCurves).toHaveCount(4);
    const colours = await links.compareCurves.evaluateAll(paths =>
      paths.map(p => p.getAttribute('stroke'))
    );
    expect(new Set(colours).size).toBe(4);
    for (const series of ['v1 (rank 0)', 'v1 (rank 1)', 'v2 (rank 0)', 'v2 (rank 1)']) {
      await expect(links.comparePlot).toContainText(series);
    }
    await shots.take('compare', links.compare, 'img/09-compare.png');
  });

  await test.step('load demo-model@production in a new cell', async () => {
    await page.notebook.activate(NOTEBOOK);
    const index = await notebook.addAndRunCell(
      [
        '# The production version, into the network trained above.',
        'net.load_state_dict(labrig.models.load("demo-model@production"))',
        'accuracy = (net(features[test]).argmax(dim=1) == labels[test]).float().mean().item()',
        'print(f"demo-model@production: test accuracy {accuracy:.3f}")'
      ].join('\n')
    );
    await expect(notebook.output(index)).toContainText(
      /demo-model@production: test accuracy 0\.\d{3}/
    );
    await shots.take('load', notebook.cells.nth(index), 'img/10-load.png');
  });

  await test.step('the panel, for the README', async () => {
    await panel.root.getByRole('button', { name: 'Refresh' }).click();
    await expect(models.versionRows).toHaveCount(2);
    // Resources collapsed and a taller window, so that the other three sections show too.
    await page.setViewportSize({ width: 1280, height: 1024 });
    await panel.toggle('resources').click();
    await expect(panel.toggle('resources')).toHaveAttribute('aria-expanded', 'false');
    await page.mouse.move(900, 700);
    await shots.take('panel', page, 'panel.png');
  });
});
