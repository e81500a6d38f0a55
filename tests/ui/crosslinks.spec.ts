/**
 * One product, not four sections: a dataset warmed (and a notification says so), a job run with
 * it that logs a curve and registers a model (a notification says so), then, one click each:
 * the job's datasets and model version, the version's lineage graph, its read-only snapshot,
 * a second run compared side by side, versions sorted by the server, and a link to a job
 * deleted meanwhile that says so.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';

import { DatasetsSection } from './pages/datasets';
import { JobsPage } from './pages/jobs';
import { LinksPage } from './pages/links';
import { ModelsPage } from './pages/models';

const API = '/labrig/api/v1';
const DATASET = 'ui-links-data';
const MODEL = 'ui-links-model';

/** Logs a loss curve with labrig.log_metric and registers the model from rank 0. */
function trainingNotebook(): string {
  const code = (source: string, tags: string[] = []) => ({
    cell_type: 'code',
    execution_count: null,
    metadata: { tags },
    outputs: [],
    source
  });
  return JSON.stringify({
    cells: [
      code('lr = 0.1\nepochs = 6', ['parameters']),
      code(
        'import os\nimport labrig\n' +
          "rows = open(os.path.join(os.environ['LABRIG_DATASET_UI_LINKS_DATA'], 'rows.csv')).read()\n" +
          'loss = 1.0\n' +
          'for step in range(epochs):\n' +
          '    loss *= 1 - lr\n' +
          "    labrig.log_metric('loss', loss, step=step)\n" +
          "print(f'{len(rows)} bytes read, final loss {loss:.4f}')"
      ),
      code(
        'import labrig.models\n' +
          "if os.environ.get('RANK', '0') == '0':\n" +
          "    open('ui-links.bin', 'wb').write(b'w' * 64)\n" +
          `    labrig.models.register('${MODEL}', 'ui-links.bin', metrics={'loss': loss})`
      )
    ],
    metadata: {
      kernelspec: { display_name: 'Python 3 (ipykernel)', language: 'python', name: 'python3' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

test.describe('cross-links', () => {
  let source: string;

  test.beforeAll(() => {
    source = fs.mkdtempSync(path.join(os.tmpdir(), 'labrig-ui-links-'));
    fs.writeFileSync(path.join(source, 'rows.csv'), 'x,y\n1,2\n3,4\n');
  });

  test.afterAll(() => {
    fs.rmSync(source, { recursive: true, force: true });
  });

  test('dataset -> job -> model version, with notifications, lineage, snapshot, compare', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(420 * 1000);
    const links = new LinksPage(page);
    const models = new ModelsPage(page);
    const jobs = new JobsPage(page);
    const datasets = new DatasetsSection(models.panel);
    const notebook = `${tmpPath}/links.ipynb`;
    expect(await page.contents.uploadContent(trainingNotebook(), 'text', notebook)).toBe(true);

    // A dataset warmed from the panel: the notification center says so, with an action.
    const created = await page.request.post(`${API}/datasets`, {
      data: { name: DATASET, source_url: `file://${source}` }
    });
    expect(created.status()).toBe(201);
    await models.panel.open();
    await models.panel.root.getByRole('button', { name: 'Refresh' }).click();
    await datasets
      .row(DATASET)
      .getByRole('button', { name: `Warm ${DATASET}` })
      .click();
    await expect(links.notification(`Dataset ${DATASET} is warm`)).toBeVisible();
    await links.notificationAction(`Dataset ${DATASET} is warm`, 'Show dataset').click();
    await expect(datasets.row(DATASET)).toBeFocused();

    // Run as job with the dataset and an edited learning rate.
    await page.evaluate(async p => {
      await (window as any).jupyterapp.commands.execute('labrig:run-as-job', { path: p });
    }, notebook);
    await expect(jobs.parameter('lr')).toHaveValue('0.1');
    await jobs.parameter('lr').fill('0.3');
    await jobs.form.getByLabel(DATASET).check();
    await jobs.field('name').fill('ui-links-1');
    await jobs.form.getByRole('button', { name: 'Run job' }).click();
    await expect(jobs.status).toHaveText('succeeded', { timeout: 180 * 1000 });
    await expect(links.notification(/Job ui-links-1 .* succeeded/)).toBeVisible();
    await expect(links.notification(`Registered ${MODEL} v1`)).toBeVisible();

    // The job shows what it ran with and what it registered.
    await expect(jobs.links).toContainText('lr=0.3');
    await expect(jobs.links.getByRole('button', { name: `Open dataset ${DATASET}` })).toBeVisible();
    await expect(jobs.links).toContainText('1 rank');
    await expect(jobs.registered).toContainText(`${MODEL} v1`);
    await jobs.registered.getByRole('button', { name: `Open model version ${MODEL} v1` }).click();
    await expect(models.detail).toContainText(`${MODEL} v1`);

    // Its lineage: dataset version -> snapshot (+ parameters) -> job -> this version.
    await expect(links.lineageNode('dataset')).toContainText(DATASET);
    await expect(links.lineageNode('snapshot')).toContainText('lr=0.3');
    await expect(links.lineageNode('job')).toContainText('succeeded');
    await expect(links.lineageNode('model_version')).toContainText('loss');
    await links.lineage.scrollIntoViewIfNeeded();
    await models.panel.root.screenshot({ path: test.info().outputPath('lineage.png') });

    // The snapshot opens read-only, with the parameters it ran with.
    await links.lineage
      .getByRole('button', { name: 'Open the notebook snapshot of links.ipynb read-only' })
      .click();
    await expect(links.snapshotHeader).toContainText('Parameters: lr=0.3');
    await expect(links.snapshotHeader).toContainText('read-only');
    await expect(links.snapshotCells).toHaveCount(3);
    // Every editor is read-only: typing changes nothing.
    const editor = links.snapshot.locator('.cm-content').first();
    await expect(editor).toHaveAttribute('aria-readonly', 'true');
    await editor.click();
    await page.keyboard.type('typed');
    await expect(editor).not.toContainText('typed');
    await page.screenshot({ path: test.info().outputPath('snapshot.png') });

    // And back: the job node opens the job's view.
    await links.lineage.getByRole('button', { name: 'Open job ui-links-1' }).click();
    await expect(jobs.view.last()).toContainText('ui-links-1');

    // A second run with another learning rate, over REST: its registration is announced too.
    const second = await page.request.post(`${API}/jobs`, {
      data: {
        notebook_path: notebook,
        parameters: { lr: 0.05 },
        datasets: [DATASET],
        name: 'ui-links-2'
      }
    });
    expect(second.status()).toBe(201);
    const secondId = (await second.json()).id as string;
    await expect(links.notification(`Registered ${MODEL} v2`)).toBeVisible({
      timeout: 180 * 1000
    });

    // Versions sorted by the server: by loss, highest first, then lowest first.
    await models.openModel(MODEL);
    await models.sortBy('loss').click();
    await expect(models.versionRows.first()).toContainText('v2');
    await models.sortBy('loss').click();
    await expect(models.versionRows.first()).toContainText('v1');

    // Compare the two versions: parameters, metrics, curves overlaid in one plot.
    await models.pickForCompare(1).check();
    await models.pickForCompare(2).check();
    await models.compareButton.click();
    await expect(links.compareRow('parameters', 'lr')).toContainText('0.3');
    await expect(links.compareRow('parameters', 'lr')).toContainText('0.05');
    await expect(links.compareRow('parameters', 'lr')).toContainText('differs');
    await expect(links.compareRow('metrics', 'loss')).toContainText('%');
    await expect(links.compareCurves).toHaveCount(2);
    await page.screenshot({ path: test.info().outputPath('compare.png') });

    // A link to a job deleted meanwhile says so instead of opening an empty view.
    expect((await page.request.delete(`${API}/jobs/${secondId}`)).status()).toBe(204);
    await models.openVersion(MODEL, 2);
    const lineageList = models.detail.getByTestId('labrig-lineage');
    await lineageList.getByRole('button', { name: `Open job ${secondId}` }).click();
    await expect(links.gone(lineageList)).toHaveText(`job ${secondId.slice(0, 8)}… was deleted`);
    await expect(links.lineageNode('job')).toContainText('(deleted)');

    // The datasets spec expects the catalog it leaves behind to be empty.
    expect((await page.request.delete(`${API}/datasets/${DATASET}`)).status()).toBe(204);
  });
});
