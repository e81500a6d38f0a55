/**
 * The model registry in a real JupyterLab: register a file from the file browser, see it in
 * the panel, move the production alias, load it in a notebook cell.
 */
import { expect, test } from '@jupyterlab/galata';

import { ModelsPage } from './pages/models';

test.describe('models', () => {
  test('register from the file browser, move production, load in a notebook', async ({
    page,
    tmpPath
  }) => {
    const models = new ModelsPage(page);
    const file = 'ui-weights.bin';

    expect(await page.contents.uploadContent('first weights', 'text', `${tmpPath}/${file}`)).toBe(
      true
    );
    await page.filebrowser.openDirectory(tmpPath);
    await page.filebrowser.refresh();
    await models.registerFromFileBrowser(file, 'ui-model', 'acc=0.5');

    const second = 'ui-weights-2.bin';
    expect(
      await page.contents.uploadContent('second weights', 'text', `${tmpPath}/${second}`)
    ).toBe(true);
    await page.filebrowser.refresh();
    await models.registerFromFileBrowser(second, 'ui-model', 'acc=0.9');

    await models.panel.open();
    await models.panel.root.getByRole('button', { name: 'Refresh' }).click();
    await expect(models.panel.model('ui-model')).toContainText('v2');

    // The versions table shows both, with their metric, and a plot of it.
    await models.panel.model('ui-model').getByRole('button', { name: 'ui-model' }).click();
    const section = models.panel.section('models');
    await expect(section.getByTestId('labrig-version-row')).toHaveCount(2);
    await expect(models.plotPoints).toHaveCount(2);

    // production -> v2, then moved to v1
    await models.openVersion('ui-model', 2);
    await models.detail.getByLabel('Alias name').fill('production');
    await models.detail.getByRole('button', { name: 'Point here' }).click();
    await expect(models.detail.getByTestId('labrig-alias')).toHaveText(/production/);
    await models.openVersion('ui-model', 1);
    await expect(models.detail.getByTestId('labrig-alias')).toHaveCount(0);
    await models.detail.getByRole('button', { name: 'Point here' }).click();
    await expect(models.detail.getByTestId('labrig-alias')).toHaveText(/production/);
    await expect(models.detail.getByTestId('labrig-load-snippet')).toContainText(
      'labrig.models.load("ui-model/1")'
    );

    const history = await page.request.get('/labrig/api/v1/models/ui-model/alias-history');
    const moves = (await history.json()).items.map(
      (e: { from_version: number | null; to_version: number }) => [e.from_version, e.to_version]
    );
    expect(moves).toEqual([
      [2, 1],
      [null, 2]
    ]);

    // Load production in a notebook cell: it is v1's bytes.
    await page.notebook.createNew('load-model.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      'import labrig.models\nprint(open(labrig.models.load("ui-model@production")).read())'
    );
    await page.notebook.runCell(0);
    const output = page.locator('.jp-OutputArea-output').first();
    await expect(output).toContainText('first weights', { timeout: 60 * 1000 });
  });
});
