/**
 * Page object for the labrig sidebar.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

export type SectionId = 'resources' | 'datasets' | 'jobs' | 'models';

export const PANEL_ID = 'labrig-panel';

export class LabrigPanelPage {
  constructor(readonly page: IJupyterLabPageFixture) {}

  /** The labrig tab in the left sidebar. */
  get tab(): Locator {
    return this.page.locator(`.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="${PANEL_ID}"]`);
  }

  /** The panel itself. */
  get root(): Locator {
    return this.page.locator(`#${PANEL_ID}`);
  }

  get status(): Locator {
    return this.root.getByTestId('labrig-status');
  }

  section(id: SectionId): Locator {
    return this.root.getByTestId(`labrig-section-${id}`);
  }

  /** The empty-state text of a section. */
  empty(id: SectionId): Locator {
    return this.section(id).getByTestId('labrig-empty');
  }

  /** The header button that expands or collapses a section. */
  toggle(id: SectionId): Locator {
    return this.section(id).locator('.labrig-Section-toggle');
  }

  get models(): Locator {
    return this.section('models').getByTestId('labrig-model');
  }

  model(name: string): Locator {
    return this.models.filter({
      has: this.page.locator('.labrig-Item-name', { hasText: new RegExp(`^${name}$`) })
    });
  }

  get newModelForm(): Locator {
    return this.section('models').getByTestId('labrig-new-model-form');
  }

  get selectedNotebook(): Locator {
    return this.section('jobs').getByTestId('labrig-selected-notebook');
  }

  /** Open the panel by clicking its sidebar icon, and wait for the server's status. */
  async open(): Promise<void> {
    if (!(await this.root.isVisible())) {
      await this.tab.click();
    }
    await expect(this.root).toBeVisible();
    await expect(this.status).toContainText(/v\d/);
  }

  /** Fill in and submit the "New model" form. */
  async submitNewModel(name: string, description = ''): Promise<void> {
    if (!(await this.newModelForm.isVisible())) {
      await this.section('models').getByRole('button', { name: 'New model' }).click();
    }
    const form = this.newModelForm;
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Description').fill(description);
    await form.getByRole('button', { name: 'Create' }).click();
  }
}
