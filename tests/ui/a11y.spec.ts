/**
 * The panel with the keyboard alone: Tab reaches each section's main controls, each has an
 * accessible name, focus is visible, Enter/Space act and Escape closes what opened; and the
 * panel in JupyterLab's light and dark themes (screenshots kept as test artifacts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import { LabrigPanelPage } from './pages/labrig-panel';
import { ModelsPage } from './pages/models';

const API = '/labrig/api/v1';
const DATASET = 'a11y-data';
const MODEL = 'a11y-model';

interface IStop {
  mark: string | null;
  tag: string;
  name: string;
  focusRing: boolean;
}

/** Where focus is now, what it is called and whether it shows a focus ring. */
function focused(page: IJupyterLabPageFixture): Promise<IStop | null> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || !el.closest('#labrig-panel')) {
      return null;
    }
    const labelled = el.getAttribute('aria-labelledby');
    const label =
      el.getAttribute('aria-label') ||
      (labelled ? document.getElementById(labelled)?.textContent : '') ||
      ((el as HTMLInputElement).labels?.[0]?.textContent ?? '') ||
      el.getAttribute('title') ||
      el.textContent ||
      el.getAttribute('placeholder') ||
      '';
    const style = getComputedStyle(el);
    const ring =
      (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) ||
      style.boxShadow !== 'none';
    return {
      mark: el.dataset.a11yMark ?? null,
      tag: el.tagName.toLowerCase(),
      name: label.trim(),
      focusRing: ring
    };
  });
}

/** A dataset and a model version, so each section has its controls. */
async function seed(page: IJupyterLabPageFixture, tmpPath: string, source: string): Promise<void> {
  const dataset = await page.request.post(`${API}/datasets`, {
    data: { name: DATASET, source_url: `file://${source}` }
  });
  expect([201, 409]).toContain(dataset.status());
  expect(await page.contents.uploadContent('weights', 'text', `${tmpPath}/w.bin`)).toBe(true);
  const version = await page.request.post(`${API}/models/${MODEL}/versions`, {
    data: { path: `${tmpPath}/w.bin`, metrics: { acc: 0.5 } }
  });
  expect(version.status()).toBe(201);
}

async function mark(locator: Locator, name: string): Promise<void> {
  await expect(locator).toBeVisible();
  await locator.evaluate((el, value) => {
    (el as HTMLElement).dataset.a11yMark = value;
  }, name);
}

