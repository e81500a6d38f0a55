/**
 * Page helpers for the model registry: the file browser's "Register as model" and the
 * Models section's detail views.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import { LabrigPanelPage } from './labrig-panel';

/** `text` as a regular expression that matches it literally (names may hold `(`, `.`, ...). */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class ModelsPage {
  constructor(readonly page: IJupyterLabPageFixture) {
    this.panel = new LabrigPanelPage(page);
  }

  readonly panel: LabrigPanelPage;

  /** Right-click a file in the file browser and register it through the dialog. */
  async registerFromFileBrowser(fileName: string, model: string, metrics = ''): Promise<void> {
    const item = this.page.locator('.jp-DirListing-item', {
      has: this.page.locator('.jp-DirListing-itemText', { hasText: fileName })
    });
    await item.click({ button: 'right' });
    await this.page.locator('.lm-Menu-item', { hasText: 'Register as Model' }).click();
    const dialog = this.page.locator('.jp-Dialog');
    await expect(dialog.getByTestId('labrig-register-form')).toBeVisible();
    await dialog.getByLabel('Model name').fill(model);
    await dialog.getByLabel('Metrics').fill(metrics);
    await dialog.locator('.jp-Dialog-button', { hasText: 'Register' }).click();
    await expect(dialog).toHaveCount(0);
  }

  /** The points of the metric plot of a model's versions (Vega draws each as a symbol). */
  get plotPoints(): Locator {
    return this.panel
      .section('models')
      .getByTestId('labrig-metric-plot')
      .locator('.mark-symbol path');
  }

  /** The versions table of the model shown. */
  get versionRows(): Locator {
    return this.panel.section('models').getByTestId('labrig-version-row');
  }

  /** The first column's checkbox that picks a version for comparison. */
  pickForCompare(version: number): Locator {
    return this.panel.section('models').getByRole('checkbox', { name: `Compare v${version}` });
  }

  get compareButton(): Locator {
    return this.panel.section('models').getByTestId('labrig-compare-versions');
  }

  /** The sort button in a column header of the versions table. */
  sortBy(column: string): Locator {
    return this.panel
      .section('models')
      .getByRole('button', { name: new RegExp(`^Sort by ${column}`) });
  }

  /** The versions filter form (opened with "Filter versions"). */
  get filters(): Locator {
    return this.panel.section('models').getByTestId('labrig-version-filters');
  }

  async openModel(model: string): Promise<void> {
    const section = this.panel.section('models');
    if (await section.getByTestId('labrig-version-detail').isVisible()) {
      await section.getByRole('button', { name: `← ${model}` }).click();
    }
    if (!(await section.getByTestId('labrig-model-detail').isVisible())) {
      await this.panel.model(model).getByRole('button', { name: model }).click();
    }
    await expect(section.getByTestId('labrig-model-detail')).toBeVisible();
  }

  /** The value of a metric or parameter in the version shown (its `<dd>`). */
  value(name: string): Locator {
    return this.detail
      .locator('dl.labrig-KeyValues dt', { hasText: new RegExp(`^${escapeRegExp(name)}$`) })
      .first()
      .locator('xpath=following-sibling::dd[1]');
  }

  get detail(): Locator {
    return this.panel.section('models').getByTestId('labrig-version-detail');
  }

  /** Open a model's versions, then one version, from the Models list. */
  async openVersion(model: string, version: number): Promise<void> {
    const section = this.panel.section('models');
    if (await section.getByTestId('labrig-version-detail').isVisible()) {
      await section.getByRole('button', { name: `← ${model}` }).click();
    }
    if (!(await section.getByTestId('labrig-model-detail').isVisible())) {
      await this.panel.model(model).getByRole('button', { name: model }).click();
    }
    await section.getByRole('button', { name: `v${version}`, exact: true }).click();
    await expect(this.detail).toContainText(`${model} v${version}`);
  }
}
