/**
 * Names and free text render as text (issue 13): a dataset, a model, a job and two model versions
 * whose free text carries HTML/JS payloads are shown in every view of the panel (lists, details,
 * the job's log and plots with their tooltips, lineage, the notebook snapshot, compare,
 * notifications), and nothing runs: `window.__xss` stays unset, no dialog opens, and the payload
 * is on screen literally. Names restricted to a pattern are refused, and the refusal shows the
 * payload as text too.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import { DatasetsSection } from './pages/datasets';
import { JobsPage } from './pages/jobs';
import { LinksPage } from './pages/links';
import { ModelsPage } from './pages/models';

const API = '/labrig/api/v1';
// Run, each sets window.__xss and opens a dialog. No "/" in IMG: it names a folder below.
const IMG = '<img src=x onerror="window.__xss=1;alert(1)">';
const SCRIPT = '<script>window.__xss=2;alert(2)</script>';
const DATASET = 'ui-xss-data';
const MODEL = 'ui-xss-model';
const JOB = `${IMG} ${SCRIPT}`;

/** A notebook whose parameter, log lines, metric and registration carry the payloads. */
function payloadNotebook(): string {
  const py = JSON.stringify; // a JSON string of ASCII is a Python string literal
  const code = (source: string, tags: string[] = [], extra: object = {}) => ({
    cell_type: 'code',
    execution_count: null,
    metadata: { tags },
    outputs: [],
    source,
    ...extra
  });
  return JSON.stringify({
    cells: [
      { cell_type: 'markdown', metadata: {}, source: `# Notes\n\n${IMG}` },
      code('label = "plain"', ['parameters']),
      code(
        'import os\nimport labrig\n' +
          'print(label)\n' +
          `print(${py(SCRIPT)})\n` +
          'for step in range(3):\n' +
          `    labrig.log_metric(${py(IMG)}, 1.0 / (step + 1), step=step)`
      ),
      code(
        'import labrig.models\n' +
          "if os.environ.get('RANK', '0') == '0':\n" +
          "    open('xss.bin', 'wb').write(b'x' * 16)\n" +
          `    labrig.models.register(${py(MODEL)}, 'xss.bin', metrics={${py(IMG)}: 0.5},\n` +
          `        params={'label': label, ${py(SCRIPT)}: 1}, tags={${py(IMG)}: ${py(SCRIPT)}},\n` +
          `        note=${py(SCRIPT)})`
      ),
      // Saved with an HTML output and a cell that claims trust: the snapshot shows it untrusted.
      code('pass', [], {
        metadata: { trusted: true },
        outputs: [
          { output_type: 'display_data', data: { 'text/html': IMG + SCRIPT }, metadata: {} }
        ]
      })
    ],
    metadata: {
      kernelspec: { display_name: 'Python 3 (ipykernel)', language: 'python', name: 'python3' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/** Nothing the payloads would do has happened. */
async function nothingRan(page: IJupyterLabPageFixture, dialogs: string[]): Promise<void> {
  expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
}

/** Hover the first point of a Vega plot: its tooltip shows the metric's name as text. */
async function tooltipOf(page: IJupyterLabPageFixture, plot: Locator): Promise<Locator> {
  await plot.locator('.mark-symbol path').first().hover({ force: true });
  const tooltip = page.locator('#vg-tooltip-element.visible');
  await expect(tooltip).toBeVisible();
  return tooltip;
}

test.describe('untrusted text', () => {
  let source: string;

  test.beforeAll(() => {
    // The dataset's source folder is named after the payload, so its source URL carries it.
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'labrig-ui-xss-'));
    source = path.join(parent, IMG);
    fs.mkdirSync(source);
    fs.writeFileSync(path.join(source, 'rows.csv'), 'x\n1\n');
  });

  test.afterAll(() => {
    fs.rmSync(path.dirname(source), { recursive: true, force: true });
  });

  test('payloads in names, free text, logs and plots render as text', async ({ page, tmpPath }) => {
    test.setTimeout(360 * 1000);
    const dialogs: string[] = [];
    page.on('dialog', dialog => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const models = new ModelsPage(page);
    const panel = models.panel;
    const jobs = new JobsPage(page);
    const links = new LinksPage(page);
    const datasets = new DatasetsSection(panel);

    // Created through the REST API, as a script or another user would.
    const dataset = await page.request.post(`${API}/datasets`, {
      data: { name: DATASET, source_url: `file://${source}` }
    });
    expect(dataset.status()).toBe(201);
    const model = await page.request.post(`${API}/models`, {
      data: { name: MODEL, description: IMG, tags: { [SCRIPT]: IMG } }
    });
    expect(model.status()).toBe(201);
    const notebook = `${tmpPath}/xss.ipynb`;
    expect(await page.contents.uploadContent(payloadNotebook(), 'text', notebook)).toBe(true);
    await panel.open();

    // The job runs while the panel is open, so its notifications carry the payload too.
    const submitted = await page.request.post(`${API}/jobs`, {
      data: { notebook_path: notebook, parameters: { label: IMG }, name: JOB }
    });
    expect(submitted.status()).toBe(201);
    const jobId = (await submitted.json()).id as string;
    await expect
      .poll(async () => (await (await page.request.get(`${API}/jobs/${jobId}`)).json()).status, {
        timeout: 180 * 1000
      })
      .toBe('SUCCEEDED');
    await expect(links.notification(`Job ${JOB}`)).toBeVisible();
    // A second version, registered over REST, gives the plots two points and compare a side.
    const weights = `${tmpPath}/xss-2.bin`;
    expect(await page.contents.uploadContent('second', 'text', weights)).toBe(true);
    const second = await page.request.post(`${API}/models/${MODEL}/versions`, {
      data: { path: weights, metrics: { [IMG]: 0.7 }, params: { label: SCRIPT }, note: IMG }
    });
    expect(second.status()).toBe(201);
    await panel.root.getByRole('button', { name: 'Refresh' }).click();

    // Names restricted to a pattern: the refusal names the payload, as text.
    await datasets.add(IMG, 'file:///tmp');
    await expect(datasets.form.getByRole('alert').first()).toContainText(`'${IMG}' is not allowed`);
    await panel.submitNewModel(SCRIPT, IMG);
    await expect(panel.newModelForm.getByRole('alert').first()).toContainText(
      `'${SCRIPT}' is not allowed`
    );

    // Lists: the dataset's source, the model's description and tags, the job's name.
    await expect(datasets.row(DATASET)).toContainText(IMG);
    await expect(panel.model(MODEL)).toContainText(IMG);
    const modelTags = `${SCRIPT}=${IMG}`;
    await expect(panel.model(MODEL).getByTestId('labrig-model-tags')).toHaveText(modelTags);
    const row = jobs.jobRows.filter({ hasText: JOB });
    await expect(row).toBeVisible();
    await nothingRan(page, dialogs);

    // The job's view: name, parameters, log lines, the metric plot and its tooltip.
    await row.getByRole('button').click();
    const view = jobs.view.last();
    await expect(view.locator('h3')).toContainText(JOB);
    await expect(view.getByTestId('labrig-job-links')).toContainText(
      `label=${JSON.stringify(IMG)}`
    );
    const log = view.getByTestId('labrig-job-log');
    await expect(log).toContainText(IMG);
    await expect(log).toContainText(SCRIPT);
    const plot = view.getByTestId('labrig-metric-plot');
    await expect(plot.locator('.labrig-MetricPlot-title')).toContainText(IMG);
    await expect(await tooltipOf(page, plot)).toContainText(IMG);
    await nothingRan(page, dialogs);

    // The model: its tags, versions with the metric named by the payload, plotted with a tooltip.
    await models.openModel(MODEL);
    await expect(panel.section('models').getByTestId('labrig-model-detail')).toContainText(IMG);
    await expect(panel.section('models').getByTestId('labrig-model-tags')).toHaveText(modelTags);
    await expect(models.versionRows).toHaveCount(2);
    const versionsPlot = panel.section('models').getByTestId('labrig-metric-plot');
    await expect(await tooltipOf(page, versionsPlot)).toContainText(IMG);

    // A version: the model's tags, note, metrics, parameters, tags, lineage.
    await models.openVersion(MODEL, 1);
    await expect(models.detail.getByTestId('labrig-model-tags')).toHaveText(modelTags);
    await expect(models.detail.locator('.labrig-Note')).toHaveText(SCRIPT);
    await expect(models.value(IMG)).toHaveText('0.5');
    await expect(models.value('label')).toHaveText(JSON.stringify(IMG));
    await expect(models.value(SCRIPT)).toHaveText('1');
    await expect(models.detail).toContainText(`${IMG}${SCRIPT}`); // the tag: key, value
    await expect(links.lineageNode('job')).toContainText(JOB);
    await expect(links.lineageNode('snapshot')).toContainText(JSON.stringify(IMG));
    await expect(links.lineageNode('model_version')).toContainText(IMG);
    await nothingRan(page, dialogs);

    // The snapshot: parameters in its header; Markdown and the saved HTML output sanitised.
    await links.lineage
      .getByRole('button', { name: 'Open the notebook snapshot of xss.ipynb read-only' })
      .click();
    await expect(links.snapshotHeader).toContainText(`label=${JSON.stringify(IMG)}`);
    await expect(links.snapshotCells).toHaveCount(5);
    await expect(links.snapshot.locator('.jp-RenderedHTMLCommon').first()).toBeVisible();
    await expect(links.snapshot.locator('[onerror], script')).toHaveCount(0);
    await nothingRan(page, dialogs);

    // Compare the two versions: parameters and metrics named and valued by the payloads.
    await models.openModel(MODEL);
    await models.pickForCompare(1).check();
    await models.pickForCompare(2).check();
    await models.compareButton.click();
    await expect(links.compareRow('parameters', 'label')).toContainText(JSON.stringify(SCRIPT));
    await expect(links.compare.getByTestId('labrig-compare-metrics')).toContainText(IMG);
    await nothingRan(page, dialogs);

    // Leave the shared server as the other specs expect it.
    expect((await page.request.delete(`${API}/jobs/${jobId}`)).status()).toBe(204);
    expect((await page.request.delete(`${API}/datasets/${DATASET}`)).status()).toBe(204);
    expect((await page.request.delete(`${API}/models/${MODEL}`)).status()).toBe(204);
  });
});
