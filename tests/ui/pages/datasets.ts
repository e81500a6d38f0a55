/**
 * Page object for the Datasets section of the labrig sidebar.
 */
import { Locator } from '@playwright/test';

import { LabrigPanelPage } from './labrig-panel';

export class DatasetsSection {
  constructor(readonly panel: LabrigPanelPage) {}

  get root(): Locator {
    return this.panel.section('datasets');
  }

  get form(): Locator {
    return this.root.getByTestId('labrig-add-dataset');
  }

  get formError(): Locator {
    return this.form.getByRole('alert');
  }

  get rows(): Locator {
    return this.root.getByTestId('labrig-dataset');
  }

  row(name: string): Locator {
    return this.rows.filter({
      has: this.panel.page.locator('.labrig-Item-name', { hasText: new RegExp(`^${name}$`) })
    });
  }

  /** The "Used by" disclosure of a dataset and what it lists. */
  users(name: string): Locator {
    return this.row(name).getByTestId('labrig-dataset-users');
  }

  async add(name: string, source: string): Promise<void> {
    await this.form.getByLabel('Dataset name').fill(name);
    await this.form.getByLabel('Source URL').fill(source);
    await this.form.getByRole('button', { name: 'Add dataset' }).click();
  }
}
