/**
 * Page object for the Resources section of the labrig sidebar.
 */
import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import { LabrigPanelPage } from './labrig-panel';

export class ResourcesSectionPage {
  constructor(readonly page: IJupyterLabPageFixture) {
    this.panel = new LabrigPanelPage(page);
  }

  readonly panel: LabrigPanelPage;

  get view(): Locator {
    return this.panel.section('resources').getByTestId('labrig-resources-view');
  }

  get now(): Locator {
    return this.view.getByTestId('labrig-resources-now');
  }

  bar(name: 'cpu' | 'memory' | 'disk'): Locator {
    return this.view.getByTestId(`labrig-usage-${name}`);
  }

  get form(): Locator {
    return this.view.getByRole('form', { name: 'Request resources' });
  }

  async open(): Promise<void> {
    await this.panel.open();
  }
}
