/**
 * Datasets in a real JupyterLab: add a dataset from the panel, watch its warm-up, mount it,
 * and read it from a notebook cell through `labrig.datasets.path()`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { expect, test } from '@jupyterlab/galata';

import { LabrigPanelPage } from './pages/labrig-panel';
import { DatasetsSection } from './pages/datasets';

test.describe('datasets', () => {
  let source: string;

  test.beforeAll(() => {
    source = fs.mkdtempSync(path.join(os.tmpdir(), 'labrig-ui-source-'));
    fs.mkdirSync(path.join(source, 'train'));
    for (let i = 0; i < 40; i++) {
      fs.writeFileSync(path.join(source, 'train', `part-${i}.bin`), Buffer.alloc(256 * 1024, i));
    }
    fs.writeFileSync(path.join(source, 'labels.csv'), 'id,label\n1,cat\n2,dog\n');
  });

  test.afterAll(() => {
    fs.rmSync(source, { recursive: true, force: true });
  });

  test('add, warm, mount and read a dataset from a notebook', async ({ page }) => {
    const panel = new LabrigPanelPage(page);
    await panel.open();
    const datasets = new DatasetsSection(panel);

    // A bad source first: the server's message is shown as is.
    await datasets.add('ui-data', 'ftp://example.org/data');
    await expect(datasets.formError).toContainText("scheme 'ftp' is not supported");

    await datasets.add('ui-data', `file://${source}`);
    const row = datasets.row('ui-data');
    await expect(row).toBeVisible();
    await expect(datasets.formError).toHaveCount(0);

    await row.getByRole('button', { name: 'Warm' }).click();
    const progress = row.getByTestId('labrig-warmup');
    await expect(progress).toBeVisible();
    await expect(progress).toContainText('41/41 files');
    await expect(progress).toContainText('warmed');
    await expect(row.getByTestId('labrig-dataset-facts')).toContainText('100% cached');

    await row.getByRole('button', { name: 'Mount' }).click();
    await expect(row.getByTestId('labrig-dataset-mounted')).toBeVisible();
    await expect(row.getByTestId('labrig-dataset-path')).toContainText('ui-data');
    // How the mount is protected, in the server's words (GET /datasets' mount_protection): a
    // quiet line where the host protected it, a warning with the reason where it could not.
    const listed = await page.request.get('/labrig/api/v1/datasets/ui-data');
    const protection = (await listed.json()).mount_protection as string;
    const note = row.getByTestId('labrig-dataset-protection');
    if (protection.startsWith('not protected: ')) {
      await expect(note).toHaveAttribute('data-level', 'warn');
      await expect(note).toContainText(`Not protected: ${protection.slice(15)}`);
    } else {
      const label = {
        'read-only (bind mount)': 'read-only bind mount',
        'private copy on write (reflink)': 'private reflink copy',
        'private copy (full copy)': 'private full copy'
      }[protection];
      expect(label).toBeDefined();
      await expect(note).toHaveAttribute('data-level', 'safe');
      await expect(note).toContainText(label as string);
    }

    await page.notebook.createNew('read-dataset.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      [
        'import os, labrig.datasets as ds',
        'root = ds.path("ui-data")',
        'print(open(root / "labels.csv").read().splitlines()[2])',
        'print(len(os.listdir(root / "train")), os.access(root / "labels.csv", os.W_OK) or "ro")'
      ].join('\n')
    );
    await page.notebook.runCell(0);
    const output = await page.notebook.getCellTextOutput(0);
    expect(output?.join('')).toContain('2,dog');
    expect(output?.join('')).toContain('40');
    await page.notebook.close(true);

    // Leave the catalog empty for the other UI tests.
    await row.getByRole('button', { name: 'Unmount' }).click();
    await expect(row.getByTestId('labrig-dataset-mounted')).toHaveCount(0);
    await row.getByRole('button', { name: 'Remove' }).click();
    await expect(datasets.rows).toHaveCount(0);
  });
});
