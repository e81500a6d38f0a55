/**
 * Page objects for labrig's cross-links: JupyterLab notifications, the lineage graph, the
 * read-only snapshot tab and the comparison tab.
 */
import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

export class LinksPage {
  constructor(readonly page: IJupyterLabPageFixture) {}

  /** A JupyterLab notification (toast) whose text contains `text`. */
  notification(text: string | RegExp): Locator {
    return this.page.locator('.Toastify__toast', { hasText: text });
  }

  /** The action button of a notification. */
  notificationAction(text: string | RegExp, label: string): Locator {
    return this.notification(text).getByRole('button', { name: label });
  }

  /** The lineage graph of the version shown in the Models section. */
  get lineage(): Locator {
    return this.page.locator('#labrig-panel').getByTestId('labrig-lineage-graph');
  }

  lineageNode(kind: 'dataset' | 'snapshot' | 'notebook' | 'job' | 'model_version'): Locator {
    return this.lineage.getByTestId(`labrig-lineage-${kind}`);
  }

  /** The read-only snapshot tab in the main area (the newest one). */
  get snapshot(): Locator {
    return this.page.locator('.labrig-SnapshotView').last();
  }

  get snapshotHeader(): Locator {
    return this.snapshot.getByTestId('labrig-snapshot-header');
  }

  get snapshotCells(): Locator {
    return this.snapshot.locator('.jp-Cell');
  }

  /** The comparison tab in the main area (the newest one). */
  get compare(): Locator {
    return this.page.getByTestId('labrig-compare').last();
  }

  compareRow(table: 'parameters' | 'metrics', name: string): Locator {
    return this.compare
      .getByTestId(`labrig-compare-${table}`)
      .getByTestId('labrig-compare-row')
      .filter({ has: this.page.locator('th', { hasText: new RegExp(`^${name}`) }) });
  }

  /** The plot of the overlaid metric curves. */
  get comparePlot(): Locator {
    return this.compare.getByTestId('labrig-compare-plot');
  }

  /** One line per overlaid curve (Vega draws each series as a path of its line mark). */
  get compareCurves(): Locator {
    return this.comparePlot.locator('.mark-line path');
  }

  /** What a link said when its target was gone. */
  gone(scope: Locator): Locator {
    return scope.getByTestId('labrig-link-gone');
  }
}