test.describe('keyboard and themes', () => {
  let source: string;

  test.beforeAll(() => {
    source = fs.mkdtempSync(path.join(os.tmpdir(), 'labrig-ui-a11y-'));
    fs.writeFileSync(path.join(source, 'a.csv'), 'a\n1\n');
  });

  test.afterAll(() => {
    fs.rmSync(source, { recursive: true, force: true });
  });

  // The datasets spec expects the catalog it leaves behind to be empty.
  test.afterEach(async ({ page }) => {
    await page.request.delete(`${API}/datasets/${DATASET}`);
  });

  test('Tab reaches every section, each control named, focus visible', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(180 * 1000);
    // Something in each section, and a notebook in focus for the Resources section.
    await seed(page, tmpPath, source);
    await page.notebook.createNew('a11y.ipynb');

    const panel = new LabrigPanelPage(page);
    await panel.open();
    await panel.root.getByRole('button', { name: 'Refresh' }).click();
    const root = panel.root;
    const controls: Array<[string, Locator]> = [
      ['refresh', root.getByRole('button', { name: 'Refresh' })],
      ['resources', root.getByRole('button', { name: /^Resources/ })],
      ['profile', panel.section('resources').getByRole('combobox', { name: 'Profile' })],
      ['apply', panel.section('resources').getByRole('button', { name: 'Apply' })],
      ['datasets', root.getByRole('button', { name: /^Datasets/ })],
      [
        'warm',
        root.getByRole('button', { name: `Warm ${DATASET}: fetch every file into the cache` })
      ],
      ['used-by', root.getByRole('button', { name: `Who uses ${DATASET}` })],
      ['dataset-name', root.getByRole('textbox', { name: 'Dataset name' })],
      ['source-url', root.getByRole('textbox', { name: 'Source URL' })],
      ['jobs', root.getByRole('button', { name: /^Jobs/ })],
      ['models', root.getByRole('button', { name: /^Models/ })],
      ['model', panel.model(MODEL).getByRole('button', { name: MODEL })],
      ['new-model', root.getByRole('button', { name: 'New model' })]
    ];
    for (const [name, locator] of controls) {
      await mark(locator, name);
    }

    // Tab from the top of the panel to its end (reached with the keyboard, so the browser
    // shows focus as it would to a keyboard user).
    await controls[0][1].focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    await expect(controls[0][1]).toBeFocused();
    const stops: IStop[] = [];
    for (let i = 0; i < 150; i++) {
      const stop = await focused(page);
      if (!stop) {
        break;
      }
      stops.push(stop);
      await page.keyboard.press('Tab');
    }
    const reached = stops.map(stop => stop.mark).filter(Boolean);
    expect(reached).toEqual(controls.map(([name]) => name));
    expect(stops.filter(stop => !stop.name)).toEqual([]);
    expect(stops.filter(stop => !stop.focusRing)).toEqual([]);

    // Enter opens "New model", Escape closes it and gives focus back.
    const newModel = root.getByRole('button', { name: 'New model' });
    await newModel.focus();
    await page.keyboard.press('Enter');
    await expect(panel.newModelForm.getByRole('textbox', { name: 'Name' })).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(panel.newModelForm).toBeHidden();
    await expect(newModel).toBeFocused();

    // Space opens a model; Enter opens its filters; Escape takes back a delete.
    await panel.model(MODEL).getByRole('button', { name: MODEL }).focus();
    await page.keyboard.press('Space');
    const models = new ModelsPage(page);
    const filter = panel.section('models').getByRole('button', { name: 'Filter versions' });
    await filter.focus();
    await page.keyboard.press('Enter');
    await expect(filter).toHaveAttribute('aria-expanded', 'true');
    await expect(models.filters.getByRole('textbox', { name: 'Metrics' })).toBeVisible();
    const remove = panel.section('models').getByRole('button', { name: 'Delete model' });
    await remove.focus();
    await page.keyboard.press('Enter');
    await expect(panel.section('models').getByRole('button', { name: 'Cancel' })).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(remove).toBeFocused();
    await expect(page.request.get(`${API}/models/${MODEL}`)).resolves.toBeOK();
  });

  test('a bad filter or tag shows its message beside the field, and nothing is created', async ({
    page,
    tmpPath
  }) => {
    await seed(page, tmpPath, source);
    const panel = new LabrigPanelPage(page);
    const models = new ModelsPage(page);
    await panel.open();
    await panel.root.getByRole('button', { name: 'Refresh' }).click();
    await models.openModel(MODEL);
    await panel.section('models').getByRole('button', { name: 'Filter versions' }).click();
    const metrics = models.filters.getByRole('textbox', { name: 'Metrics' });
    await metrics.fill('acc>=high');
    await models.filters.getByRole('button', { name: 'Filter' }).click();
    await expect(metrics).toHaveAttribute('aria-invalid', 'true');
    await expect(models.filters.getByTestId('labrig-field-error-metric')).toContainText(
      "'high' is not a finite number"
    );
    await expect(metrics).toHaveValue('acc>=high');

    // The server refuses a tag it cannot store; the model is not half-created.
    const name = `tagged-${Date.now()}`;
    await panel.section('models').getByRole('button', { name: '← Models' }).click();
    await panel.section('models').getByRole('button', { name: 'New model' }).click();
    const form = panel.newModelForm;
    await form.getByRole('textbox', { name: 'Name' }).fill(name);
    await form.getByRole('textbox', { name: 'Tags' }).fill(`${'k'.repeat(300)}=v`);
    await form.getByRole('button', { name: 'Create' }).click();
    await expect(form.getByTestId('labrig-field-error-tags')).toContainText('is not allowed');
    await expect(form.getByRole('textbox', { name: 'Tags' })).toHaveAttribute(
      'aria-invalid',
      'true'
    );
    await expect(form.getByRole('textbox', { name: 'Name' })).toHaveValue(name);
    expect((await page.request.get(`${API}/models/${name}`)).status()).toBe(404);
  });

  test('screenshots of the panel in the light and the dark theme', async ({
    page,
    tmpPath
  }, testInfo) => {
    await seed(page, tmpPath, source);
    const panel = new LabrigPanelPage(page);
    await panel.open();
    await panel.root.getByRole('button', { name: 'Refresh' }).click();
    await expect(panel.model(MODEL)).toBeVisible();
    const shots: Array<[string, string]> = [
      ['JupyterLab Light', 'true'],
      ['JupyterLab Dark', 'false'],
      ['JupyterLab Light', 'true']
    ];
    const colours: string[] = [];
    for (const [theme, light] of shots.slice(0, 2)) {
      await page.evaluate(async name => {
        await (window as any).jupyterapp.commands.execute('apputils:change-theme', {
          theme: name
        });
      }, theme);
      await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', light);
      await panel.open();
      await page.mouse.move(900, 700);
      // Tall enough for the whole panel in one picture.
      await page.setViewportSize({ width: 1280, height: 1600 });
      const file = testInfo.outputPath(`labrig-panel-${light === 'true' ? 'light' : 'dark'}.png`);
      await panel.root.screenshot({ path: file });
      await testInfo.attach(path.basename(file), { path: file, contentType: 'image/png' });
      colours.push(await panel.root.evaluate(node => getComputedStyle(node).color));
    }
    expect(colours[0]).not.toBe(colours[1]);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.evaluate(async () => {
      await (window as any).jupyterapp.commands.execute('apputils:change-theme', {
        theme: 'JupyterLab Light'
      });
    });
    await expect(page.locator('body')).toHaveAttribute('data-jp-theme-light', shots[2][1]);
  });
});
