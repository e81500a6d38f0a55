/**
 * Page object for the jobs UI: the Run-as-job form and the live job view.
 */
import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

export class JobsPage {
  constructor(readonly page: IJupyterLabPageFixture) {}

  get form(): Locator {
    return this.page.locator('form.labrig-JobForm');
  }

  parameter(name: string): Locator {
    return this.form.locator(`#labrig-param-${name}`);
  }

  field(id: string): Locator {
    return this.form.locator(`#labrig-job-${id}`);
  }

  get view(): Locator {
    return this.page.getByTestId('labrig-job-view');
  }

  get status(): Locator {
    return this.view.getByTestId('labrig-job-status');
  }

  get rankBars(): Locator {
    return this.view.locator('[data-testid="labrig-rank-progress"] progress');
  }

  get log(): Locator {
    return this.view.getByTestId('labrig-job-log');
  }
}
