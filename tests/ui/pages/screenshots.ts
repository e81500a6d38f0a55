/**
 * Numbered screenshots of a scenario, kept as test artifacts (tests/ui/test-results/...) and
 * attached to the HTML report. With LABRIG_DOCS_SCREENSHOTS=1 the ones the docs show are also
 * written to docs/img/ (and the README's to docs/panel.png), replacing the committed ones.
 */
import * as fs from 'fs';
import * as path from 'path';

import { TestInfo } from '@playwright/test';
import { Locator, Page } from '@playwright/test';

const DOCS = path.resolve(__dirname, '..', '..', '..', 'docs');

export class Screenshots {
  constructor(readonly testInfo: TestInfo) {}

  /**
   * Screenshot `target` (a page: the whole window; a locator: that element) as `NN-name.png`.
   * `docs` names the file under docs/ it replaces when LABRIG_DOCS_SCREENSHOTS=1.
   */
  async take(name: string, target: Page | Locator, docs?: string): Promise<string> {
    this._count += 1;
    const file = this.testInfo.outputPath(`${String(this._count).padStart(2, '0')}-${name}.png`);
    await target.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
    await this.testInfo.attach(name, { path: file, contentType: 'image/png' });
    if (docs && process.env.LABRIG_DOCS_SCREENSHOTS === '1') {
      const dest = path.join(DOCS, docs);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(file, dest);
    }
    return file;
  }

  private _count = 0;
}
