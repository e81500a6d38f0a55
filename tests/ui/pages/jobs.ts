/**
 * Page object for the jobs UI: the Run-as-job form, the live job view, and the jobs list and
 * schedules in the panel's Jobs section.
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

  /** What the job in view ran with and registered (datasets, resources, model versions). */
  get links(): Locator {
    return this.view.getByTestId('labrig-job-links');
  }

  get registered(): Locator {
    return this.links.getByTestId('labrig-job-versions');
  }

  /** The rank whose log the view shows. */
  get logRank(): Locator {
    return this.view.getByLabel('Log of rank');
  }

  get log(): Locator {
    return this.view.getByTestId('labrig-job-log');
  }

  /** The Jobs section of the labrig panel. */
  get section(): Locator {
    return this.page.locator('#labrig-panel').getByTestId('labrig-section-jobs');
  }

  /** The rows of the jobs list that are rendered (the list is virtualised). */
  get jobRows(): Locator {
    return this.section.getByTestId('labrig-job');
  }

  /** The scroll container of the jobs list. */
  get jobsList(): Locator {
    return this.section.getByTestId('labrig-jobs-list');
  }

  schedule(name: string): Locator {
    return this.section.getByTestId('labrig-schedule').filter({
      has: this.page.locator('.labrig-Item-name', { hasText: new RegExp(`^${name}$`) })
    });
  }

  scheduleAction(name: string, label: string): Locator {
    return this.schedule(name).getByRole('button', { name: label, exact: true });
  }

  /** Switch the open form to "On a schedule" and submit it with a cron expression. */
  async createSchedule(cron: string): Promise<void> {
    await this.form.getByLabel('On a schedule').check();
    await this.field('cron').fill(cron);
    await this.form.getByRole('button', { name: 'Create schedule' }).click();
  }
}
