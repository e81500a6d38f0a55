/**
 * Page object for one notebook open in the main area, driven as a user does: open it from the
 * file browser, run its cells one by one, read what they printed, add a cell.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

export class NotebookPage {
  constructor(
    readonly page: IJupyterLabPageFixture,
    readonly name: string
  ) {}

  /** The notebook's panel in the main area. */
  get root(): Locator {
    return this.page.locator('.jp-NotebookPanel').filter({ has: this.page.locator('.jp-Cell') });
  }

  get cells(): Locator {
    return this.root.locator('.jp-Notebook .jp-Cell');
  }

  /** What cell `index` printed (its output area's text). */
  output(index: number): Locator {
    return this.cells.nth(index).locator('.jp-OutputArea-output');
  }

  /** The notebook toolbar's "Run as job" button. */
  get runAsJob(): Locator {
    return this.root.locator('.jp-NotebookPanel-toolbar .labrig-run-as-job');
  }

  /**
   * Run it as a job from the command palette (the toolbar's button moves into its overflow
   * menu when a job's view, opened beside the notebook, leaves it narrow).
   */
  async runAsJobFromPalette(): Promise<void> {
    await this.page.notebook.activate(this.name);
    await this.page.keyboard.press('Control+Shift+c');
    const palette = this.page.locator('#command-palette');
    await palette.locator('.lm-CommandPalette-input').fill('Run Notebook as Job');
    await palette.locator('.lm-CommandPalette-item', { hasText: 'Run Notebook as Job' }).click();
  }

  /** Close the main area's tabs whose label contains `label` (views the user is done with). */
  async closeTabs(label: string | RegExp): Promise<void> {
    const tabs = this.page.locator('#jp-main-dock-panel .lm-TabBar-tab', { hasText: label });
    while ((await tabs.count()) > 0) {
      await tabs.first().locator('.lm-TabBar-tabCloseIcon').click();
    }
  }

  /** Open it with a double click in the file browser, at the server's root. */
  async open(): Promise<void> {
    await this.page.filebrowser.openHomeDirectory();
    await this.page
      .locator('.jp-DirListing-item', {
        has: this.page.locator('.jp-DirListing-itemText', { hasText: this.name })
      })
      .dblclick();
    await expect(this.page.locator('.jp-NotebookPanel .jp-Cell').first()).toBeVisible();
    await this.page.notebook.activate(this.name);
  }

  /** Wait for its kernel to be idle (as the toolbar's kernel status shows it). */
  async waitForIdleKernel(): Promise<void> {
    await expect(this.root.locator('.jp-Notebook-ExecutionIndicator')).toHaveAttribute(
      'data-status',
      'idle',
      { timeout: 60 * 1000 }
    );
  }

  /** Run cells `from`..`to` one at a time (Shift+Enter), each to its end. */
  async runCells(from: number, to: number): Promise<void> {
    await this.page.notebook.activate(this.name);
    for (let index = from; index <= to; index++) {
      expect(await this.page.notebook.runCell(index)).toBe(true);
    }
  }

  /** Add a code cell at the end (select the last cell, B), set its source and run it. */
  async addAndRunCell(source: string): Promise<number> {
    await this.page.notebook.activate(this.name);
    const index = await this.cells.count();
    expect(await this.page.notebook.selectCells(index - 1)).toBe(true);
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('b');
    await expect(this.cells).toHaveCount(index + 1);
    expect(await this.page.notebook.setCell(index, 'code', source)).toBe(true);
    expect(await this.page.notebook.runCell(index)).toBe(true);
    return index;
  }
}
